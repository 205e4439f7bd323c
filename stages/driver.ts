/**
 * The generic stage runner, driver side: the plumbing of the processes Pulumi's `local.Command` runs for each stage
 * (`<stage>/driver.ts` calls `main`). The contract with the component side (runner.ts) is contract.ts; besides it:
 * - The driver logs everything a tool prints to `<buildDir>/logs/<stage>.log`, prints progress lines on stderr and,
 *   on success, exactly one JSON line on stdout: the stage's result. On failure it exits 1 with the log's last lines.
 * - Artifacts live in the content-addressed cache `<cacheDir>/<stage>/<key>/` with a `manifest.json`; an entry
 *   whose manifest or checksum does not match is rebuilt, never used.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DriverSettings, StageDef, StageResult, StageSettingsBase, parseResult } from "./contract";

export type { StageResult, StageSettingsBase } from "./contract";

export class StageError extends Error {}

export interface Stage<S extends StageSettingsBase> {
  readonly settings: S;
  readonly key: string;
  readonly logFile: string;
  log(msg: string): void;
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<string>;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** strings that must never reach the log (replaced by ***) */
  readonly redact?: readonly string[];
  /** capture stdout and return it (still logged unless quiet) */
  readonly quiet?: boolean;
}

const TAIL_LINES = 40;

