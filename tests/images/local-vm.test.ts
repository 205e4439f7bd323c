// The local-target driver (targets/local/driver.ts) run for real, as the Pulumi program runs it
// (`node tsx targets/local/driver.ts create|delete` with JHVM_SETTINGS/JHVM_KEY), on a small bootable image:
// tests/images/local-vm-test-image.sh (the debootstrapped Debian 12 + a unit serving port 80 that exposes the
// seed CD-ROM at /seed/ and the 9p share at /data/). Under TCG, with a NoCloud seed and a data folder:
//  - create: the pidfile's QEMU runs with our VM dir; it listens on 127.0.0.1:<port> and nowhere else; the disk
//    is an overlay backed by the image; the seed ISO is labelled cidata, holds our user-data (0600, no plain copy
//    left); console.log exists; the guest answers HTTP 200 through the forward, serves the seed's user-data and
//    the shared folder's file (so the seed and the share reach the guest); the user-data is not in the stage log;
//  - a second VM on the same port is refused, naming the port, and leaves nothing behind;
//  - create run as an update (the previous result in PULUMI_COMMAND_STDOUT, as Pulumi runs it when only the
//    command line changed) keeps the VM running from the same settings (also one made by an older version, which
//    kept no record of them); with changed user-data or a changed setting it replaces it;
//  - delete (as on a replacement: the settings file already names another VM, the previous result names ours):
//    no QEMU left, VM dir gone; the image's sha256 is unchanged; delete again (and delete without the settings
//    file, as `pulumi destroy` from a fresh clone) succeed.
// Needs root (the image is made with loop devices) and QEMU + xorriso (tests/images/install-deps.sh).
// ~1.5-3 min on 2 shared cores (the guest boots in ~30-60 s under TCG).
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { sha256FileSync as sha256File } from "../../stages/file-hash";
import { freePort, REPO, tempDir } from "../support";

