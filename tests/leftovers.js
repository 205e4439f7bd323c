/**
 * Jest globalSetup/globalTeardown: the scratch directories (jhvm-* in the system's temp dir and /var/tmp) that a
 * test run leaves behind. Tests remove theirs (tests/support.ts tempDir), and so do the program's drivers and the
 * testbed's builders; an entry made during the run and still there at its end fails the run, named.
 * JHVM_KEEP_TEST_OUTPUT=1 (keep scratch for a look after a failure) turns the check off.
 */
const fs = require("fs");
const os = require("os");
const path = require("path");

const DIRS = [...new Set([os.tmpdir(), "/var/tmp"])];
const entries = () =>
  DIRS.flatMap((d) => {
    try {
      return fs
        .readdirSync(d)
        .filter((n) => n.startsWith("jhvm-"))
        .map((n) => path.join(d, n));
    } catch {
      return [];
    }
  });

module.exports = {
  setup: async () => {
    globalThis.__jhvmLeftoversBefore = new Set(entries());
  },
  teardown: async () => {
    if (process.env.JHVM_KEEP_TEST_OUTPUT === "1") return;
    const before = globalThis.__jhvmLeftoversBefore ?? new Set();
    const left = entries().filter((e) => !before.has(e));
    if (left.length)
      throw new Error(`the test run left ${left.length} scratch entries behind:\n  ${left.join("\n  ")}`);
  },
};
