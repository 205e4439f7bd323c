// The local target's persistent data disk, for real: targets/local/data-disk-driver.ts makes the sparse qcow2 in
// <buildDir>/local-data/ (outside the VM directory), targets/local/driver.ts (qemu runner, TCG) attaches it as a
// virtio disk with serial jhvm-data, and the user-data the program renders (cloud-init/render.ts stackUserData with
// the data volume, as targets/local/index.ts passes it) makes the first boot format it (ext4, label jhvm-data) and
// keep /home and /srv/data on it. Then the VM is replaced (deleted and made again from the image, as a new image
// or changed VM settings do) on the same disk: the new VM mounts the same file system (same UUID, not formatted
// again) and serves a file written to it in between. The disk's delete keeps it (keep) or removes it.
// The guest is the local-VM test image (tests/images/local-vm-test-image.sh: Debian 12 with cloud-init; its web
// unit serves /srv/data as /data/ and the guest's /proc/mounts as /mounts.txt), not the hub image: the hub's own
// first boot on a data disk is the next step (what a user's identity consists of must live there too).
// Needs root (loop devices), QEMU and xorriso (tests/images/install-deps.sh).
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { newPasswordSalt, stackUserData } from "../../cloud-init/render";
import { sha256FileSync } from "../../stages/file-hash";
import { DATA_DISK_DEVICE, DATA_DISK_SERIAL } from "../../targets/local/settings";
import { hubSettings } from "../hub/hub-image";
import { REPO, freePort, sh, tempDir } from "../support";

const MINUTE = 60_000;
jest.setTimeout(20 * MINUTE);

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const GIB = 1024 ** 3;

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: r.status, body: await r.text() };
  } catch {
    return undefined;
  }
}

let tmp = "";
let buildDir = "";
let port = 0;
let diskFile = "";
let vmSettingsFile = "";
let diskSettingsFile = "";
const vmName = "jhvm-dd-vm";

