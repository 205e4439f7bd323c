/**
 * What every build stage shares: content hashing for triggers, and the `local.Command` that runs a stage driver
 * (see drivers/lib.ts for the driver side of the contract).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { StageResult, parseResult } from "../drivers/result";
import type { StageName, StageSettings } from "../drivers/settings";

/** The repository root (components/..). Drivers, templates and roles are found relative to it. */
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

export interface StageCommandArgs<K extends StageName> {
  /** driver name: runs `drivers/<stage>.ts` */
  readonly stage: K;
  /** everything the driver needs, written to a settings file (paths included); typed by drivers/settings.ts */
  readonly settings: pulumi.Input<StageSettings[K]>;
  /** content key: the hash of exactly the inputs that change the stage's artifact */
  readonly key: pulumi.Input<string>;
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly keepCache: boolean;
}

/** Path of the tsx launcher, relative to the project directory, as the command line names it. */
const TSX = "node_modules/tsx/dist/cli.mjs";

/**
 * The `local.Command` of a stage. Its inputs are kept stable: only the content key (the trigger), the cache
 * directory and keepCache can change them, so a stage re-runs exactly when what it builds from changes. The
 * settings file is (re)written on every run of the program, so the driver always sees current values.
 */
export function stageCommand<K extends StageName>(
  name: string,
  args: StageCommandArgs<K>,
  opts: pulumi.CustomResourceOptions,
): command.local.Command {
  const settingsFile = path.join(args.buildDir, "stages", `${args.stage}.json`);
  const settingsRef = pulumi.all([args.settings, args.key]).apply(([settings]) => {
    fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
    const full = {
      ...settings,
      stage: args.stage,
      buildDir: args.buildDir,
      cacheDir: args.cacheDir,
      keepCache: args.keepCache,
    };
    fs.writeFileSync(settingsFile, JSON.stringify(full, null, 2) + "\n", { mode: 0o600 });
    return path.relative(process.cwd(), settingsFile) || settingsFile;
  });
  const driver = `drivers/${args.stage}.ts`;
  return new command.local.Command(
    name,
    {
      create: `node ${TSX} ${driver} create`,
      delete: `node ${TSX} ${driver} delete`,
      environment: {
        JHVM_SETTINGS: settingsRef,
        JHVM_KEY: args.key,
        JHVM_STAGE: args.stage,
        JHVM_CACHE_DIR: args.cacheDir,
        JHVM_BUILD_DIR: path.relative(process.cwd(), args.buildDir) || ".",
        JHVM_KEEP_CACHE: String(args.keepCache),
      },
      triggers: [args.key],
      logging: "stderr",
    },
    opts,
  );
}

export type StageOutput = StageResult;

/** The stage's command and its parsed result (the driver's last JSON line). */
export function runStage<K extends StageName>(
  name: string,
  args: StageCommandArgs<K>,
  opts: pulumi.CustomResourceOptions,
): { command: command.local.Command; result: pulumi.Output<StageResult> } {
  const cmd = stageCommand(name, args, opts);
  return { command: cmd, result: cmd.stdout.apply(parseResult) };
}
