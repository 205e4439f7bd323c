/**
 * Local target: the final image runs as a VM on this machine instead of Glance + Nova (driver: driver.ts),
 * in <buildDir>/local-vm/<name>/, with a NoCloud seed carrying the first-boot user-data. Two runners (`provider`):
 * - `vagrant-libvirt` (vagrant-libvirt.ts): a per-VM Vagrant box made from the cached image, `vagrant up`
 *   on libvirt; login only with a per-VM key made by the driver (never in the image, never in the state); an
 *   optional private IP; `dataDir` as a 9p synced folder at /srv/data.
 * - `qemu` (qemu.ts): a qcow2 overlay on the cached image, QEMU user networking; `dataDir` as the 9p tag `jhvm-data`
 *   (mounted at /srv/data by cloud-init); the data disk (data-disk.ts), when there is one, as a second virtio disk.
 * Either way the hub is on http://127.0.0.1:<httpPort>/ (forwarded to the guest's port 80, plus `forwardPorts`).
 * `pulumi destroy` removes the VM, its box and box volume (Vagrant) and its directory; the image stays cached.
 */
import * as pulumi from "@pulumi/pulumi";
import { StageDirs, contentHash, runStage } from "../../stages/runner";
import { LOCAL_VM, LocalVmSettings } from "./settings";

/** The VM's settings as settings.ts documents them, the image it runs, and where its files go (no cache entry). */
export interface LocalVmArgs
  extends
    Pick<
      LocalVmSettings,
      "provider" | "libvirtUri" | "httpPort" | "dataDir" | "memoryMb" | "cpus" | "accelerator" | "name"
    >,
    Required<Pick<LocalVmSettings, "hubPath" | "waitForHub" | "readyTimeoutSec">>,
    Omit<StageDirs, "keepCache"> {
  readonly image: {
    readonly path: pulumi.Input<string>;
    readonly sha256: pulumi.Input<string>;
    readonly format: pulumi.Input<string>;
  };
  readonly ip: string;
  readonly forwardPorts: readonly string[];
  /** #cloud-config for the VM's first boot (NoCloud seed), secret; absent: none */
  readonly userData?: pulumi.Input<string>;
  /** qemu: the persistent data disk's path (data-disk.ts); absent: none */
  readonly dataDisk?: pulumi.Input<string>;
}

export class LocalVm extends pulumi.ComponentResource {
  public readonly hubUrl: pulumi.Output<string>;
  public readonly vmName: pulumi.Output<string>;
  /** the VM's address: `ip`, the DHCP lease on Vagrant's management network, or 127.0.0.1 for qemu */
  public readonly localIp: pulumi.Output<string>;

  constructor(name: string, args: LocalVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:local:LocalVm", name, {}, opts);
    const vm = {
      provider: args.provider,
      ip: args.ip,
      libvirtUri: args.libvirtUri,
      httpPort: args.httpPort,
      forwardPorts: args.forwardPorts,
      dataDir: args.dataDir,
      memoryMb: args.memoryMb,
      cpus: args.cpus,
      name: args.name,
    };
    // Every VM setting replaces the VM (it is cheap to re-create from the box; users' data lives in dataDir or on the
    // data disk), and so does the first boot's user-data (a new admin password, authenticator or DNS name takes
    // effect only at a first boot, as on a cloud server). The hub's path comes with the image (hub.baseUrl rebuilds
    // it); how long create waits for the hub changes nothing. The data disk joins the VM's settings only when there
    // is one. The user-data enters as its sha256 (the key is secret with it anyway: it is made from a secret).
    const key = pulumi
      .all([args.image.sha256, args.dataDisk, args.userData ?? ""])
      .apply(([sha, dataDisk, userData]) =>
        contentHash({ stage: "local-vm", v: 2, image: sha, vm: { ...vm, dataDisk }, userData: contentHash(userData) }),
      );
    const { result } = runStage(
      `${name}-vm`,
      {
        stage: LOCAL_VM,
        key,
        settings: pulumi
          .all([args.image.path, args.image.sha256, args.image.format, args.userData ?? "", args.dataDisk])
          .apply(([p, sha, format, userData, dataDisk]) => ({
            imagePath: p,
            imageSha256: sha,
            imageFormat: format,
            userData,
            accelerator: args.accelerator,
            hubPath: args.hubPath,
            waitForHub: args.waitForHub,
            readyTimeoutSec: args.readyTimeoutSec,
            ...vm,
            dataDisk,
          })),
        // the VM is not a cache entry: delete always removes it
        dirs: { buildDir: args.buildDir, cacheDir: args.cacheDir, keepCache: false },
      },
      // the old and the new VM share the directory and the port: stop the old one before starting the new one
      { parent: this, deleteBeforeReplace: true },
    );
    // the result is secret when the settings hold the user-data; these fields are not
    this.hubUrl = pulumi.unsecret(result.apply((r) => String(r.hubUrl)));
    this.vmName = pulumi.unsecret(result.apply((r) => String(r.vmName)));
    this.localIp = pulumi.unsecret(result.apply((r) => String(r.localIp ?? "")));
    this.registerOutputs({ hubUrl: this.hubUrl, vmName: this.vmName, localIp: this.localIp });
  }
}
