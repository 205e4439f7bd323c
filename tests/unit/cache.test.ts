/** The cache commands: list shows entries and their state; prune removes what cannot be used, and old entries. */
import * as fs from "fs";
import * as path from "path";
import { listCache, pruneCache } from "../../scripts/cache";
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
});
