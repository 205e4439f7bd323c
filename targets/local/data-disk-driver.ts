/**
 * The local data disk's driver (run by data-disk.ts's command; the stage plumbing is stages/driver.ts):
 * create: makes the sparse qcow2 (`qemu-img create`) when it does not exist; an existing disk is kept as it is, its
 *   files untouched, whatever size is asked (growing a disk in use is not safe: `qemu-img resize` it with the VM
 *   stopped, then `resize2fs` in the guest). The result's `size` is the disk's virtual size.
 * delete: keeps the disk (settings.keep, the default) or removes it; only a file in a `local-data` folder.
 */
import * as fs from "fs";
import * as path from "path";
import { StageError, main } from "../../stages/driver";
import { LOCAL_DATA_DISK } from "./settings";

const GIB = 1024 ** 3;

function inDataFolder(file: string): boolean {
  return path.basename(path.dirname(path.resolve(file))) === "local-data" && file.endsWith(".qcow2");
}

main(LOCAL_DATA_DISK, {
  cacheable: false,
  async create(stage) {
    const s = stage.settings;
    if (!inDataFolder(s.path)) throw new StageError(`refusing ${s.path}: not a <buildDir>/local-data/*.qcow2 file`);
    if (!Number.isInteger(s.sizeGb) || s.sizeGb < 1) throw new StageError(`invalid data disk size ${s.sizeGb} GiB`);
    if (!fs.existsSync(s.path)) {
      fs.mkdirSync(path.dirname(s.path), { recursive: true, mode: 0o700 });
      await stage.run("qemu-img", ["create", "-q", "-f", "qcow2", s.path, `${s.sizeGb}G`]);
      fs.chmodSync(s.path, 0o600);
      stage.log(`data disk ${s.path} made (${s.sizeGb} GiB, sparse; formatted by the guest's first boot)`);
    }
    // -U: the running VM holds the disk's lock; reading its header is safe
    const info = JSON.parse(await stage.run("qemu-img", ["info", "-U", "--output=json", s.path], { quiet: true })) as {
      "virtual-size": number;
      format: string;
    };
    if (info.format !== "qcow2") throw new StageError(`${s.path} is ${info.format}, not a qcow2 data disk`);
    const size = info["virtual-size"];
    if (size !== s.sizeGb * GIB)
      stage.log(
        `data disk ${s.path} kept at ${size / GIB} GiB (local.dataDiskGb asks ${s.sizeGb}: an existing disk is never resized here)`,
      );
    else stage.log(`data disk ${s.path} (${size / GIB} GiB)`);
    return { path: s.path, sha256: "", size };
  },
  async delete(stage) {
    const s = stage.settings;
    if (s.keep) {
      stage.log(`data disk ${s.path} kept (local.keepDataDisk); a stack with the same name finds it again`);
      return;
    }
    if (!inDataFolder(s.path))
      throw new StageError(`refusing to delete ${s.path}: not a <buildDir>/local-data/*.qcow2`);
    fs.rmSync(s.path, { force: true });
    stage.log(`data disk ${s.path} deleted (local.keepDataDisk: false)`);
  },
});
