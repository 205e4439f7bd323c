/**
 * The `qemu` runner of the local VM (driver.ts dispatches here):
 *
 * create:
 *  1. <buildDir>/local-vm/<name>/ gets a qcow2 overlay backed by the final image (`qemu-img create -b`), so the
 *     VM's writes never touch the cached image;
 *  2. when userData is set, a NoCloud seed ISO (volume label `cidata`: user-data + meta-data with a stable
 *     instance-id), made with xorriso or genisoimage, attached as a CD-ROM; the plain user-data file is removed
 *     once the ISO (mode 0600) holds it;
 *  3. `qemu-system-x86_64 -daemonize` with user-mode networking: only 127.0.0.1:<httpPort> (host) -> guest :80 is
 *     forwarded; no VNC (`-display none`); the serial console goes to console.log, the HMP monitor to a unix
 *     socket in the VM directory (used by delete for a clean `system_powerdown`); dataDir, when set, is shared as
 *     the 9p tag `jhvm-data` (the guest mounts it at /srv/data, see cloud-init); the data disk, when set, is a
 *     second virtio disk with serial `jhvm-data` (data-disk.ts; first boot formats it when blank and mounts it).
 *  `forwardPorts` add more 127.0.0.1:HOST -> guest forwards. `ip` does not apply to QEMU user networking (the hub
 *  is on 127.0.0.1:<httpPort>) and is ignored.
 * stop: `system_powerdown` through the monitor, a bounded wait, then SIGTERM/SIGKILL of the VM's QEMU (only a
 *  process whose command line is qemu-system-* naming this VM directory). Idempotent: a VM already gone is fine.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Stage, StageError, StageResult, pidAlive, sha256File, tail } from "../../stages/driver";
import { CONSOLE_LOG, DATA_DISK_SERIAL, VmSettings } from "./settings";

export const DATA_TAG = "jhvm-data";
const QEMU = process.env.JHVM_QEMU ?? "qemu-system-x86_64";
const FILES = {
  overlay: "overlay.qcow2",
  seed: "seed.iso",
  pid: "qemu.pid",
  console: CONSOLE_LOG,
  monitor: "monitor.sock",
  info: "vm.json",
};

interface VmInfo {
  readonly monitor: string;
  readonly pid?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The VM directory; its parent must be named local-vm (delete removes it recursively). */
export function vmDirOf(buildDir: string, name: string): string {
  return path.resolve(buildDir, "local-vm", name);
}

export function isVmDir(dir: string): boolean {
  return path.basename(path.dirname(dir)) === "local-vm" && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(path.basename(dir));
}

/** Command line of a live process, or undefined when it is gone. */
function cmdline(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    if (process.platform === "linux") return undefined;
    const r = spawnSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
    return r.status === 0 && r.stdout.trim() ? r.stdout.trim().split(/\s+/) : undefined;
  }
}

/** True when pid is a live QEMU of this VM (its command line names a file in the VM directory). */
export function isOurQemu(pid: number, dir: string): boolean {
  const argv = cmdline(pid);
  if (!argv || argv.length === 0) return false;
  if (!path.basename(argv[0]).startsWith("qemu-system")) return false;
  return argv.some((a) => a.includes(dir + path.sep));
}

/** QEMU processes of this VM: the pidfile's (or vm.json's) pid, plus any qemu-system-* naming the VM dir. */
export function vmPids(dir: string): number[] {
  const pids = new Set<number>();
  for (const f of [FILES.pid]) {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, f), "utf8").trim());
      if (Number.isInteger(pid) && pid > 0) pids.add(pid);
    } catch {
      /* no pidfile */
    }
  }
  const info = readInfo(dir);
  if (info?.pid) pids.add(info.pid);
  if (fs.existsSync("/proc")) {
    for (const e of fs.readdirSync("/proc")) if (/^\d+$/.test(e)) pids.add(Number(e));
  }
  return [...pids].filter((p) => p !== process.pid && isOurQemu(p, dir));
}

function readInfo(dir: string): VmInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, FILES.info), "utf8")) as VmInfo;
  } catch {
    return undefined;
  }
}

/** Unix sockets are limited to ~108 bytes: a long VM path gets its monitor socket in the temp dir. */
function monitorPath(dir: string): string {
  const p = path.join(dir, FILES.monitor);
  if (Buffer.byteLength(p) < 100) return p;
  const h = crypto.createHash("sha256").update(dir).digest("hex").slice(0, 16);
  return path.join(os.tmpdir(), `jhvm-${h}.sock`);
}

