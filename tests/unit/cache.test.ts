/** The cache commands: list shows entries and their state; prune removes what cannot be used, and old entries. */
import * as fs from "fs";
import * as path from "path";
import { listCache, listOther, main, pruneCache } from "../../scripts/cache";
import { tempDir } from "./harness";

function entry(cacheDir: string, stage: string, key: string, content: string, created = new Date()) {
  const dir = path.join(cacheDir, stage, key);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "artifact");
  fs.writeFileSync(file, content);
  fs.writeFileSync(
    path.join(dir, "manifest.json"),
    JSON.stringify({ created: created.toISOString(), result: { path: file, size: content.length, sha256: "x" } }),
  );
  return dir;
}

describe("cache list and prune", () => {
  it("lists valid entries and flags broken ones", () => {
    const c = tempDir();
    entry(c, "iso-image", "a".repeat(64), "iso");
    const broken = entry(c, "base-box", "b".repeat(64), "disk");
    fs.truncateSync(path.join(broken, "artifact"), 1);
    fs.mkdirSync(path.join(c, "final-image", "c".repeat(64)), { recursive: true }); // no manifest: interrupted
    fs.mkdirSync(path.join(c, "final-image", ".work-cccc-123"), { recursive: true });
    const { entries, debris } = listCache(c);
    expect(entries.map((e) => [e.stage, e.state])).toEqual([
      ["iso-image", "ok"],
      ["base-box", "artifact size differs from manifest"],
      ["final-image", "no manifest"],
    ]);
    expect(debris).toEqual([path.join(c, "final-image", ".work-cccc-123")]);
  });

  it("prune removes unusable entries and debris, keeps valid ones, and honours --older-than and --dry-run", () => {
    const c = tempDir();
    const good = entry(c, "iso-image", "a".repeat(64), "iso");
    const old = entry(c, "iso-image", "d".repeat(64), "old", new Date(Date.now() - 40 * 86400_000));
    const broken = entry(c, "base-box", "b".repeat(64), "disk");
    fs.rmSync(path.join(broken, "artifact"));
    expect(pruneCache(c, { dryRun: true })).toEqual([broken]);
    expect(fs.existsSync(broken)).toBe(true);
    expect(pruneCache(c)).toEqual([broken]);
    expect(fs.existsSync(broken)).toBe(false);
    expect(pruneCache(c, { olderThanDays: 30 })).toEqual([old]);
    expect(fs.existsSync(good)).toBe(true);
  });

  it("never touches a build that is running: its lock is held by a live process", () => {
    const c = tempDir();
    const key = "e".repeat(64);
    const stageDir = path.join(c, "final-image");
    // a build in progress: its lock (this process is alive), its work directory, an entry being replaced
    fs.mkdirSync(stageDir, { recursive: true });
    fs.writeFileSync(path.join(stageDir, `${key}.lock`), `${process.pid}\n`);
    const work = path.join(stageDir, `.work-${key.slice(0, 16)}-${process.pid}`);
    fs.mkdirSync(work);
    const entryDir = path.join(stageDir, key);
    fs.mkdirSync(entryDir); // no manifest yet: would be "broken" if nobody were building it
    // leftovers of a build whose process is gone
    const deadPid = 2 ** 22 + 17; // above pid_max's default: no such process
    const deadWork = path.join(stageDir, `.work-ffff-${deadPid}`);
    fs.mkdirSync(deadWork);
    fs.writeFileSync(path.join(stageDir, `${"f".repeat(64)}.lock`), `${deadPid}\n`);
    const { entries, busy } = listCache(c);
    expect(entries.map((e) => e.state)).toEqual([`busy (a build holds its lock, pid ${process.pid})`]);
    expect(busy).toEqual([work]);
    const removed = pruneCache(c, { olderThanDays: 0 });
    expect(removed.sort()).toEqual([deadWork, path.join(stageDir, `${"f".repeat(64)}.lock`)].sort());
    expect(fs.existsSync(work) && fs.existsSync(entryDir) && fs.existsSync(path.join(stageDir, `${key}.lock`))).toBe(
      true,
    );
  });

  it("--dry-run says what it would remove and removes nothing; list shows tool builds and test images", () => {
    const c = tempDir();
    const broken = entry(c, "base-box", "b".repeat(64), "disk");
    fs.rmSync(path.join(broken, "artifact"));
    fs.mkdirSync(path.join(c, "pulumi-3.248.0", "bin"), { recursive: true });
    fs.writeFileSync(path.join(c, "pulumi-3.248.0", "bin", "pulumi"), "x".repeat(2048));
    fs.mkdirSync(path.join(c, "images"), { recursive: true });
    fs.writeFileSync(path.join(c, "images", "hub-18eb832cc2810e3b.qcow2"), "y".repeat(4096));
    const out: string[] = [];
    const log = jest.spyOn(console, "log").mockImplementation((m: string) => void out.push(m));
    try {
      expect(main(["prune", "--dry-run", "--cache-dir", c])).toBe(0);
      expect(out).toEqual([`would remove ${broken}`, "1 would be removed (dry run: nothing was removed)"]);
      expect(fs.existsSync(broken)).toBe(true);
      out.length = 0;
      expect(main(["list", "--cache-dir", c])).toBe(0);
      const text = out.join("\n");
      expect(text).toContain("| pulumi-3.248.0 | 2.0 KiB | tool build: Pulumi CLI (scripts/install-pulumi.sh) |");
      expect(text).toMatch(/\| images\/hub-18eb832cc2810e3b\.qcow2 \| 4\.0 KiB \| test image/);
    } finally {
      log.mockRestore();
    }
    expect(listOther(c).map((o) => o.name)).toEqual(["images/hub-18eb832cc2810e3b.qcow2", "pulumi-3.248.0"]);
  });
});
