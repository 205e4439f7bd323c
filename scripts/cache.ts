/**
 * The shared artifact cache (`cacheDir`, default ~/.cache/jupyterhub-vm): list and prune it.
 *
 *   npm run cache -- list [--cache-dir DIR]
 *   npm run cache -- prune [--cache-dir DIR] [--older-than DAYS] [--dry-run]
 *
 * Each entry is `<cacheDir>/<stage>/<key>/` with a manifest.json written last (atomically, by rename). `list` shows
 * every entry with its stage, key, size, age and whether it verifies (manifest present, artifact of the recorded
 * size), then what else lives under the cache directory (tool builds, test images) with sizes. `prune` removes
 * entries that do not verify, leftover work directories and stale locks, and with `--older-than` also valid entries
 * created more than DAYS days ago; never anything of a build that is running (its lock is held by a live process);
 * `--dry-run` only says what it would remove. A stack that needs a pruned entry rebuilds it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pidAlive } from "../stages/driver";

export interface CacheEntry {
  readonly stage: string;
  readonly key: string;
  readonly dir: string;
  readonly bytes: number;
  readonly created?: Date;
  /** "ok", or why the entry is unusable */
  readonly state: string;
}

const STAGES = ["iso-image", "base-box", "final-image"];

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** The live pid that holds `<stageDir>/<key>.lock`, if a build of that key is running. */
function lockHolder(stageDir: string, key: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(stageDir, `${key}.lock`), "utf8").trim());
    return pid > 0 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid a work file carries (`.work-<key16>-<pid>`, `<key>.stale-<pid>`), if that process is alive. */
function liveOwner(name: string): number | undefined {
  const m = /(?:^\.work-[0-9a-f]+-|\.stale-)(\d+)$/.exec(name);
  return m && pidAlive(Number(m[1])) ? Number(m[1]) : undefined;
}

/** Other things under the cache directory: the tool builds, the test images, the host probe results. */
export interface OtherEntry {
  readonly name: string;
  readonly dir: string;
  readonly bytes: number;
  readonly what: string;
}

function describeOther(name: string): string {
  if (/^pulumi-resource-/.test(name))
    return "tool build: OpenStack provider plugin (scripts/install-openstack-provider.sh)";
  if (/^pulumi-\d/.test(name)) return "tool build: Pulumi CLI (scripts/install-pulumi.sh)";
  if (/^packer-\d/.test(name)) return "tool build: Packer and plugins (scripts/install-packer.sh)";
  if (name === "packer_cache") return "Packer's download cache";
  if (name === "host") return "host probe results (image.accelerator auto)";
  if (name.startsWith("images/")) return "test image (tests/, testbed/hub-image; bounded by testbed/cache-keep.sh)";
  return "not made by this project's stages";
}

export function listOther(cacheDir: string): OtherEntry[] {
  if (!fs.existsSync(cacheDir)) return [];
  const out: OtherEntry[] = [];
  for (const name of fs.readdirSync(cacheDir).sort()) {
    const dir = path.join(cacheDir, name);
    if (STAGES.includes(name) || !fs.statSync(dir).isDirectory()) continue;
    if (name === "images") {
      // one row per test image (a file, or a directory of one)
      for (const entry of fs.readdirSync(dir).sort()) {
        const e = path.join(dir, entry);
        const st = fs.statSync(e);
        const bytes = st.isDirectory() ? dirBytes(e) : st.size;
        out.push({ name: `images/${entry}`, dir: e, bytes, what: describeOther(`images/${entry}`) });
      }
      continue;
    }
    out.push({ name, dir, bytes: dirBytes(dir), what: describeOther(name) });
  }
  return out;
}