/** Sends one HMP command through the monitor socket; false when nobody answers. */
function monitorCommand(sock: string, command: string, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!fs.existsSync(sock)) return resolve(false);
    const c = net.connect(sock);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(false);
    }, timeoutMs);
    let sent = false;
    c.on("data", (d) => {
      // the HMP banner ends with the "(qemu) " prompt: then send the command, and leave after its echo
      if (!sent && d.toString().includes("(qemu)")) {
        sent = true;
        c.write(`${command}\n`);
        setTimeout(() => c.end(), 300);
      }
    });
    c.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    c.on("close", () => {
      clearTimeout(timer);
      resolve(sent);
    });
  });
}

/** Fails when 127.0.0.1:port cannot be bound (another program, or a VM, already listens there). */
export function checkPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new StageError(
          e.code === "EADDRINUSE"
            ? `port ${port} on 127.0.0.1 is already in use: stop what listens there (ss -ltnp 'sport = :${port}') or set another local.httpPort`
            : `cannot use port ${port} on 127.0.0.1: ${e.message}`,
        ),
      ),
    );
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve()));
  });
}

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `PATH="$PATH:/usr/sbin:/sbin" command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Stops every QEMU of this VM: powerdown through the monitor, bounded wait, SIGTERM, SIGKILL. */
export async function stopVm(stage: Stage<VmSettings>, dir: string, timeoutSec: number): Promise<void> {
  let pids = vmPids(dir);
  if (pids.length === 0) {
    stage.log(`no QEMU running for ${dir}`);
    return;
  }
  stage.log(`stopping VM (qemu pid ${pids.join(", ")})`);
  const sock = readInfo(dir)?.monitor ?? monitorPath(dir);
  const sent = await monitorCommand(sock, "system_powerdown");
  const waitGone = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      pids = pids.filter((p) => pidAlive(p) && isOurQemu(p, dir));
      if (pids.length === 0) return true;
      await sleep(500);
    }
    return false;
  };
  if (sent) {
    stage.log(`system_powerdown sent; waiting up to ${timeoutSec} s for the guest to power off`);
    if (await waitGone(timeoutSec * 1000)) {
      stage.log("guest powered off");
      return;
    }
    stage.log(`guest still running after ${timeoutSec} s`);
  } else stage.log(`monitor ${sock} did not answer`);
  for (const [sig, waitMs] of [
    ["SIGTERM", 10_000],
    ["SIGKILL", 10_000],
  ] as const) {
    for (const p of pids) {
      if (!isOurQemu(p, dir)) continue;
      try {
        process.kill(p, sig);
        stage.log(`${sig} -> ${p}`);
      } catch {
        /* already gone */
      }
    }
    if (await waitGone(waitMs)) return;
  }
  throw new StageError(`QEMU of ${dir} (pid ${pids.join(", ")}) did not stop`);
}

export function removeVmDir(stage: Stage<VmSettings>, dir: string): void {
  if (!isVmDir(dir)) throw new StageError(`refusing to remove ${dir}: not a <buildDir>/local-vm/<name> directory`);
  const sock = readInfo(dir)?.monitor;
  if (sock && !sock.startsWith(dir + path.sep)) fs.rmSync(sock, { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  stage.log(`removed ${dir}`);
}

export function validate(s: VmSettings): void {
  if (s.provider !== "qemu" && s.provider !== "vagrant-libvirt")
    throw new StageError(`local.provider ${JSON.stringify(s.provider)} is not supported (vagrant-libvirt, qemu)`);
  if (s.imageFormat !== "qcow2") throw new StageError(`the local VM needs a qcow2 image, got ${s.imageFormat}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s.name)) throw new StageError(`invalid VM name ${JSON.stringify(s.name)}`);
  if (!Number.isInteger(s.httpPort) || s.httpPort < 1 || s.httpPort > 65535)
    throw new StageError(`invalid httpPort ${s.httpPort}`);
  if (!/^[a-z0-9]+$/.test(s.accelerator)) throw new StageError(`invalid accelerator ${JSON.stringify(s.accelerator)}`);
  if (!(s.memoryMb >= 256) || !(s.cpus >= 1)) throw new StageError(`invalid memoryMb/cpus ${s.memoryMb}/${s.cpus}`);
  if (!fs.existsSync(s.imagePath)) throw new StageError(`image ${s.imagePath} does not exist`);
  if (s.dataDir && !fs.statSync(s.dataDir, { throwIfNoEntry: false })?.isDirectory())
    throw new StageError(`local.dataDir ${s.dataDir} is not a directory`);
  if (s.dataDisk && s.provider !== "qemu")
    throw new StageError(`a data disk needs local.provider qemu (the vagrant-libvirt runner has none yet)`);
  if (s.dataDisk && !fs.existsSync(s.dataDisk))
    throw new StageError(`the data disk ${s.dataDisk} is missing (its resource made it: \`pulumi refresh\`, then up)`);
  if (s.accelerator === "kvm") {
    try {
      fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      throw new StageError("accelerator kvm needs read/write access to /dev/kvm (or set image.accelerator to tcg)");
    }
  }
}

