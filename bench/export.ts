/**
 * Export of a provisioned image: the seeds' way (a streamOptimized vmdk, what `vagrant package` ships and they upload)
 * against ours (a compressed qcow2, stages/final-image/export.ts) with every option `qemu-img` has:
 * zlib, zstd, more parallel requests (`-m 16`), out-of-order writes (`-W`), a bigger cluster. One command from a
 * clean clone (as root, with ../shared beside it; QEMU and ansible as `.ci/run` installs them):
 *
 *   npx tsx bench/export.ts [--runs 3] [--image disk.qcow2]
 *
 * The image: by default the hub test image (testbed/hub-image/build.sh: Debian 12, TLJH's hub tier, R, our roles and
 * sysprep; built once, ~8 min, then cached), then zero-filled the way sysprep's last step does in a build (free space
 * of its root file system written with zeros and deleted, through a loop mount), so every way starts from the disk
 * Packer leaves behind. Each run exports it once per way, in the same order, from the page cache; every output is
 * checked to hold the same disk (`qemu-img compare`) once. Prints a Markdown table: median/min/max seconds, bytes,
 * speed-up against the vmdk and bytes against the vmdk. Never fails on timing.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { exportArgs } from "../stages/final-image/export";
import { hubTestImage } from "./images";
import { arg, machineLine, mb, median, scratch, secs, table } from "./lib";

const RUNS = Number(arg("runs", "3"));

interface Way {
  name: string;
  note: string;
  args: (src: string, dst: string) => string[];
  ext: string;
}

/**
 * One way to export: `exportArgs` for the format and compression (`parallel: false` drops the `-m 16 -W` ours adds),
 * with `extra` options put after `convert`.
 */
function way(
  name: string,
  note: string,
  format: "qcow2" | "vmdk",
  compression: "zlib" | "zstd" | "none",
  parallel: boolean,
  extra: string[] = [],
): Way {
  return {
    name,
    note,
    args: (s, d) => withOpts(exportArgs(format, compression, s, d, { parallel }), extra),
    ext: format,
  };
}

const M16 = ["-m", "16"];

// prettier-ignore
const WAYS: Way[] = [
  way("seeds: streamOptimized vmdk", "what `vagrant package` ships (its tar.gz and the extraction not counted)", "vmdk", "none", true),
  way("qcow2 zlib", "`-c`: our export before this benchmark", "qcow2", "zlib", false),
  way("qcow2 zlib -m 16", "16 requests in flight, written in order", "qcow2", "zlib", false, M16),
  way("**ours, zlib**: -m 16 -W", "out-of-order writes: compression on every core; `image.compression` zlib (auto for openstack)", "qcow2", "zlib", true),
  way("qcow2 zstd", "`-c -o compression_type=zstd`", "qcow2", "zstd", false),
  way("qcow2 zstd -m 16", "16 requests in flight, written in order", "qcow2", "zstd", false, M16),
  way("**ours, zstd**: -m 16 -W", "`image.compression` zstd (auto for local)", "qcow2", "zstd", true),
  way("qcow2 zstd -m 16 -W, 1 MiB clusters", "`-o cluster_size=1M`; not taken: a 4 KiB read of the image then inflates 1 MiB", "qcow2", "zstd", true, ["-o", "cluster_size=1M"]),
  way("qcow2 uncompressed", "for reference", "qcow2", "none", true),
];

/** Inserts options after `convert` (before the file names). */
function withOpts(args: string[], opts: string[]): string[] {
  return [args[0], ...opts, ...args.slice(1)];
}

function run(cmd: string, args: string[], opts: { quiet?: boolean } = {}): void {
  execFileSync(cmd, args, { stdio: opts.quiet ? ["ignore", "ignore", "inherit"] : "inherit" });
}

