/**
 * sha256 of an image file given in the config (`image.source: file`), remembered by path, size and mtime in the
 * cache directory so a multi-GiB file is hashed once, not on every preview.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** sha256 (hex) of a file, read in 4 MiB chunks (synchronous: the program needs it while registering resources). */
export function sha256FileSync(file: string): string {
  const h = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(4 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

export function fileSha256Cached(file: string, cacheDir: string): string {
  const st = fs.statSync(file);
  const memo = path.join(cacheDir, "file-hashes.json");
  const id = `${path.resolve(file)}|${st.size}|${st.mtimeMs}`;
  let known: Record<string, string> = {};
  try {
    known = JSON.parse(fs.readFileSync(memo, "utf8")) as Record<string, string>;
  } catch {
    known = {};
  }
  if (known[id]) return known[id];
  const sha = sha256FileSync(file);
  known[id] = sha;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${memo}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(known, null, 1));
  fs.renameSync(tmp, memo);
  return sha;
}
