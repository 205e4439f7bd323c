/**
 * What every test folder shares: the repository root and scratch directories. Test infrastructure that is not a
 * test (the test OpenStack, the private libvirt, the stand-in `command` provider) lives in ../testbed/.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The repository root. */
export const REPO = path.resolve(__dirname, "..");

/** A fresh scratch directory under `base` (default: the system's temp dir). */
export function tempDir(prefix = "jhvm-test-", base = os.tmpdir()): string {
  return fs.mkdtempSync(path.join(base, prefix));
}
