/**
 * Builds (or finds cached) every test image and tool environment the test files need, one after another, so that
 * `.ci/run` can start them at the beginning of a run, while the Go builds, the type check and the unit tests go:
 * on a fresh machine their downloads (Debian's mirror, PyPI) and chroot work then overlap work that waits on the
 * CPU instead of stalling the tests that boot the images. Each builder is cached by content and flock'ed, so a
 * test that needs an image this script is still building waits for it and then finds it in the cache; nothing is
 * built twice, and a test never depends on this script having run (it builds what it needs itself).
 *
 *   npx tsx tests/prebuild.ts      # as root, with ../shared beside the repository; one line per item, then a table
 *
 * Exits 1 when an item failed (the tests that need it fail on it again, with their own message).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { FIRSTUSE, SECOND_IMAGE, hubImage, hubSettings } from "./hub/hub-image";
import { REPO } from "./support";

/** The items, most needed first: the hub image gates the longest test files (hub-boot, local-hub, newcomer). */
const ITEMS: [string, () => void][] = [
  ["hub image (FIRSTUSE: hub-boot, local-hub, newcomer)", () => void hubImage(hubSettings(FIRSTUSE))],
  ["local-VM test image (local-vm, vagrant-stack, local-stacks)", () => script("tests/images/local-vm-test-image.sh")],
  ["hub image (SECOND_IMAGE: the replacements)", () => void hubImage(hubSettings(SECOND_IMAGE))],
  ["Ansible chroot rootfs (tests/ansible, identity)", () => script("tests/ansible/make-rootfs.sh")],
  ["TLJH hub environment on the host (tljh-config)", () => script("testbed/hub-image/hub-env.sh")],
  ["Debian netboot ISO (installer)", () => script("tests/images/debian12-netboot-iso.sh")],
];

function script(rel: string): void {
  const r = spawnSync("bash", [path.join(REPO, rel)], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${rel} exited ${r.status}:\n${(r.stderr ?? "").slice(-3000)}`);
}

/** hubImage's scratch directories (tests/support.ts tempDir: outside Jest nobody else removes them). */
function removeScratch(): void {
  const g = globalThis as { __jhvmTempDirs?: string[] };
  for (const d of g.__jhvmTempDirs ?? []) fs.rmSync(d, { recursive: true, force: true });
  g.__jhvmTempDirs = [];
}

const rows: string[] = [];
let failed = 0;
const t0 = Date.now();
for (const [name, build] of ITEMS) {
  const t = Date.now();
  let status = "ok";
  try {
    build();
  } catch (e) {
    failed++;
    status = "FAILED";
    console.error(`[prebuild] ${name}: ${(e as Error).message}`);
  } finally {
    removeScratch();
  }
  const s = ((Date.now() - t) / 1000).toFixed(0);
  console.error(`[prebuild] ${name}: ${status} in ${s} s`);
  rows.push(`| ${name} | ${status} | ${s} |`);
}
console.log(
  [
    `Test images prebuilt in ${((Date.now() - t0) / 1000).toFixed(0)} s (a cache hit takes about a second)`,
    "",
    "| item | result | s |",
    "|---|---|---:|",
    ...rows,
  ].join("\n"),
);
process.exit(failed ? 1 : 0);