/**
 * The NoCloud seed: an ISO 9660 volume labelled cidata with user-data and meta-data, and vendor-data when given
 * (the vagrant-libvirt runner's per-VM login).
 */
export async function makeSeed(stage: Stage<VmSettings>, dir: string, vendor?: string): Promise<string> {
  const s = stage.settings;
  const src = path.join(dir, "seed");
  fs.mkdirSync(src, { mode: 0o700 });
  const userData = s.userData || "#cloud-config\n";
  fs.writeFileSync(path.join(src, "user-data"), userData.endsWith("\n") ? userData : userData + "\n", {
    mode: 0o600,
  });
  // stable for this VM: cloud-init runs its first-boot modules once per overlay
  fs.writeFileSync(path.join(src, "meta-data"), `instance-id: jhvm-${s.name}\nlocal-hostname: ${s.name}\n`, {
    mode: 0o600,
  });
  if (vendor) fs.writeFileSync(path.join(src, "vendor-data"), vendor, { mode: 0o600 });
  const iso = path.join(dir, FILES.seed);
  const files = [
    path.join(src, "user-data"),
    path.join(src, "meta-data"),
    ...(vendor ? [path.join(src, "vendor-data")] : []),
  ];
  const xorriso = which("xorriso");
  const genisoimage = xorriso ? undefined : (which("genisoimage") ?? which("mkisofs"));
  if (!xorriso && !genisoimage)
    throw new StageError("making the NoCloud seed needs xorriso or genisoimage (Debian/Ubuntu: apt install xorriso)");
  const args = ["-output", iso, "-volid", "cidata", "-joliet", "-rock", ...files];
  stage.log(`NoCloud seed ${iso}`);
  const old = process.umask(0o077);
  try {
    if (xorriso) await stage.run(xorriso, ["-as", "genisoimage", ...args]);
    else await stage.run(genisoimage as string, args);
  } finally {
    process.umask(old);
  }
  fs.chmodSync(iso, 0o600);
  fs.rmSync(src, { recursive: true, force: true });
  return iso;
}

export function qemuArgs(s: VmSettings, dir: string, seed: string | undefined, monitor: string): string[] {
  const fwd = [`${s.httpPort}:80`, ...(s.forwardPorts ?? [])]
    .map((p) => p.split(":"))
    .map(([host, guest]) => `hostfwd=tcp:127.0.0.1:${host}-:${guest}`)
    .join(",");
  const args = [
    "-name",
    `guest=${s.name}`,
    "-daemonize",
    "-pidfile",
    path.join(dir, FILES.pid),
    "-accel",
    s.accelerator,
    ...(s.accelerator === "kvm" ? ["-cpu", "host"] : []),
    "-m",
    String(s.memoryMb),
    "-smp",
    String(s.cpus),
    // the root disk as an explicit device ahead of any other: QEMU creates `if=virtio` drives after the -device
    // ones, which put a data disk first on the PCI bus, so the firmware booted the blank data disk (and the guest
    // would have named it vda); bootindex makes the root disk the boot disk whatever else is attached
    "-drive",
    `file=${path.join(dir, FILES.overlay)},if=none,id=root,format=qcow2`,
    "-device",
    "virtio-blk-pci,drive=root,bootindex=0",
    "-netdev",
    `user,id=n0,${fwd}${s.restrictNetwork ? ",restrict=on" : ""}`,
    "-device",
    "virtio-net-pci,netdev=n0",
    "-display",
    "none",
    "-serial",
    `file:${path.join(dir, FILES.console)}`,
    "-monitor",
    `unix:${monitor},server=on,wait=off`,
  ];
  if (seed) args.push("-drive", `file=${seed},media=cdrom,format=raw,readonly=on`);
  // the persistent data disk (data-disk.ts): the guest finds it by its serial, as /dev/disk/by-id/virtio-<serial>
  if (s.dataDisk)
    args.push(
      "-drive",
      `file=${path.resolve(s.dataDisk)},if=none,id=jhvmdata,format=qcow2,discard=unmap`,
      "-device",
      `virtio-blk-pci,drive=jhvmdata,serial=${DATA_DISK_SERIAL}`,
    );
  if (s.dataDir)
    args.push(
      "-virtfs",
      `local,path=${path.resolve(s.dataDir)},mount_tag=${DATA_TAG},security_model=mapped-xattr,id=${DATA_TAG}`,
    );
  return args;
}