export function listCache(cacheDir: string): { entries: CacheEntry[]; debris: string[]; busy: string[] } {
  const entries: CacheEntry[] = [];
  const debris: string[] = [];
  /** work files of builds that are running: never pruned */
  const busy: string[] = [];
  for (const stage of STAGES) {
    const stageDir = path.join(cacheDir, stage);
    if (!fs.existsSync(stageDir)) continue;
    const names = fs.readdirSync(stageDir).sort();
    const anyLive = names.some((n) => n.endsWith(".lock") && lockHolder(stageDir, n.slice(0, -5)) !== undefined);
    for (const name of names) {
      const dir = path.join(stageDir, name);
      if (name.startsWith(".work-") || name.includes(".stale-")) {
        (liveOwner(name) !== undefined ? busy : debris).push(dir);
        continue;
      }
      if (name.endsWith(".part")) {
        // a download in progress is named by its checksum, not its key: kept while any build of the stage runs
        (anyLive ? busy : debris).push(dir);
        continue;
      }
      if (name.endsWith(".lock")) {
        if (lockHolder(stageDir, name.slice(0, -5)) === undefined) debris.push(dir);
        continue;
      }
      if (!fs.statSync(dir).isDirectory()) continue;
      const holder = lockHolder(stageDir, name);
      const manifestFile = path.join(dir, "manifest.json");
      let state = "ok";
      let created: Date | undefined;
      if (holder !== undefined) state = `busy (a build holds its lock, pid ${holder})`;
      else if (!fs.existsSync(manifestFile)) state = "no manifest";
      else {
        try {
          const m = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as {
            created: string;
            result: { path: string; size: number };
          };
          created = new Date(m.created);
          if (!fs.existsSync(m.result.path)) state = "artifact missing";
          else if (fs.statSync(m.result.path).size !== m.result.size) state = "artifact size differs from manifest";
        } catch (e) {
          state = `bad manifest (${(e as Error).message})`;
        }
      }
      entries.push({ stage, key: name, dir, bytes: dirBytes(dir), created, state });
    }
  }
  return { entries, debris, busy };
}

/**
 * What prune removes (or, with dryRun, would remove): leftovers of builds that are not running, entries that do not
 * verify, and with olderThanDays valid entries made before then. Never an entry or work file of a running build.
 */
export function pruneCache(cacheDir: string, opts: { olderThanDays?: number; dryRun?: boolean } = {}): string[] {
  const { entries, debris } = listCache(cacheDir);
  const cutoff = opts.olderThanDays !== undefined ? Date.now() - opts.olderThanDays * 86400_000 : undefined;
  const doomed = [
    ...debris,
    ...entries
      .filter((e) => !e.state.startsWith("busy"))
      .filter(
        (e) => e.state !== "ok" || (cutoff !== undefined && e.created !== undefined && e.created.getTime() < cutoff),
      )
      .map((e) => e.dir),
  ];
  if (!opts.dryRun) for (const d of doomed) fs.rmSync(d, { recursive: true, force: true });
  return doomed;
}

function human(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  const opt = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const raw = opt("--cache-dir") ?? process.env.JHVM_CACHE_DIR ?? "~/.cache/jupyterhub-vm";
  const cacheDir = raw.startsWith("~/") ? path.join(os.homedir(), raw.slice(2)) : path.resolve(raw);
  if (cmd === "list") {
    const { entries, debris, busy } = listCache(cacheDir);
    console.log(`cache ${cacheDir}`);
    console.log("| stage | key | size | created | state |\n|---|---|---|---|---|");
    for (const e of entries)
      console.log(
        `| ${e.stage} | ${e.key.slice(0, 16)} | ${human(e.bytes)} | ${e.created?.toISOString() ?? "-"} | ${e.state} |`,
      );
    console.log(
      `${entries.length} entries, ${human(entries.reduce((a, e) => a + e.bytes, 0))}; ${debris.length} leftover work files; ${busy.length} work files of running builds`,
    );
    const other = listOther(cacheDir);
    if (other.length) {
      console.log("\n| also under the cache directory | size | what |\n|---|---|---|");
      for (const o of other) console.log(`| ${o.name} | ${human(o.bytes)} | ${o.what} |`);
      console.log(`${other.length} more, ${human(other.reduce((a, o) => a + o.bytes, 0))} (prune leaves them alone)`);
    }
    return 0;
  }
  if (cmd === "prune") {
    const days = opt("--older-than");
    if (days !== undefined && !/^\d+(\.\d+)?$/.test(days)) {
      console.error(`--older-than takes a number of days, got ${JSON.stringify(days)}`);
      return 2;
    }
    const dryRun = rest.includes("--dry-run");
    const removed = pruneCache(cacheDir, {
      olderThanDays: days === undefined ? undefined : Number(days),
      dryRun,
    });
    for (const d of removed) console.log(`${dryRun ? "would remove" : "removed"} ${d}`);
    console.log(
      dryRun ? `${removed.length} would be removed (dry run: nothing was removed)` : `${removed.length} removed`,
    );
    return 0;
  }
  console.error("usage: cache list|prune [--cache-dir DIR] [--older-than DAYS] [--dry-run]");
  return 2;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
