// bench/export.ts works from a clean clone: run once (--runs 1) on a small partitioned disk made here (ext4 at 1 MiB
// with text and random files), it zero-fills a copy through a loop mount, exports it every way, finds every output
// holding the same disk as the source (`qemu-img compare`), and prints its table (header, machine line, one row per
// way). No timing is asserted (benchmarks never fail on timing); the numbers published in the README come from the
// full run on the hub test image. Needs root (loop devices) and QEMU.
import { execFileSync, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO, tempDir } from "../support";

jest.setTimeout(10 * 60_000);

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");

it("bench/export.ts exports a disk every way, each output the same disk, and prints its table", () => {
  const dir = tempDir("jhvm-bench-export-test-");
  const skel = path.join(dir, "skel");
  fs.mkdirSync(path.join(skel, "etc"), { recursive: true });
  fs.mkdirSync(path.join(skel, "usr/share/doc"), { recursive: true });
  for (let i = 0; i < 200; i++)
    fs.writeFileSync(path.join(skel, "usr/share/doc", `f${i}.txt`), `line ${i} of some text\n`.repeat(500));
  fs.writeFileSync(path.join(skel, "random.bin"), randomBytes(8 << 20));
  const raw = path.join(dir, "disk.raw");
  execFileSync("truncate", ["-s", "96M", raw]);
  execFileSync("sfdisk", ["-q", raw], { input: "start=2048, type=83\n" });
  execFileSync("mkfs.ext4", ["-q", "-F", "-E", "offset=1048576", "-d", skel, raw, "90M"]);
  const image = path.join(dir, "disk.qcow2");
  execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, image]);
  const loopsBefore = execFileSync("losetup", ["-a"], { encoding: "utf8" });

  const r = spawnSync(process.execPath, [TSX, "bench/export.ts", "--runs", "1", "--image", image], {
    cwd: REPO,
    encoding: "utf8",
  });
  expect(r.stderr).not.toMatch(/DIFFERS/);
  expect(r.status).toBe(0);
  const out = r.stdout;
  expect(out).toMatch(/^Export of one provisioned image \(disk\.qcow2, zero-filled: \d+ MB allocated, 1 runs each\)$/m);
  expect(out).toMatch(/qemu-img version \d+\.\d+/);
  const rows = out.split("\n").filter((l) => /^\| (?!way|---)/.test(l));
  expect(rows.map((l) => l.split(" | ")[0].slice(2))).toEqual([
    "seeds: streamOptimized vmdk",
    "qcow2 zlib",
    "qcow2 zlib -m 16",
    "**ours, zlib**: -m 16 -W",
    "qcow2 zstd",
    "qcow2 zstd -m 16",
    "**ours, zstd**: -m 16 -W",
    "qcow2 zstd -m 16 -W, 1 MiB clusters",
    "qcow2 uncompressed",
  ]);
  for (const row of rows) {
    const cells = row.split(" | ");
    // seconds (median, min, max), MB, speed-up and bytes against the vmdk: all numbers
    expect(cells.slice(1, 5).every((c) => /^\d+(\.\d)?$/.test(c))).toBe(true);
    expect(cells[5]).toMatch(/^\d+\.\d×$/);
    expect(cells[6]).toMatch(/^\d+\.\d\d×$/);
  }
  expect(rows[0].split(" | ")[6]).toBe("1.00×");
  // the zero-fill's loop device is gone, and the scratch directory with it
  expect(execFileSync("losetup", ["-a"], { encoding: "utf8" })).toBe(loopsBefore);
  expect(fs.readdirSync("/tmp").filter((n) => n.startsWith("jhvm-bench-export-") && !dir.includes(n))).toEqual([]);
});