export function tail(file: string, n = TAIL_LINES): string {
  try {
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return lines.slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

export function redactText(text: string, redact: readonly string[] = []): string {
  let out = text;
  for (const s of redact) if (s) out = out.split(s).join("***");
  return out;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash("sha256");
    fs.createReadStream(file)
      .on("data", (d) => h.update(d))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

/** Directory of this stage's cache entry. */
export function cacheEntry(settings: StageSettingsBase, key: string): string {
  return path.join(settings.cacheDir, settings.stage, key);
}

/** A cached result, if its manifest exists and the artifact still has its recorded size and checksum. */
export async function cachedResult(settings: StageSettingsBase, key: string): Promise<StageResult | undefined> {
  const manifest = path.join(cacheEntry(settings, key), "manifest.json");
  if (!fs.existsSync(manifest)) return undefined;
  try {
    const m = JSON.parse(fs.readFileSync(manifest, "utf8")) as { result: StageResult };
    const r = m.result;
    if (!fs.existsSync(r.path) || fs.statSync(r.path).size !== r.size) return undefined;
    if ((await sha256File(r.path)) !== r.sha256) return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/**
 * Publishes a finished artifact into the cache atomically: the entry is built in a temporary sibling directory and
 * renamed into place, so a concurrent or interrupted build never leaves a half-written entry behind a manifest.
 */
export async function publish(
  settings: StageSettingsBase,
  key: string,
  workDir: string,
  artifactName: string,
  extra: Record<string, unknown> = {},
  inputs: Record<string, unknown> = {},
): Promise<StageResult> {
  const entry = cacheEntry(settings, key);
  const src = path.join(workDir, artifactName);
  const sha256 = await sha256File(src);
  const size = fs.statSync(src).size;
  const result: StageResult = { ...extra, path: path.join(entry, artifactName), sha256, size };
  const manifest = {
    stage: settings.stage,
    key,
    created: new Date().toISOString(),
    inputs,
    tools: { node: process.version, platform: `${os.platform()}-${os.arch()}` },
    result,
  };
  fs.writeFileSync(path.join(workDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  fs.mkdirSync(path.dirname(entry), { recursive: true });
  if (fs.existsSync(entry)) {
    // an invalid entry (its manifest did not verify): move it aside, then replace it
    const stale = `${entry}.stale-${process.pid}`;
    fs.renameSync(entry, stale);
    fs.rmSync(stale, { recursive: true, force: true });
  }
  fs.renameSync(workDir, entry);
  return result;
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Exclusive lock on a cache key, so two stacks building the same key wait for each other. */
export async function withLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 4 * 3600_000): Promise<T> {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const start = Date.now();
  for (;;) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(fs.readFileSync(lockFile, "utf8").trim());
      if (!pidAlive(pid)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() - start > timeoutMs) throw new StageError(`timed out waiting for lock ${lockFile} (pid ${pid})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

/** Runs a tool, appending its output to the stage log; rejects with the log tail when it fails. */
function runTool(
  logFile: string,
  log: (m: string) => void,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, "a");
    fs.writeSync(out, `\n$ ${redactText([cmd, ...args].join(" "), opts.redact)}\n`);
    const child = spawn(cmd, [...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let captured = "";
    const sink = (d: Buffer) => {
      const text = redactText(d.toString(), opts.redact);
      if (opts.quiet) captured += d.toString();
      fs.writeSync(out, text);
    };
    child.stdout.on("data", sink);
    child.stderr.on("data", sink);
    child.on("error", (e) => {
      fs.closeSync(out);
      reject(new StageError(`cannot run ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      fs.writeSync(out, `[exit ${code ?? signal}]\n`);
      fs.closeSync(out);
      if (code === 0) resolve(captured);
      else {
        log(`${cmd} failed (exit ${code ?? signal})`);
        reject(
          new StageError(
            `${path.basename(cmd)} failed (exit ${code ?? signal}); last lines of ${logFile}:\n${tail(logFile)}`,
          ),
        );
      }
    });
  });
}

export function readSettings<S extends StageSettingsBase>(action: string): { settings: S; key: string } {
  const env = process.env;
  const file = env.JHVM_SETTINGS;
  const key = env.JHVM_KEY;
  if (!file || !key)
    throw new StageError("JHVM_SETTINGS and JHVM_KEY must be set (drivers are run by the Pulumi program)");
  if (!fs.existsSync(file) && action === "delete" && env.JHVM_STAGE && env.JHVM_CACHE_DIR) {
    // `pulumi destroy` does not run the program: the settings file may be gone (fresh clone). What delete needs is
    // in the command's environment and in the previous result.
    const fallback: StageSettingsBase = {
      stage: env.JHVM_STAGE,
      cacheDir: env.JHVM_CACHE_DIR,
      buildDir: env.JHVM_BUILD_DIR ?? ".build",
      keepCache: env.JHVM_KEEP_CACHE !== "false",
    };
    return { settings: fallback as S, key };
  }
  return { settings: JSON.parse(fs.readFileSync(file, "utf8")) as S, key };
}

/**
 * Entry point of a driver: `create` builds (or reuses the cached artifact) and prints the result JSON; `delete`
 * removes what this stage made for the stack, and the cache entry too unless keepCache is set.
 */
export function main<T>(
  def: StageDef<T>,
  handlers: {
    /** `previous`: the result of this resource's last run when Pulumi runs create as an update, else undefined */
    create: (stage: Stage<DriverSettings<T>>, previous: StageResult | undefined) => Promise<StageResult>;
    /** extra clean-up beyond the cache entry (local VMs, boxes) */
    delete?: (stage: Stage<DriverSettings<T>>, previous: StageResult | undefined) => Promise<void>;
    /** false for stages whose result must not be reused from the cache */
    cacheable?: boolean;
  },
): void {
  type S = DriverSettings<T>;
  const action = process.argv[2];
  const started = Date.now();
  let logFile = "";
  const previousResult = (): StageResult | undefined => {
    try {
      return parseResult(process.env.PULUMI_COMMAND_STDOUT ?? "");
    } catch {
      return undefined;
    }
  };
  const run = async () => {
    const { settings, key } = readSettings<S>(action ?? "");
    if (settings.stage !== def.name)
      throw new StageError(`${def.driver} runs stage ${def.name}, but its settings are for ${settings.stage}`);
    fs.mkdirSync(path.join(settings.buildDir, "logs"), { recursive: true });
    logFile = path.join(settings.buildDir, "logs", `${settings.stage}.log`);
    const log = (m: string) => {
      process.stderr.write(`[${settings.stage}] ${m}\n`);
      fs.appendFileSync(logFile, `# ${new Date().toISOString()} ${m}\n`);
    };
    const stage: Stage<S> = {
      settings,
      key,
      logFile,
      log,
      run: (cmd, args, opts) => runTool(logFile, log, cmd, args, opts),
    };
    if (action === "create") {
      log(`${settings.stage} key ${key.slice(0, 16)}; log ${logFile}`);
      const cacheable = handlers.cacheable !== false;
      const lock = path.join(settings.cacheDir, settings.stage, `${key}.lock`);
      const result = await withLock(lock, async () => {
        if (cacheable) {
          const hit = await cachedResult(settings, key);
          if (hit) {
            log(`cache hit: ${hit.path}`);
            return hit;
          }
        }
        return handlers.create(stage, previousResult());
      });
      log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.path}`);
      process.stdout.write(JSON.stringify(result) + "\n");
    } else if (action === "delete") {
      if (handlers.delete) await handlers.delete(stage, previousResult());
      if (!settings.keepCache) {
        fs.rmSync(cacheEntry(settings, key), { recursive: true, force: true });
        log(`removed cache entry ${cacheEntry(settings, key)}`);
      } else log(`kept cache entry ${cacheEntry(settings, key)} (keepCache)`);
    } else {
      throw new StageError(`usage: ${path.basename(process.argv[1] ?? "driver")} create|delete`);
    }
  };
  run().catch((e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`\n${msg}\n`);
    if (logFile && !(e instanceof StageError)) process.stderr.write(`last lines of ${logFile}:\n${tail(logFile)}\n`);
    process.exit(1);
  });
}

/** A fresh work directory next to the cache entry (same file system, so publish can rename it). */
export function workDir(settings: StageSettingsBase, key: string): string {
  const dir = path.join(settings.cacheDir, settings.stage, `.work-${key.slice(0, 16)}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
