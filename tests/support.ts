/**
 * What every test folder shares: the repository root and scratch directories. Test infrastructure that is not a
 * test (the test OpenStack, the private libvirt, the stand-in `command` provider) lives in ../testbed/.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import type { DriverSettings } from "../stages/contract";
import type { BaseBoxSettings } from "../stages/base-box/settings";

/** Runs a command to its end: exit code (-1 when killed), stdout, stderr; `env` adds to this process's. */
export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** The repository root. */
export const REPO = path.resolve(__dirname, "..");

/**
 * A fresh scratch directory under `base` (default: the system's temp dir), removed when the test file is done
 * (tests/jest-environment.js, after the file's afterAll hooks; JHVM_KEEP_TEST_OUTPUT=1 keeps it).
 */
export function tempDir(prefix = "jhvm-test-", base = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  const g = globalThis as { __jhvmTempDirs?: string[] };
  (g.__jhvmTempDirs ??= []).push(dir);
  return dir;
}

/** Takes `dir` (made by tempDir) off the removal list: what a test keeps on purpose (e.g. JHVM_KEEP_HUB's VMs). */
export function keepTempDir(dir: string): void {
  const g = globalThis as { __jhvmTempDirs?: string[] };
  g.__jhvmTempDirs = (g.__jhvmTempDirs ?? []).filter((d) => d !== dir);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now (for a test VM's forward). */
/** The pids of QEMU processes whose command line names `dir` (a test's VMs), read from /proc. */
export function qemuProcessesIn(dir: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return cmd.startsWith("qemu-system") && cmd.includes(dir);
      } catch {
        return false; // gone
      }
    })
    .map(Number);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The settings the BaseBox component writes for its driver (stages/base-box/settings.ts), for tests that run the driver
 * directly; typed by the same contract, so a renamed field fails tsc here too.
 */
export function baseBoxSettings(
  dir: string,
  over: Partial<DriverSettings<BaseBoxSettings>> = {},
): Omit<DriverSettings<BaseBoxSettings>, "stage"> {
  return {
    buildDir: path.join(dir, "build"),
    cacheDir: path.join(dir, "cache"),
    keepCache: true,
    os: "debian-12",
    builder: "qemu",
    isoPath: path.join(dir, "x.iso"),
    isoSha256: "a".repeat(64),
    imageVars: {
      diskSizeGb: 10,
      locale: "en_US.UTF-8",
      timezone: "UTC",
      keyboard: "us",
      mirror: "",
      httpProxy: "",
      httpsProxy: "",
      noProxy: "",
    },
    runVars: { memoryMb: 2048, cpus: 2, headless: true, accelerator: "tcg" },
    ...over,
  };
}

/** The authenticator class the first boot sets for each hub.authenticator (cloud-init/first-boot.sh's `AUTH_CLASS=`). */
export function firstBootAuthClasses(): Record<string, string> {
  const script = fs.readFileSync(path.join(REPO, "cloud-init/first-boot.sh"), "utf8");
  return Object.fromEntries([...script.matchAll(/^\s+([a-z]+)\) AUTH_CLASS=(\S+) ;;$/gm)].map((m) => [m[1], m[2]]));
}
