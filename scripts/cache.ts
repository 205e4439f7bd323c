/**
 * The shared artifact cache (`cacheDir`, default ~/.cache/jupyterhub-vm): list and prune it.
 *
 *   npm run cache -- list [--cache-dir DIR]
 *   npm run cache -- prune [--cache-dir DIR] [--older-than DAYS] [--dry-run]
 *
 * Each entry is `<cacheDir>/<stage>/<key>/` with a manifest.json written last (atomically, by rename). `list` shows
 * every entry with its stage, key, size, age and whether it verifies (manifest present, artifact of the recorded
 * size). `prune` removes entries that do not verify, leftover work directories and stale locks, and with
 * `--older-than` also valid entries created more than DAYS days ago. A stack that needs a pruned entry rebuilds it.
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

export function listCache(cacheDir: string): { entries: CacheEntry[]; debris: string[] } {
  const entries: CacheEntry[] = [];
  const debris: string[] = [];
  for (const stage of STAGES) {
    const stageDir = path.join(cacheDir, stage);
    if (!fs.existsSync(stageDir)) continue;
    for (const name of fs.readdirSync(stageDir).sort()) {
      const dir = path.join(stageDir, name);
      if (name.startsWith(".work-") || name.includes(".stale-") || name.endsWith(".part")) {
        debris.push(dir);
        continue;
      }
      if (name.endsWith(".lock")) {
        if (!pidAlive(Number(fs.readFileSync(dir, "utf8").trim()))) debris.push(dir);
        continue;
      }
      if (!fs.statSync(dir).isDirectory()) continue;
      const manifestFile = path.join(dir, "manifest.json");
      let state = "ok";
      let created: Date | undefined;
      if (!fs.existsSync(manifestFile)) state = "no manifest";
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
  return { entries, debris };
}

export function pruneCache(cacheDir: string, opts: { olderThanDays?: number; dryRun?: boolean } = {}): string[] {
  const { entries, debris } = listCache(cacheDir);
  const cutoff = opts.olderThanDays !== undefined ? Date.now() - opts.olderThanDays * 86400_000 : undefined;
  const doomed = [
    ...debris,
    ...entries
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

function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  const opt = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const raw = opt("--cache-dir") ?? process.env.JHVM_CACHE_DIR ?? "~/.cache/jupyterhub-vm";
  const cacheDir = raw.startsWith("~/") ? path.join(os.homedir(), raw.slice(2)) : path.resolve(raw);
  if (cmd === "list") {
    const { entries, debris } = listCache(cacheDir);
    console.log(`cache ${cacheDir}`);
    console.log("| stage | key | size | created | state |\n|---|---|---|---|---|");
    for (const e of entries)
      console.log(
        `| ${e.stage} | ${e.key.slice(0, 16)} | ${human(e.bytes)} | ${e.created?.toISOString() ?? "-"} | ${e.state} |`,
      );
    console.log(
      `${entries.length} entries, ${human(entries.reduce((a, e) => a + e.bytes, 0))}; ${debris.length} leftover work files`,
    );
    return 0;
  }
  if (cmd === "prune") {
    const days = opt("--older-than");
    if (days !== undefined && !/^\d+(\.\d+)?$/.test(days)) {
      console.error(`--older-than takes a number of days, got ${JSON.stringify(days)}`);
      return 2;
    }
    const removed = pruneCache(cacheDir, {
      olderThanDays: days === undefined ? undefined : Number(days),
      dryRun: rest.includes("--dry-run"),
    });
    for (const d of removed) console.log(`${rest.includes("--dry-run") ? "would remove" : "removed"} ${d}`);
    console.log(`${removed.length} removed`);
    return 0;
  }
  console.error("usage: cache list|prune [--cache-dir DIR] [--older-than DAYS] [--dry-run]");
  return 2;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
