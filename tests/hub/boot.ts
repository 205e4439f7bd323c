/**
 * Hub test guests of tests/hub/hub-boot.test.ts: the hub test image
 * (tests/hub/hub-image.ts) booted by the local target's driver (targets/local/driver.ts, qemu runner, TCG) with the
 * user-data the program renders (cloud-init/render.ts stackUserData, not a copy); the driver's create returns only
 * once <hubUrl>hub/api answers (local.waitForHub). A check that fails marks its hub, whose first-boot log and journal
 * are printed before the VM goes (JHVM_KEEP_HUB=1 keeps the VMs running, for a look).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { newPasswordSalt, stackUserData } from "../../cloud-init/render";
import { sha256FileSync } from "../../stages/file-hash";
import { REPO, freePort, keepTempDir, sh, tempDir } from "../support";
import { hubImage, hubSettings } from "./hub-image";

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const READY_TIMEOUT_S = Number(process.env.JHVM_HUB_READY_TIMEOUT ?? "1200");

export interface Hub {
  readonly url: string;
  /** the VM's scratch directory (settings, VM directory) */
  readonly dir: string;
  readonly port: number;
  readonly startedIn: number;
  readonly stop: () => void;
  /** the guest's serial console so far */
  readonly console: () => string;
  /** what the guest logged, read from a copy of its disk: first boot's log and the hub's units' journal */
  readonly guestLogs: () => string;
}

/** The guest's first-boot log and journal, from a raw copy of its running disk (qemu-img -U), loop-mounted. */
function guestLogs(overlay: string, work: string): string {
  const raw = path.join(work, "forensics.raw");
  const mnt = path.join(work, "forensics");
  fs.mkdirSync(mnt, { recursive: true });
  try {
    if (sh("qemu-img", ["convert", "-U", "-O", "raw", overlay, raw]).code !== 0) return "(cannot copy the disk)";
    // the first partition, mounted by offset (no partition devices needed)
    const table = JSON.parse(sh("sfdisk", ["-J", raw]).stdout || "{}") as {
      partitiontable?: { partitions: { start: number }[] };
    };
    const start = table.partitiontable?.partitions[0]?.start ?? 2048;
    const m = sh("mount", ["-o", `ro,noload,loop,offset=${start * 512}`, raw, mnt]);
    if (m.code !== 0) return `(cannot mount the disk copy: ${m.stderr})`;
    try {
      const firstBoot = path.join(mnt, "var/log/jupyterhub-vm-first-boot.log");
      const journal = sh("journalctl", [
        "-D",
        path.join(mnt, "var/log/journal"),
        "--no-pager",
        "-o",
        "short-monotonic",
        "-u",
        "jupyterhub",
        "-u",
        "traefik",
        "-u",
        "jupyter-*",
        "-u",
        "cloud-final",
      ]);
      return `--- first-boot log:\n${fs.existsSync(firstBoot) ? fs.readFileSync(firstBoot, "utf8") : "(none)"}\n--- journal:\n${(journal.stdout + journal.stderr).slice(-12000)}`;
    } finally {
      sh("umount", [mnt]);
    }
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

/** Runs a command without blocking the event loop (the hubs boot side by side); its exit code and output. */
function shAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<ReturnType<typeof sh>> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Builds (or finds cached) the hub test image for these hub settings (the program's Ansible variables → our roles)
 * and starts booting it with the program's user-data (the OpenStack target's for a server without a data volume)
 * through the local driver, which waits for the hub. Returns once the image is built; the promise inside resolves
 * when the hub answers. (A server with a data volume boots on a real Nova: tests/e2e/openstack-boot.test.ts.)
 */
export async function bootHub(
  name: string,
  hubOverrides: Record<string, unknown>,
  opts: { password: string },
): Promise<{ up: Promise<Hub> }> {
  const work = tempDir(`jhvm-hub-${name}-`);
  const hub = hubSettings(hubOverrides);
  const image = hubImage(hub);

  const port = await freePort();
  const settings = {
    stage: "local-vm",
    buildDir: path.join(work, "build"),
    cacheDir: path.join(work, "cache"),
    keepCache: false,
    provider: "qemu",
    imagePath: image,
    imageSha256: sha256FileSync(image),
    imageFormat: "qcow2",
    userData: stackUserData(hub, opts.password, newPasswordSalt()),
    accelerator: "tcg",
    ip: "",
    httpPort: port,
    dataDir: "",
    memoryMb: 2048,
    cpus: 2,
    name: `jhvm-hub-${name}`,
    restrictNetwork: true,
    stopTimeoutSec: 30,
    hubPath: hub.baseUrl,
    waitForHub: true,
    readyTimeoutSec: READY_TIMEOUT_S,
  };
  const settingsFile = path.join(work, "settings.json");
  fs.writeFileSync(settingsFile, JSON.stringify(settings), { mode: 0o600 });
  const driverEnv = { JHVM_SETTINGS: settingsFile, JHVM_KEY: `hub-${name}` };
  const consoleLog = path.join(settings.buildDir, "local-vm", settings.name, "console.log");
  const t1 = Date.now();
  const up = shAsync(process.execPath, [TSX, path.join(REPO, "targets/local/driver.ts"), "create"], driverEnv).then(
    (r): Hub => {
      const startedIn = (Date.now() - t1) / 1000;
      console.log(`[${name}] create: exit ${r.code} in ${startedIn.toFixed(0)} s\n${r.stderr.slice(-3000)}`);
      if (r.code !== 0) throw new Error(`the VM's hub did not come up:\n${r.stderr.slice(-6000)}`);
      const result = JSON.parse(r.stdout.trim().split("\n").pop() as string) as { hubUrl: string };
      return {
        url: result.hubUrl,
        dir: work,
        port,
        startedIn,
        console: () => (fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, "utf8") : ""),
        guestLogs: () => guestLogs(path.join(path.dirname(consoleLog), "overlay.qcow2"), work),
        stop: () => {
          const d = sh(process.execPath, [TSX, path.join(REPO, "targets/local/driver.ts"), "delete"], driverEnv);
          if (d.code !== 0) console.log(`[${name}] delete failed:\n${d.stderr}`);
        },
      };
    },
  );
  return { up };
}

/** Hubs with a failed check: their guest logs are printed before the VM goes. */
const failing = new Set<Hub | undefined>();
export const markFailing = (hub: Hub | undefined) => failing.add(hub);

/** A check against a booted hub; a failure marks the hub for its guest logs. */
export function check(name: string, hubOf: () => Hub, fn: () => Promise<void>): void {
  it(name, async () => {
    try {
      await fn();
    } catch (e) {
      failing.add(hubOf());
      throw e;
    }
  });
}

const finished = new Set<Hub>();
export function finish(hub: Hub | undefined): void {
  if (!hub || finished.has(hub)) return;
  finished.add(hub);
  if (failing.has(hub)) console.log(`guest logs (${hub.url}):\n${hub.guestLogs()}`);
  if (process.env.JHVM_KEEP_HUB) {
    // the VM runs from its directory: kept too (the leftover check then names it)
    keepTempDir(hub.dir);
    console.log(`kept ${hub.url} (${hub.dir})`);
  } else hub.stop();
}

/** The hub's base path (its URL's path). */
export const base = (hub: Hub) => new URL(hub.url).pathname;
