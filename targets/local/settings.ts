/** The local VM's settings: what local-vm.ts writes and driver.ts (with its runners) reads (see stages/contract.ts). */
import { DriverSettings, stageDef } from "../../stages/contract";

export interface LocalVmSettings {
  /** the runner: qemu.ts or vagrant-libvirt.ts */
  readonly provider: "qemu" | "vagrant-libvirt";
  readonly imagePath: string;
  readonly imageSha256: string;
  readonly imageFormat: string;
  /** #cloud-config for the first boot (NoCloud seed user-data); empty: an empty #cloud-config */
  readonly userData: string;
  readonly accelerator: string;
  /** vagrant-libvirt: a private IP (empty: DHCP on the management network); ignored by qemu */
  readonly ip?: string;
  /** vagrant-libvirt: the libvirt connection (default qemu:///system) */
  readonly libvirtUri?: string;
  readonly httpPort: number;
  /** more "HOST:GUEST" forwards on 127.0.0.1 */
  readonly forwardPorts?: readonly string[];
  /** host folder mounted at /srv/data in the guest; empty: none */
  readonly dataDir: string;
  /** qemu: the persistent data disk (data-disk.ts), attached as a virtio disk with serial DATA_DISK_SERIAL; absent: none */
  readonly dataDisk?: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly name: string;
  /** qemu: isolate the guest (QEMU `restrict=on`): no traffic from the guest to the host or beyond; forwards work */
  readonly restrictNetwork?: boolean;
  /** qemu: seconds delete waits for the guest to power off before SIGTERM (default 60) */
  readonly stopTimeoutSec?: number;
  /** the hub's base URL path (hub.baseUrl): the hub is at http://127.0.0.1:<httpPort><hubPath> (default "/") */
  readonly hubPath?: string;
  /** create returns only once <hub>hub/api answers, within readyTimeoutSec; on timeout the new VM is stopped */
  readonly waitForHub?: boolean;
  readonly readyTimeoutSec?: number;
}

/** What the runners read: the settings plus the stage's buildDir (the VM directory is <buildDir>/local-vm/<name>). */
export type VmSettings = DriverSettings<LocalVmSettings>;

/** The serial console's file in the VM directory (both runners write it). */
export const CONSOLE_LOG = "console.log";

export const LOCAL_VM = stageDef<LocalVmSettings>("local-vm", "targets/local/driver.ts");

/** The local data disk's settings: what data-disk.ts writes and data-disk-driver.ts reads. */
export interface LocalDataDiskSettings {
  /** the qcow2, in <buildDir>/local-data/ (outside every VM directory) */
  readonly path: string;
  /** its size when it is made (GiB); an existing disk keeps its size */
  readonly sizeGb: number;
  /** false: delete removes the disk and the files on it */
  readonly keep: boolean;
}

export const LOCAL_DATA_DISK = stageDef<LocalDataDiskSettings>("local-data-disk", "targets/local/data-disk-driver.ts");

/** The virtio serial of the data disk: the guest sees it as /dev/disk/by-id/virtio-<serial> (at most 20 bytes). */
export const DATA_DISK_SERIAL = "jhvm-data";