/** Starts the VM in `dir` (which must not exist yet). */
export async function qemuCreate(stage: Stage<VmSettings>, dir: string): Promise<StageResult> {
  const s = stage.settings;
  if (s.ip) stage.log(`local.ip ${s.ip} is not used by QEMU user networking: the hub is on 127.0.0.1:${s.httpPort}`);
  const image = path.resolve(s.imagePath);
  stage.log(`checking ${image}`);
  const sha = await sha256File(image);
  if (sha !== s.imageSha256) throw new StageError(`${image} has sha256 ${sha}, expected ${s.imageSha256}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const overlay = path.join(dir, FILES.overlay);
  await stage.run("qemu-img", ["create", "-f", "qcow2", "-F", "qcow2", "-b", image, overlay]);
  const seed = s.userData ? await makeSeed(stage, dir) : undefined;
  const monitor = monitorPath(dir);
  fs.rmSync(monitor, { force: true });
  const consoleLog = path.join(dir, FILES.console);
  // a failed tool's message already ends with the stage log's tail; add the guest's console
  const fail = (msg: string) => new StageError(`${msg}\nlast lines of ${consoleLog}:\n${tail(consoleLog)}`);
  stage.log(
    `starting ${QEMU} (${s.accelerator}, ${s.memoryMb} MiB, ${s.cpus} CPU): http://127.0.0.1:${s.httpPort}/ -> guest :80` +
      (s.dataDir ? `, ${s.dataDir} shared as ${DATA_TAG}` : "") +
      (s.dataDisk ? `, data disk ${s.dataDisk}` : ""),
  );
  try {
    await stage.run(QEMU, qemuArgs(s, dir, seed, monitor));
  } catch (e) {
    throw fail((e as Error).message);
  }
  const pid = Number(fs.readFileSync(path.join(dir, FILES.pid), "utf8").trim());
  fs.writeFileSync(path.join(dir, FILES.info), JSON.stringify({ monitor, pid } satisfies VmInfo) + "\n");
  // an early exit (bad firmware/accelerator at run time) shows within a few seconds
  await sleep(3000);
  if (!isOurQemu(pid, dir)) throw fail(`QEMU (pid ${pid}) exited right after starting; see ${stage.logFile}`);
  stage.log(`VM ${s.name} running (qemu pid ${pid}); console: ${consoleLog}`);
  return {
    path: overlay,
    sha256: s.imageSha256,
    size: fs.statSync(overlay).size,
    hubUrl: `http://127.0.0.1:${s.httpPort}${s.hubPath ?? "/"}`,
    vmName: s.name,
    provider: "qemu",
    localIp: "127.0.0.1",
    pid,
  };
}

/**
 * For a VM made before its directory recorded what it was made from (older versions): true when its running QEMU
 * uses `s.accelerator` and its seed carries exactly `s.userData` (the only VM settings outside the content key).
 */
export async function qemuRunsAs(stage: Stage<VmSettings>, dir: string): Promise<boolean> {
  const s = stage.settings;
  const argv = vmPids(dir).map(cmdline)[0];
  if (!argv || argv[argv.indexOf("-accel") + 1] !== s.accelerator) return false;
  const seed = path.join(dir, FILES.seed);
  if (!fs.existsSync(seed)) return !s.userData;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "jhvm-seed-"));
  try {
    await stage.run("xorriso", ["-osirrox", "on", "-indev", seed, "-extract", "/user-data", path.join(out, "ud")], {
      quiet: true,
    });
    const userData = s.userData || "#cloud-config\n";
    return fs.readFileSync(path.join(out, "ud"), "utf8") === (userData.endsWith("\n") ? userData : userData + "\n");
  } catch {
    return false;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
