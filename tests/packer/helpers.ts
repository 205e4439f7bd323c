// Shared helpers for the Packer tests (not a test file itself).
import { execFileSync, spawnSync, SpawnSyncReturns } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
export { REPO } from "../support";
import { REPO, tempDir } from "../support";

export const PACKER_DIR = path.join(REPO, "packer");
export const OSES = ["ubuntu-22.04", "ubuntu-24.04", "debian-12"] as const;
export const BUILDERS = ["qemu.base", "virtualbox-iso.base"] as const;

const INSTALL_HINT =
  "Packer is required for these tests and is not installed. Build it (Packer + the qemu, virtualbox, " +
  "vagrant and ansible plugins, from the Go module proxy, ~10-20 min cold, cached afterwards) with:\n" +
  "  bash scripts/install-packer.sh\n" +
  "or point JHVM_PACKER at a packer >= 1.11 binary whose plugins are installed (packer init packer/).";

/** Path of the packer binary: $JHVM_PACKER, else scripts/install-packer.sh --print-path. Throws (never skips). */
export function findPacker(): string {
  const fromEnv = process.env.JHVM_PACKER;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) {
      throw new Error(`JHVM_PACKER=${fromEnv} does not exist.\n${INSTALL_HINT}`);
    }
    return fromEnv;
  }
  const r = spawnSync("bash", [path.join(REPO, "scripts", "install-packer.sh"), "--print-path"], {
    encoding: "utf8",
  });
  if (r.status !== 0 || !r.stdout.trim()) {
    throw new Error(`${INSTALL_HINT}\n(install-packer.sh --print-path said: ${r.stderr.trim()})`);
  }
  return r.stdout.trim();
}

export interface Credentials {
  username: string;
  password: string;
  passwordHash: string;
}

/** A random per-run build user/password and its SHA-512 crypt, like the BaseBox driver makes them. */
export function makeCredentials(): Credentials {
  const password = randomBytes(18).toString("base64url"); // 24 characters
  // The password goes to openssl on stdin, never as an argument.
  const passwordHash = execFileSync("openssl", ["passwd", "-6", "-stdin"], {
    input: password + "\n",
    encoding: "utf8",
  }).trim();
  return { username: "jhvmtest", password, passwordHash };
}

/** Environment passing the secrets to Packer as PKR_VAR_* variables (not on the command line). */
export function secretEnv(c: Credentials): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    PKR_VAR_build_username: c.username,
    PKR_VAR_build_password: c.password,
    PKR_VAR_build_password_hash: c.passwordHash,
  };
}

/** Writes the secrets to a 0600 var-file (the other way the driver may pass them). */
export function writeSecretVarFile(dir: string, c: Credentials): string {
  const file = path.join(dir, "secrets.pkrvars.hcl");
  const body =
    `build_username      = ${JSON.stringify(c.username)}\n` +
    `build_password      = ${JSON.stringify(c.password)}\n` +
    `build_password_hash = ${JSON.stringify(c.passwordHash)}\n`;
  fs.writeFileSync(file, body, { mode: 0o600 });
  return file;
}

/** a scratch directory (tests/support.ts) */
export const tmpDir = (prefix: string): string => tempDir(prefix);

export interface RunResult {
  status: number | null;
  output: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
): RunResult & { stdout: string } {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    cwd: opts.cwd ?? REPO,
    input: opts.input,
    env: opts.env ?? process.env,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

function parentPid(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after the last ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p: number | undefined = pid, hops = 0; p && p > 1 && hops < 64; p = parentPid(p), hops++) {
    if (p === ancestor) return true;
  }
  return false;
}

/**
 * TCP sockets listened on by `rootPid` or its descendants (Packer, its plugins, QEMU), as
 * "address:port process" strings. A process may exit between `ss` and /proc: such lines are skipped.
 */
export function listenersOf(rootPid: number): string[] {
  const out: string[] = [];
  const ss = spawnSync("ss", ["-ltnpH"], { encoding: "utf8" });
  for (const line of (ss.stdout ?? "").split("\n")) {
    for (const m of line.matchAll(/\("([^"]+)",pid=(\d+),/g)) {
      if (descendsFrom(Number(m[2]), rootPid)) out.push(`${line.trim().split(/\s+/)[3]} ${m[1]}`);
    }
  }
  return out;
}