const MINUTE = 60_000;
jest.setTimeout(20 * MINUTE);

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const BOOT_TIMEOUT_S = Number(process.env.JHVM_LOCAL_VM_BOOT_TIMEOUT ?? "360");

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin`, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** Live (non-zombie) processes whose command line mentions s. */
function processesMentioning(s: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((p) => p !== process.pid && cmdline(p).some((a) => a.includes(s)));
}

async function httpGet(url: string): Promise<{ status: number; body: string } | string> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: r.status, body: await r.text() };
  } catch (e) {
    return (e as Error).message;
  }
}

describe("targets/local/driver.ts: the final image as a local QEMU VM", () => {
  let tmp = "";
  let image = "";
  let imageSha = "";
  let port = 0;
  let settingsFile = "";
  let settings: Record<string, unknown> = {};
  let vmDir = "";
  const key = "local-vm-test-key";
  const marker = `jhvm-local-vm-test-${randomBytes(8).toString("hex")}`;
  const userData = `#cloud-config\n# ${marker}\nhostname: jhvm-test\n`;
  const dataText = `data ${randomBytes(6).toString("hex")}\n`;
  let createResult: Record<string, unknown> = {};
  let created = false;

  const driver = (action: "create" | "delete", file = settingsFile, env: NodeJS.ProcessEnv = {}) => {
    const t0 = Date.now();
    const r = sh(process.execPath, [TSX, path.join(REPO, "targets/local/driver.ts"), action], {
      JHVM_SETTINGS: file,
      JHVM_KEY: key,
      ...env,
    });
    console.log(`driver ${action}: exit ${r.code} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (the test image is made with loop devices)");
    const deps = sh("bash", [path.join(REPO, "tests/images/install-deps.sh")]);
    if (deps.code !== 0) throw new Error(`install-deps.sh failed:\n${deps.stdout}${deps.stderr}`);
    const t0 = Date.now();
    const img = sh("bash", [path.join(REPO, "tests/images/local-vm-test-image.sh")]);
    if (img.code !== 0) throw new Error(`local-vm-test-image.sh failed:\n${img.stderr}`);
    image = img.stdout.trim().split("\n").pop() as string;
    console.log(`test image ${image} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    imageSha = sha256File(image);
    tmp = tempDir("jhvm-local-vm-");
    fs.mkdirSync(path.join(tmp, "data"));
    fs.writeFileSync(path.join(tmp, "data", "hello.txt"), dataText);
    port = await freePort();
    settings = {
      imagePath: image,
      imageSha256: imageSha,
      imageFormat: "qcow2",
      userData,
      accelerator: "tcg",
      provider: "qemu",
      ip: "",
      httpPort: port,
      dataDir: path.join(tmp, "data"),
      memoryMb: 768,
      cpus: 1,
      name: "jhvm-test-vm",
      // the guest gets no route out of QEMU (tests talk to 127.0.0.0/8 only); the forward still works
      restrictNetwork: true,
      stopTimeoutSec: 60,
      stage: "local-vm",
      buildDir: path.join(tmp, "build"),
      cacheDir: path.join(tmp, "cache"),
      keepCache: false,
    };
    settingsFile = path.join(tmp, "local-vm.json");
    fs.writeFileSync(settingsFile, JSON.stringify(settings), { mode: 0o600 });
    vmDir = path.join(tmp, "build", "local-vm", "jhvm-test-vm");
  });

  afterAll(() => {
    if (created && fs.existsSync(vmDir)) driver("delete");
  });

  test("create starts the VM on an overlay with the seed, the share and a 127.0.0.1-only forward", async () => {
    const r = driver("create");
    expect(r.code).toBe(0);
    created = true;
    createResult = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    expect(createResult).toMatchObject({
      path: path.join(vmDir, "overlay.qcow2"),
      sha256: imageSha,
      hubUrl: `http://127.0.0.1:${port}/`,
      vmName: "jhvm-test-vm",
    });
    expect(createResult.size).toBe(fs.statSync(path.join(vmDir, "overlay.qcow2")).size);

    // the pidfile's process is our QEMU, running from our VM dir
    const pid = Number(fs.readFileSync(path.join(vmDir, "qemu.pid"), "utf8").trim());
    expect(createResult.pid).toBe(pid);
    const argv = cmdline(pid);
    expect(path.basename(argv[0] ?? "")).toMatch(/^qemu-system-x86_64/);
    expect(argv.join(" ")).toContain(path.join(vmDir, "overlay.qcow2"));

    // it listens on 127.0.0.1:<port> and on nothing else (no VNC, no other forward)
    const ss = sh("ss", ["-H", "-ltnp"]).stdout.split("\n");
    const ours = ss.filter((l) => l.includes(`pid=${pid},`));
    expect(ours.length).toBeGreaterThan(0);
    for (const l of ours) expect(l.split(/\s+/)[3]).toBe(`127.0.0.1:${port}`);
    const onPort = ss.filter((l) => new RegExp(`:${port}\\s`).test(l));
    expect(onPort.map((l) => l.split(/\s+/)[3])).toEqual([`127.0.0.1:${port}`]);

    // the disk is an overlay backed by the image
    const info = JSON.parse(sh("qemu-img", ["info", "-U", "--output=json", path.join(vmDir, "overlay.qcow2")]).stdout);
    expect(info.format).toBe("qcow2");
    expect(info["backing-filename"]).toBe(image);
    expect(info["backing-filename-format"]).toBe("qcow2");

    // the NoCloud seed: label cidata, our user-data, a stable instance-id; no plain copy of the user-data left
    const seed = path.join(vmDir, "seed.iso");
    expect(fs.statSync(seed).mode & 0o777).toBe(0o600);
    expect(sh("blkid", ["-o", "value", "-s", "LABEL", seed]).stdout.trim()).toBe("cidata");
    const out = path.join(tmp, "seed-out");
    fs.mkdirSync(out);
    const x = sh("xorriso", ["-osirrox", "on", "-indev", seed, "-extract", "/", out]);
    expect(x.code).toBe(0);
    expect(fs.readFileSync(path.join(out, "user-data"), "utf8")).toBe(userData);
    expect(fs.readFileSync(path.join(out, "meta-data"), "utf8")).toContain("instance-id: jhvm-jhvm-test-vm");
    expect(fs.readdirSync(vmDir).sort()).toEqual(
      ["console.log", "made-from.sha256", "monitor.sock", "overlay.qcow2", "qemu.pid", "seed.iso", "vm.json"].sort(),
    );
    expect(fs.existsSync(path.join(vmDir, "console.log"))).toBe(true);
    // the user-data (a secret in real use) is in neither the stage log nor the driver's output
    const stageLog = fs.readFileSync(path.join(tmp, "build", "logs", "local-vm.log"), "utf8");
    expect(stageLog).not.toContain(marker);
    expect(r.stdout + r.stderr).not.toContain(marker);
  });

  /** Waits for the test page through the forward (the first boot, and a replaced VM booting from the image again). */
  const waitForGuest = async () => {
    const t0 = Date.now();
    let last: Awaited<ReturnType<typeof httpGet>> = "";
    while ((Date.now() - t0) / 1000 < BOOT_TIMEOUT_S) {
      last = await httpGet(`http://127.0.0.1:${port}/`);
      if (typeof last !== "string" && last.status === 200) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    return last;
  };
  test("the guest boots and answers through the forward; it sees the seed and the shared folder", async () => {
    const t0 = Date.now();
    const last = await waitForGuest();
    const consoleTail = fs.readFileSync(path.join(vmDir, "console.log"), "utf8").slice(-3000);
    if (typeof last === "string" || last.status !== 200)
      throw new Error(
        `no HTTP 200 within ${BOOT_TIMEOUT_S} s (last: ${JSON.stringify(last)}); console:\n${consoleTail}`,
      );
    console.log(`guest answered HTTP 200 after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(last.body).toBe("jhvm-test-web ok\n");
    const seedUd = await httpGet(`http://127.0.0.1:${port}/seed/user-data`);
    expect(seedUd).toEqual({ status: 200, body: userData });
    const data = await httpGet(`http://127.0.0.1:${port}/data/hello.txt`);
    expect(data).toEqual({ status: 200, body: dataText });
  });

  test("a second VM on the same port is refused, naming the port", () => {
    const other = { ...settings, name: "jhvm-test-vm2" };
    const file = path.join(tmp, "local-vm2.json");
    fs.writeFileSync(file, JSON.stringify(other), { mode: 0o600 });
    const r = driver("create", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(fs.existsSync(path.join(tmp, "build", "local-vm", "jhvm-test-vm2"))).toBe(false);
  });

  const lastResult = (stdout: string) =>
    JSON.parse(stdout.trim().split("\n").pop() as string) as Record<string, unknown>;

  test("create run as an update keeps the VM that runs from the same settings; changed settings replace it", async () => {
    // Pulumi runs create as an update when only the command line or its environment changed (a moved driver):
    // PULUMI_COMMAND_STDOUT then holds the previous result
    const pid = Number(createResult.pid);
    const previous = () => ({ PULUMI_COMMAND_STDOUT: JSON.stringify(createResult) + "\n" });
    const same = driver("create", settingsFile, previous());
    expect(same.code).toBe(0);
    expect(lastResult(same.stdout)).toEqual(createResult);
    expect(same.stderr).toContain("already runs from these settings");
    expect(path.basename(cmdline(pid)[0] ?? "")).toMatch(/^qemu-system-x86_64/); // the same QEMU, still running
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: "jhvm-test-web ok\n" });

    // a VM made by an older version (no record of its settings): compared with what it runs from, kept, recorded
    const record = path.join(vmDir, "made-from.sha256");
    const recorded = fs.readFileSync(record, "utf8");
    fs.rmSync(record);
    const legacy = driver("create", settingsFile, previous());
    expect(legacy.code).toBe(0);
    expect(legacy.stderr).toContain("already runs from these settings");
    expect(cmdline(pid).length).toBeGreaterThan(0);
    expect(fs.readFileSync(record, "utf8")).toBe(recorded);

    // the same older VM, but the user-data changed: replaced
    fs.rmSync(record);
    const newUserData = userData + "# changed\n";
    const udFile = path.join(tmp, "local-vm-userdata.json");
    fs.writeFileSync(udFile, JSON.stringify({ ...settings, userData: newUserData }), { mode: 0o600 });
    const ud = driver("create", udFile, previous());
    expect(ud.code).toBe(0);
    expect(ud.stderr).not.toContain("already runs from these settings");
    createResult = lastResult(ud.stdout);
    expect(createResult.pid).not.toBe(pid);
    expect(cmdline(pid)).toEqual([]);
    expect(await waitForGuest()).toEqual({ status: 200, body: "jhvm-test-web ok\n" });
    expect(await httpGet(`http://127.0.0.1:${port}/seed/user-data`)).toEqual({ status: 200, body: newUserData });

    // a setting that shapes the VM changed (recorded VM): the old VM stops and a new one starts from the image
    const pid2 = Number(createResult.pid);
    const changedFile = path.join(tmp, "local-vm-changed.json");
    fs.writeFileSync(changedFile, JSON.stringify({ ...settings, userData: newUserData, memoryMb: 640 }), {
      mode: 0o600,
    });
    const changed = driver("create", changedFile, previous());
    expect(changed.code).toBe(0);
    expect(changed.stderr).not.toContain("already runs from these settings");
    createResult = lastResult(changed.stdout);
    expect(createResult.pid).not.toBe(pid2);
    expect(cmdline(pid2)).toEqual([]);
    expect(cmdline(Number(createResult.pid)).join(" ")).toContain("-m 640");
    expect(await waitForGuest()).toEqual({ status: 200, body: "jhvm-test-web ok\n" });
  });

  test("delete stops the VM and removes its directory; the image is untouched; delete is idempotent", () => {
    const pid = Number(createResult.pid);
    // as Pulumi deletes a replaced VM: the settings file already holds the new settings (here another name), the
    // previous result (PULUMI_COMMAND_STDOUT) names the VM to stop
    const r = driver("delete", path.join(tmp, "local-vm2.json"), {
      PULUMI_COMMAND_STDOUT: JSON.stringify(createResult) + "\n",
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/system_powerdown sent|SIGTERM/);
    expect(cmdline(pid)).toEqual([]); // gone (or a zombie waiting for its reaper)
    expect(processesMentioning(vmDir)).toEqual([]);
    expect(fs.existsSync(vmDir)).toBe(false);
    expect(sha256File(image)).toBe(imageSha);

    const again = driver("delete");
    expect(again.code).toBe(0);
    // `pulumi destroy` from a fresh clone: no settings file, the VM found from the previous result
    const fresh = driver("delete", path.join(tmp, "missing-settings.json"), {
      JHVM_STAGE: "local-vm",
      JHVM_CACHE_DIR: path.join(tmp, "cache"),
      JHVM_BUILD_DIR: path.join(tmp, "build"),
      JHVM_KEEP_CACHE: "false",
      PULUMI_COMMAND_STDOUT: JSON.stringify(createResult) + "\n",
    });
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).toContain(`no QEMU running for ${vmDir}`);
  });
});
