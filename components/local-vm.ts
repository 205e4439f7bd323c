/**
 * Local target: the final image runs as a QEMU VM on this machine instead of Glance + Nova (driver:
 * drivers/local-vm.ts): a qcow2 overlay on the cached image in <buildDir>/local-vm/<name>/, a NoCloud seed with the
 * first-boot user-data, user-mode networking with only 127.0.0.1:<httpPort> forwarded to the guest's port 80. The hub
 * is reachable on http://127.0.0.1:<httpPort>/; an optional host folder is shared as the 9p tag `jhvm-data` (mounted
 * at /srv/data by cloud-init). `pulumi destroy` stops the VM and removes its directory (the image stays cached).
 */
import * as pulumi from "@pulumi/pulumi";
import { contentHash, runStage } from "./stage";

export interface LocalVmArgs {
  readonly image: {
    readonly path: pulumi.Input<string>;
    readonly sha256: pulumi.Input<string>;
    readonly format: pulumi.Input<string>;
  };
  readonly provider: "qemu";
  readonly ip: string;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly accelerator: string;
  readonly name: string;
  /** #cloud-config for the VM's first boot (NoCloud seed), secret; absent: none */
  readonly userData?: pulumi.Input<string>;
  readonly buildDir: string;
  readonly cacheDir: string;
}

export class LocalVm extends pulumi.ComponentResource {
  public readonly hubUrl: pulumi.Output<string>;
  public readonly vmName: pulumi.Output<string>;

  constructor(name: string, args: LocalVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:local:LocalVm", name, {}, opts);
    const vm = {
      provider: args.provider,
      ip: args.ip,
      httpPort: args.httpPort,
      dataDir: args.dataDir,
      memoryMb: args.memoryMb,
      cpus: args.cpus,
      name: args.name,
    };
    // Every VM setting replaces the VM (it is cheap to re-create from the box; users' data lives in dataDir).
    const key = pulumi
      .output(args.image.sha256)
      .apply((sha) => contentHash({ stage: "local-vm", v: 1, image: sha, vm }));
    const { result } = runStage(
      `${name}-vm`,
      {
        stage: "local-vm",
        key,
        settings: pulumi
          .all([args.image.path, args.image.sha256, args.image.format, args.userData ?? ""])
          .apply(([p, sha, format, userData]) => ({
            imagePath: p,
            imageSha256: sha,
            imageFormat: format,
            userData,
            accelerator: args.accelerator,
            ...vm,
          })),
        buildDir: args.buildDir,
        cacheDir: args.cacheDir,
        // the VM is not a cache entry: delete always removes it
        keepCache: false,
      },
      // the old and the new VM share the directory and the port: stop the old one before starting the new one
      { parent: this, deleteBeforeReplace: true },
    );
    this.hubUrl = result.apply((r) => String(r.hubUrl));
    this.vmName = result.apply((r) => String(r.vmName));
    this.registerOutputs({ hubUrl: this.hubUrl, vmName: this.vmName });
  }
}
