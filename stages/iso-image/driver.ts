/**
 * Driver of the IsoImage stage (component.ts): a verified ISO.
 * 1. The checksum is the pinned one, or read from the release's SHA256SUMS by the ISO's file name.
 * 2. A local copy (`localPath`) whose sha256 matches is used as it is.
 * 3. Otherwise the ISO is downloaded with curl (proxies from the environment; an interrupted download resumes) into
 *    the cache, verified, and published; a mismatch fails the stage and nothing is kept.
 */
import * as fs from "fs";
import * as path from "path";
import { StageError, main, publish, sha256File, workDir } from "../driver";
import { ISO_IMAGE } from "./settings";

function fileOfUrl(url: string): string {
  return decodeURIComponent(new URL(url).pathname.split("/").pop() || "image.iso");
}

main(ISO_IMAGE, {
  async create(stage) {
    const s = stage.settings;
    let expected = s.sha256;
    const isoName = fileOfUrl(s.url);
    if (!expected) {
      stage.log(`reading checksum of ${isoName} from ${s.sha256SumsUrl}`);
      const sums = await stage.run(
        "curl",
        ["--fail", "--silent", "--show-error", "--location", "--retry", "3", s.sha256SumsUrl],
        { quiet: true },
      );
      const line = sums
        .split("\n")
        .find((l) => l.trim().split(/\s+\*?/)[1] === isoName || l.trim().endsWith(`*${isoName}`));
      const m = line && /^([0-9a-f]{64})\s/.exec(line.trim());
      if (!m) throw new StageError(`${s.sha256SumsUrl} lists no sha256 for ${isoName}`);
      expected = m[1];
    }
    if (s.localPath && fs.existsSync(s.localPath)) {
      const sha = await sha256File(s.localPath);
      if (sha === expected) {
        stage.log(`using local copy ${s.localPath}`);
        return { path: s.localPath, sha256: sha, size: fs.statSync(s.localPath).size, source: "local" };
      }
      stage.log(`local copy ${s.localPath} has sha256 ${sha}, expected ${expected}: not used`);
    }
    const dir = workDir(stage.settings, stage.key);
    // a partial download is kept next to the cache entry under a stable name, so a re-run resumes it
    const partial = path.join(path.dirname(dir), `${expected}.part`);
    stage.log(`downloading ${s.url}`);
    await stage.run("curl", ["--fail", "--location", "--retry", "3", "--continue-at", "-", "--output", partial, s.url]);
    const sha = await sha256File(partial);
    if (sha !== expected) {
      fs.rmSync(partial, { force: true });
      fs.rmSync(dir, { recursive: true, force: true });
      throw new StageError(
        `checksum mismatch for ${s.url}: got ${sha}, expected ${expected}; the download was deleted`,
      );
    }
    fs.renameSync(partial, path.join(dir, isoName));
    return publish(stage.settings, stage.key, dir, isoName, { source: "download" }, { url: s.url, sha256: expected });
  },
});
