// Shared helpers for the Ansible / image hygiene tests (not a test file itself).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
export { REPO } from "../support";
import { REPO, tempDir } from "../support";

export const ANSIBLE_DIR = path.join(REPO, "ansible");
export const HERE = __dirname;
export const HYGIENE = path.join(REPO, "tools", "image-hygiene-check");

/** Debian packages the tests need; .ci/run installs them. */
export const DEBIAN_PACKAGES = "ansible ansible-lint debootstrap qemu-utils e2fsprogs fdisk util-linux mount git";

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command (no shell), logs its duration, never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): RunResult {
  const start = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? REPO,
    env: opts.env ?? process.env,
    input: opts.input,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 20 * 60_000,
  });
  const seconds = (Date.now() - start) / 1000;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new Error(`${cmd} not found. Install the Debian packages: apt-get install -y ${DEBIAN_PACKAGES}`);
    }
    throw r.error;
  }
  const label = [path.basename(cmd), ...args.slice(0, 3)].join(" ").split("\n")[0].slice(0, 100);
  process.stdout.write(`[timing] ${label}: ${seconds.toFixed(1)} s (exit ${r.status})\n`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, seconds };
}

/** Fails (never skips) when a tool is missing. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(
      `Missing tools: ${missing.join(", ")}. Install the Debian packages: apt-get install -y ${DEBIAN_PACKAGES}`,
    );
  }
}

/** Fails when not root: chroot, mount and debootstrap need it. */
export function requireRoot(): void {
  if (process.getuid && process.getuid() !== 0) {
    throw new Error("These tests need root (debootstrap, chroot, loop mounts).");
  }
}

/** a scratch directory (tests/support.ts) */
export const tmpDir = (prefix: string): string => tempDir(prefix);

/** tests/ansible/chroot-env.sh <cmd> <dir> [...]; throws on failure. */
export function chrootEnv(cmd: string, dir: string, ...more: string[]): RunResult {
  const r = run("bash", [path.join(HERE, "chroot-env.sh"), cmd, dir, ...more]);
  if (r.status !== 0) throw new Error(`chroot-env.sh ${cmd} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
}

/** Runs ansible/playbook.yml against ROOT through tests/ansible/play.sh. */
export function play(root: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): RunResult & { recap: Recap } {
  const r = run("bash", [path.join(HERE, "play.sh"), root, ...args], { env: { ...process.env, ...env } });
  return { ...r, recap: parseRecap(r.stdout) };
}

export function parseRecap(out: string): Recap {
  const m = out.match(
    /ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)/,
  );
  if (!m) return { ok: -1, changed: -1, unreachable: -1, failed: -1, skipped: -1 };
  const [ok, changed, unreachable, failed, skipped] = m.slice(1).map(Number);
  return { ok, changed, unreachable, failed, skipped };
}

/** Names of the tasks reported "changed" in default-callback output (for failure messages). */
export function changedTasks(out: string): string[] {
  const names: string[] = [];
  let current = "";
  for (const line of out.split("\n")) {
    const t = line.match(/^TASK \[(.*)\]/);
    if (t) current = t[1];
    else if (line.startsWith("changed:") && !names.includes(current)) names.push(current);
  }
  return names;
}

/** Runs a command inside the chroot. */
export function inChroot(root: string, args: string[]): RunResult {
  return run("chroot", [root, ...args]);
}

export function read(root: string, rel: string): string {
  return fs.readFileSync(path.join(root, rel), "utf8");
}

export function exists(root: string, rel: string): boolean {
  try {
    fs.lstatSync(path.join(root, rel));
    return true;
  } catch {
    return false;
  }
}

/** The Vagrant insecure public key (RSA), as Vagrant boxes ship it. */
export const VAGRANT_RSA_KEY =
  "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key";

/** Passwords planted by chroot-env.sh plant (test fixtures, not real secrets). */
export const PLANTED_PASSWORDS = ["Build-Pa55word-do-not-ship", "Root-Pa55word-do-not-ship"];
