/**
 * The local target's persistent data disk (driver: data-disk-driver.ts), the local counterpart of a cloud's data
 * volume: a sparse qcow2 at <buildDir>/local-data/<vm name>.qcow2, its own resource, so replacing the VM (a new
 * image, other VM settings) never touches it. The VM attaches it as a virtio disk (serial DATA_DISK_SERIAL) and the
 * first boot's user-data formats it when blank and keeps /home and /srv/data on it (cloud-init/render.ts, the same
 * path as the cloud volume). `pulumi destroy` keeps it unless `keep` is false.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { StageDirs, contentHash, runStage } from "../../stages/runner";
import { LOCAL_DATA_DISK, LocalDataDiskSettings } from "./settings";

export interface LocalDataDiskArgs
  extends Pick<LocalDataDiskSettings, "sizeGb" | "keep">, Omit<StageDirs, "keepCache"> {
  /** the VM's name: the disk is <buildDir>/local-data/<vmName>.qcow2 */
  readonly vmName: string;
}

export class LocalDataDisk extends pulumi.ComponentResource {
  public readonly path: pulumi.Output<string>;
  /** virtual size in bytes (an existing disk keeps its size) */
  public readonly sizeBytes: pulumi.Output<number>;

  constructor(name: string, args: LocalDataDiskArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:local:LocalDataDisk", name, {}, opts);
    const file = path.join(args.buildDir, "local-data", `${args.vmName}.qcow2`);
    // only the file's place is the key: a new key would delete the disk (when keep is false) and make a new one;
    // size and keep are read from the settings file when the driver runs
    const settings: LocalDataDiskSettings = { path: file, sizeGb: args.sizeGb, keep: args.keep };
    const { result } = runStage(
      `${name}-disk`,
      {
        stage: LOCAL_DATA_DISK,
        key: contentHash({ stage: "local-data-disk", v: 1, path: file }),
        settings,
        dirs: { buildDir: args.buildDir, cacheDir: args.cacheDir, keepCache: false },
      },
      { parent: this },
    );
    this.path = result.apply((r) => r.path);
    this.sizeBytes = result.apply((r) => r.size);
    this.registerOutputs({ path: this.path, sizeBytes: this.sizeBytes });
  }
}
