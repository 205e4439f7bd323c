/**
 * The generic stage runner, component side: content hashing for triggers, and the `local.Command` that runs a
 * stage's driver. The contract both sides follow is contract.ts; the driver side is driver.ts.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { StageDef, StageResult, parseResult } from "./contract";

/** The repository root (stages/..). Drivers, templates and roles are found relative to it. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** Canonical JSON: object keys sorted, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export function sha256(text: string | Buffer): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}

export function contentHash(value: unknown): string {
  return sha256(canonicalJson(value));
}

/**
 * Hash of a file tree: every regular file's path (relative to `root`) and bytes, in sorted order. Paths may be files
 * or directories; missing paths hash as "missing" so that adding them later changes the hash.
 */
export function hashPaths(root: string, rels: readonly string[]): string {
  const h = crypto.createHash("sha256");
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) {
      h.update(`missing:${rel}\0`);
      return;
    }
    const st = fs.statSync(abs);
    if (st.isDirectory()) {
      for (const child of fs.readdirSync(abs).sort()) walk(path.posix.join(rel, child));
    } else if (st.isFile()) {
      h.update(`file:${rel}\0`);
      h.update(fs.readFileSync(abs));
      h.update("\0");
    }
  };
  for (const rel of [...rels].sort()) walk(rel);
  return h.digest("hex");
}

/** Where a stage keeps its files: the stack's build directory, the shared cache, and whether destroy keeps the entry. */
export interface StageDirs {
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly keepCache: boolean;
}

export interface StageCommandArgs<S> {
  /** the stage: its name and driver; `S` (its settings.ts) types the settings */
  readonly stage: StageDef<S>;
  /** everything the driver needs, written to a settings file (paths included) */
  readonly settings: pulumi.Input<S>;
  /** content key: the hash of exactly the inputs that change the stage's artifact */
  readonly key: pulumi.Input<string>;
  readonly dirs: StageDirs;
}

/** Path of the tsx launcher, relative to the project directory, as the command line names it. */
const TSX = "node_modules/tsx/dist/cli.mjs";

/**
 * The `local.Command` of a stage. Its inputs are kept stable: only the content key (the trigger), the cache
 * directory and keepCache can change them, so a stage re-runs exactly when what it builds from changes. The
 * settings file is (re)written on every run of the program, so the driver always sees current values.
 */
export function stageCommand<S>(
  name: string,
  args: StageCommandArgs<S>,
  opts: pulumi.CustomResourceOptions,
): command.local.Command {
  const { buildDir, cacheDir, keepCache } = args.dirs;
  const settingsFile = path.join(buildDir, "stages", `${args.stage.name}.json`);
  const settingsRef = pulumi.all([args.settings, args.key]).apply(([settings]) => {
    fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
    const full = {
      ...(settings as object),
      stage: args.stage.name,
      buildDir,
      cacheDir,
      keepCache,
    };
    fs.writeFileSync(settingsFile, JSON.stringify(full, null, 2) + "\n", { mode: 0o600 });
    return path.relative(process.cwd(), settingsFile) || settingsFile;
  });
  const driver = args.stage.driver;
  return new command.local.Command(
    name,
    {
      create: `node ${TSX} ${driver} create`,
      delete: `node ${TSX} ${driver} delete`,
      environment: {
        JHVM_SETTINGS: settingsRef,
        JHVM_KEY: args.key,
        JHVM_STAGE: args.stage.name,
        JHVM_CACHE_DIR: cacheDir,
        JHVM_BUILD_DIR: path.relative(process.cwd(), buildDir) || ".",
        JHVM_KEEP_CACHE: String(keepCache),
      },
      triggers: [args.key],
      logging: "stderr",
    },
    opts,
  );
}

export type StageOutput = StageResult;

/** The stage's command and its parsed result (the driver's last JSON line). */
export function runStage<S>(
  name: string,
  args: StageCommandArgs<S>,
  opts: pulumi.CustomResourceOptions,
): { command: command.local.Command; result: pulumi.Output<StageResult> } {
  const cmd = stageCommand(name, args, opts);
  return { command: cmd, result: cmd.stdout.apply(parseResult) };
}

/**
 * A build stage's Pulumi component: it runs the stage's command (`<name>-<step>`, its child) and exposes what the
 * driver reported: the artifact's path, sha256 and size, and the content key. Each stage adds its own outputs and
 * calls `registerOutputs`.
 */
export abstract class StageComponent<S> extends pulumi.ComponentResource {
  public readonly path: pulumi.Output<string>;
  public readonly sha256: pulumi.Output<string>;
  public readonly size: pulumi.Output<number>;
  /** the key its trigger carries */
  public readonly key: pulumi.Output<string>;
  protected readonly result: pulumi.Output<StageResult>;

  constructor(
    type: string,
    name: string,
    step: string,
    args: StageCommandArgs<S>,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super(type, name, {}, opts);
    this.key = pulumi.output(args.key);
    this.result = runStage(`${name}-${step}`, args, { parent: this }).result;
    this.path = this.result.apply((r) => r.path);
    this.sha256 = this.result.apply((r) => r.sha256);
    this.size = this.result.apply((r) => r.size);
  }
}

/**
 * What the cache holds for a stage's key, as far as preview can tell cheaply: the manifest's result when the
 * artifact is there with its recorded size (the driver still verifies the checksum before using it).
 */
export function peekCache(cacheDir: string, stage: string, key: string): StageResult | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(cacheDir, stage, key, "manifest.json"), "utf8")) as {
      result: StageResult;
    };
    const st = fs.statSync(m.result.path, { throwIfNoEntry: false });
    return st && st.size === m.result.size ? m.result : undefined;
  } catch {
    return undefined;
  }
}