function writeDiskSettings(over: Record<string, unknown> = {}) {
  const settings = {
    stage: "local-data-disk",
    buildDir,
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

const vmDriver = (action: "create" | "delete") => {
  const t0 = Date.now();
  const r = sh(process.execPath, [TSX, path.join(REPO, "targets/local/driver.ts"), action], {
    JHVM_SETTINGS: vmSettingsFile,
    JHVM_KEY: "data-disk-vm-key",
  });
  console.log(`vm ${action}: exit ${r.code} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n${r.stderr.slice(-2000)}`);
  if (r.code !== 0) throw new Error(`vm ${action} failed:\n${r.stderr.slice(-4000)}`);
  return r;
};

/** The guest's mounts (its web unit's /mounts.txt) once `ready` holds for them, polled for up to 5 min. */
async function guestMounts(ready: (mounts: string) => boolean): Promise<string> {
  const t0 = Date.now();
  let last = "";
  while (Date.now() - t0 < 5 * MINUTE) {
    const r = await get(`http://127.0.0.1:${port}/mounts.txt`);
    if (r?.status === 200) {
      last = r.body;
      if (ready(last)) return last;
    }
    await new Promise((res) => setTimeout(res, 3000));
  }
  throw new Error(`the guest's mounts never showed the data disk; last /proc/mounts:\n${last}`);
}

/** The data disk's file system, read on the host from a raw copy: blkid's fields, and `fn` run on it mounted. */
function onDiskCopy<T>(fn: (mnt: string) => T, writable = false): { fields: Record<string, string>; value: T } {
  const raw = path.join(tmp, "disk.raw");
  const mnt = path.join(tmp, "mnt");
  fs.mkdirSync(mnt, { recursive: true });
  expect(sh("qemu-img", ["convert", "-O", "raw", diskFile, raw]).code).toBe(0);
  try {
    const blkid = sh("blkid", ["-o", "export", raw]).stdout;
    const fields = Object.fromEntries(
      blkid
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const m = sh("mount", ["-o", writable ? "loop" : "ro,loop", raw, mnt]);
    if (m.code !== 0) throw new Error(`mount failed: ${m.stderr}`);
    let value: T;
    try {
      value = fn(mnt);
    } finally {
      sh("umount", [mnt]);
    }
    // a change goes back into the qcow2, as if a guest had written it
    if (writable) expect(sh("qemu-img", ["convert", "-O", "qcow2", raw, diskFile]).code).toBe(0);
    return { fields, value };
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

const hasDataDisk = (m: string) =>
  ["/srv/jhvm-data", "/home", "/srv/data"].every((dir) => new RegExp(`^/dev/vd[b-z] ${dir} ext4 `, "m").test(m));

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("this test needs root (loop devices)");
  const deps = sh("bash", [path.join(REPO, "tests/images/install-deps.sh")]);
  if (deps.code !== 0) throw new Error(`install-deps.sh failed:\n${deps.stdout}${deps.stderr}`);
  const img = sh("bash", [path.join(REPO, "tests/images/local-vm-test-image.sh")]);
  if (img.code !== 0) throw new Error(`local-vm-test-image.sh failed:\n${img.stderr}`);
  const image = img.stdout.trim().split("\n").pop() as string;
  tmp = tempDir("jhvm-data-disk-");
  buildDir = path.join(tmp, "build");
  diskFile = path.join(buildDir, "local-data", `${vmName}.qcow2`);
  diskSettingsFile = path.join(tmp, "disk.json");
  vmSettingsFile = path.join(tmp, "vm.json");
  port = await freePort();
  writeDiskSettings();
  const vm = {
    stage: "local-vm",
    buildDir,
    cacheDir: path.join(tmp, "cache"),
    keepCache: false,
    provider: "qemu",
    imagePath: image,
    imageSha256: sha256FileSync(image),
    imageFormat: "qcow2",
    // the program's user-data for a stack with a data disk (targets/local/index.ts)
    userData: stackUserData(hubSettings({}), `Pw-${randomBytes(6).toString("hex")}`, newPasswordSalt(), {
      dataVolume: { device: DATA_DISK_DEVICE },
    }),
    accelerator: "tcg",
    ip: "",
    httpPort: port,
    dataDir: "",
    dataDisk: diskFile,
    memoryMb: 768,
    cpus: 1,
    name: vmName,
    restrictNetwork: true,
    stopTimeoutSec: 60,
    waitForHub: false,
  };
  fs.writeFileSync(vmSettingsFile, JSON.stringify(vm), { mode: 0o600 });
});

afterAll(() => {
  if (fs.existsSync(path.join(buildDir, "local-vm", vmName))) vmDriver("delete");
});

describe("the local data disk (qemu runner, real guest)", () => {
  let uuid = "";

  test("made once as a sparse qcow2 outside the VM directory; made again, it is kept as it is", () => {
    const r = diskDriver("create");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop() as string)).toEqual({ path: diskFile, sha256: "", size: GIB });
    expect(fs.statSync(diskFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(diskFile).size).toBeLessThan(16 << 20); // sparse: nothing written yet
    writeDiskSettings({ sizeGb: 2 });
    const again = diskDriver("create");
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("kept at 1 GiB (local.dataDiskGb asks 2: an existing disk is never resized here)");
    writeDiskSettings();
  });

  test("the first boot formats it (ext4, label jhvm-data) and keeps /home and /srv/data on it", async () => {
    vmDriver("create");
    const cmd = fs.readFileSync(
      `/proc/${fs.readFileSync(path.join(buildDir, "local-vm", vmName, "qemu.pid"), "utf8").trim()}/cmdline`,
      "utf8",
    );
    expect(cmd).toContain(`serial=${DATA_DISK_SERIAL}`);
    try {
      console.log(`guest mounts:\n${await guestMounts(hasDataDisk)}`);
    } finally {
      vmDriver("delete");
    }
    expect(fs.existsSync(diskFile)).toBe(true); // deleting the VM never touches the disk
    const { fields, value } = onDiskCopy((mnt) => fs.readdirSync(mnt).sort());
    expect(fields).toMatchObject({ TYPE: "ext4", LABEL: "jhvm-data" });
    expect(value).toEqual(expect.arrayContaining(["data", "home"]));
    uuid = fields.UUID;
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("a replacement VM mounts the same file system (not formatted again) and serves what is on it", async () => {
    const text = `written between the two VMs ${randomBytes(6).toString("hex")}\n`;
    onDiskCopy((mnt) => fs.writeFileSync(path.join(mnt, "data", "marker.txt"), text), true);
    vmDriver("create");
    try {
      await guestMounts(hasDataDisk);
      expect(await get(`http://127.0.0.1:${port}/data/marker.txt`)).toEqual({ status: 200, body: text });
    } finally {
      vmDriver("delete");
    }
    expect(onDiskCopy(() => undefined).fields.UUID).toBe(uuid);
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