/** A copy of `image` whose root file system's free space is zeros (sysprep's zero-fill), as an uncompressed qcow2. */
function zeroFilled(image: string, dir: string): string {
  const raw = path.join(dir, "disk.raw");
  run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", image, raw]);
  // the biggest partition, through a loop device at its offset (no udev here for partition devices)
  const table = JSON.parse(execFileSync("sfdisk", ["--json", raw], { encoding: "utf8" })) as {
    partitiontable: { sectorsize?: number; partitions: { start: number; size: number }[] };
  };
  const sector = table.partitiontable.sectorsize ?? 512;
  const part = [...table.partitiontable.partitions].sort((x, y) => y.size - x.size)[0];
  if (!part) throw new Error(`no partition on ${image}`);
  const loop = execFileSync(
    "losetup",
    ["--find", "--show", "--offset", String(part.start * sector), "--sizelimit", String(part.size * sector), raw],
    { encoding: "utf8" },
  ).trim();
  const mnt = path.join(dir, "mnt");
  fs.mkdirSync(mnt);
  try {
    run("mount", [loop, mnt]);
    try {
      // dd ends with "No space left on device": that is the point
      spawnSync("dd", ["if=/dev/zero", `of=${mnt}/zero.fill`, "bs=4M", "status=none"], { stdio: "ignore" });
      fs.rmSync(path.join(mnt, "zero.fill"), { force: true });
      run("sync", []);
    } finally {
      run("umount", [mnt]);
    }
  } finally {
    run("losetup", ["-d", loop]);
  }
  const out = path.join(dir, "provisioned.qcow2");
  run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, out]);
  fs.rmSync(raw);
  return out;
}

function main(): number {
  const work = scratch("jhvm-bench-export-");
  try {
    const given = arg("image", "");
    const image = given || hubTestImage(work.dir);
    console.error(`source image ${image}: zero-filling a copy`);
    const src = zeroFilled(image, work.dir);
    const srcBytes = fs.statSync(src).size;
    run("cat", [src], { quiet: true }); // into the page cache, as Packer leaves it
    const times = new Map<string, number[]>();
    const bytes = new Map<string, number>();
    const notes = new Map<string, string>();
    for (let i = 0; i < RUNS; i++) {
      for (const w of WAYS) {
        if (notes.get(w.name)?.startsWith("refused")) continue;
        const dst = path.join(work.dir, `out.${w.ext}`);
        fs.rmSync(dst, { force: true });
        const t0 = process.hrtime.bigint();
        const r = spawnSync(
          "qemu-img",
          w.args(src, dst).filter((a) => a !== "-p"),
          { encoding: "utf8" },
        );
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 0) {
          notes.set(w.name, `refused by qemu-img: ${r.stderr.trim().split("\n").pop()}`);
          continue;
        }
        (times.get(w.name) ?? times.set(w.name, []).get(w.name)!).push(ms);
        bytes.set(w.name, fs.statSync(dst).size);
        if (i === 0) {
          const cmp = spawnSync("qemu-img", ["compare", "-f", "qcow2", src, dst], { encoding: "utf8" });
          notes.set(w.name, cmp.status === 0 ? w.note : `DIFFERS from the source: ${cmp.stdout.trim()}`);
          if (cmp.status !== 0) console.error(`${w.name}: ${cmp.stdout}${cmp.stderr}`);
        }
        console.error(`run ${i + 1}/${RUNS} ${w.name}: ${secs(ms)} s, ${mb(fs.statSync(dst).size)} MB`);
        fs.rmSync(dst);
      }
    }
    const seeds = WAYS[0].name;
    const base = median(times.get(seeds) ?? [NaN]);
    const baseBytes = bytes.get(seeds) ?? NaN;
    const rows = WAYS.map((w) => {
      const t = times.get(w.name);
      if (!t) return [w.name, "—", "—", "—", "—", "—", "—", notes.get(w.name) ?? ""];
      const m = median(t);
      const b = bytes.get(w.name) ?? NaN;
      return [
        w.name,
        secs(m),
        secs(Math.min(...t)),
        secs(Math.max(...t)),
        mb(b),
        `${(base / m).toFixed(1)}×`,
        `${(b / baseBytes).toFixed(2)}×`,
        notes.get(w.name) ?? "",
      ];
    });
    console.log(
      `\nExport of one provisioned image (${path.basename(image)}, zero-filled: ${mb(srcBytes)} MB allocated, ` +
        `${RUNS} runs each)\n${machineLine([["qemu-img", ["--version"]]])}\n`,
    );
    console.log(
      table(
        ["way", "median s", "min s", "max s", "MB", "faster than vmdk", "bytes vs vmdk", "note"],
        rows as string[][],
      ),
    );
    const differs = [...notes.values()].some((n) => n.startsWith("DIFFERS"));
    return differs ? 1 : 0;
  } finally {
    work.remove();
  }
}

process.exit(main());
