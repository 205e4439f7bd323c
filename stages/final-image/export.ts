/**
 * The export of the provisioned disk: which compression `image.compression: auto` means for a target, and the
 * `qemu-img convert` arguments for each format and compression (run by driver.ts; compared with the seeds' vmdk and
 * every other qemu-img option by bench/export.ts, whose table is in the README).
 */
import type { FinalImageSettings } from "./settings";

export type Compression = FinalImageSettings["compression"];

/** The oldest QEMU that reads and writes zstd-compressed qcow2 (QEMU 5.1 added `compression_type`). */
export const ZSTD_MIN_QEMU = "5.1";

/**
 * `auto`: zstd where the target's QEMU is known to read it, zlib otherwise. The local target runs the image with this
 * machine's QEMU, the one that exports it (preview checks its version when zstd is used); an OpenStack cloud's compute
 * hosts are not visible to a normal account, so zlib, which every QEMU reads, unless the user sets zstd.
 */
export function resolveCompression(
  setting: Compression | "auto",
  target: string,
): { compression: Compression; why?: string } {
  if (setting !== "auto") return { compression: setting };
  if (target === "local")
    return {
      compression: "zstd",
      why: `the local target boots the image with this machine's QEMU, which also exports it (zstd needs QEMU >= ${ZSTD_MIN_QEMU}, checked below)`,
    };
  return {
    compression: "zlib",
    why:
      `every QEMU reads zlib; an OpenStack account cannot see its compute hosts' QEMU. If they run QEMU >= ${ZSTD_MIN_QEMU} ` +
      "(an admin sees it with `openstack hypervisor show <host> -c hypervisor_version`, e.g. 6002000 = 6.2.0), set image.compression zstd: the export is about " +
      "5 times faster (README: Benchmarks)",
  };
}

/**
 * qemu-img arguments for the export. A compressed qcow2 is written with 16 requests in flight and out of order
 * (`-m 16 -W`), so the compression runs on every core: bench/export.ts measured zstd 9.1 s → 5.1 s on 2 cores, the
 * same disk (`qemu-img compare`) and the same size. `parallel: false` gives the plain command (the benchmark's
 * baseline).
 */
export function exportArgs(
  format: FinalImageSettings["exportFormat"],
  compression: Compression,
  src: string,
  dst: string,
  opts: { parallel?: boolean } = {},
): string[] {
  const args = ["convert", "-p", "-f", "qcow2"];
  if (format === "qcow2") {
    args.push("-O", "qcow2");
    if (compression !== "none") args.push("-c");
    if (compression === "zstd") args.push("-o", "compression_type=zstd");
    if (compression !== "none" && opts.parallel !== false) args.push("-m", "16", "-W");
  } else if (format === "vmdk") args.push("-O", "vmdk", "-o", "subformat=streamOptimized");
  else args.push("-O", "raw");
  return [...args, src, dst];
}
