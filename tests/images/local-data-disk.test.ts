// The local target's persistent data disk, its driver alone: targets/local/data-disk-driver.ts makes the sparse qcow2
// in <buildDir>/local-data/ (outside the VM directory), keeps an existing one as it is (never resized), and its
// delete keeps it (local.keepDataDisk) or removes it. What a guest does with it — QEMU attaching it by its serial,
// the first boot formatting it (ext4, label jhvm-data) and keeping /home and /srv/data on it, a replacement VM finding
// the same file system and the users' files — is checked on the hub's own guest, through `pulumi up` of a local
// stack with a data disk (tests/e2e/local-hub.test.ts; it was two boots of a small test image here).
import * as fs from "fs";
import * as path from "path";
import { REPO, sh, tempDir } from "../support";

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const GIB = 1024 ** 3;

let tmp = "";
let diskFile = "";
let diskSettingsFile = "";

function writeDiskSettings(over: Record<string, unknown> = {}) {
  const settings = {
    stage: "local-data-disk",
    buildDir: path.join(tmp, "build"),
    cacheDir: path.join(tmp, "cache"),
    keepCache: false,
    path: diskFile,
    sizeGb: 1,
    keep: true,
    ...over,
  };
  fs.writeFileSync(diskSettingsFile, JSON.stringify(settings));
}

const diskDriver = (action: "create" | "delete") =>
  sh(process.execPath, [TSX, path.join(REPO, "targets/local/data-disk-driver.ts"), action], {
    JHVM_SETTINGS: diskSettingsFile,
    JHVM_KEY: "data-disk-test-key",
  });

beforeAll(() => {
  tmp = tempDir("jhvm-data-disk-");
  diskFile = path.join(tmp, "build", "local-data", "jhvm-dd-vm.qcow2");
  diskSettingsFile = path.join(tmp, "disk.json");
  writeDiskSettings();
});

describe("the local data disk's driver (qemu runner)", () => {
  test("made once as a sparse qcow2 outside the VM directory; made again, it is kept as it is", () => {
    const r = diskDriver("create");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop() as string)).toEqual({ path: diskFile, sha256: "", size: GIB });
    expect(fs.statSync(diskFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(diskFile).size).toBeLessThan(16 << 20); // sparse: nothing written yet
    const info = JSON.parse(sh("qemu-img", ["info", "--output=json", diskFile]).stdout);
    expect([info.format, info["virtual-size"]]).toEqual(["qcow2", GIB]);
    writeDiskSettings({ sizeGb: 2 });
    const again = diskDriver("create");
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("kept at 1 GiB (local.dataDiskGb asks 2: an existing disk is never resized here)");
    writeDiskSettings();
  });

  test("delete keeps the disk (keep), or removes it (keep: false)", () => {
    expect(diskDriver("delete").code).toBe(0);
    expect(fs.existsSync(diskFile)).toBe(true);
    writeDiskSettings({ keep: false });
    const r = diskDriver("delete");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("deleted (local.keepDataDisk: false)");
    expect(fs.existsSync(diskFile)).toBe(false);
  });
});
