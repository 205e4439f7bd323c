/** What the Packer-running drivers share (base-box, final-image). */
import { spawnSync } from "child_process";
import * as path from "path";
import { StageError } from "./lib";

export const PACKER_DIR = path.resolve(__dirname, "..", "packer");
export const BUILD_USER = "builder";
/** file in the base box's cache entry holding its build credentials (0600) */
export const CREDENTIALS_FILE = "build-credentials.json";

export function packerBinary(): string {
  return process.env.JHVM_PACKER || "packer";
}

/** SHA-512 crypt of a password, computed by openssl reading the password on stdin (not argv). */
export function sha512Crypt(password: string): string {
  const r = spawnSync("openssl", ["passwd", "-6", "-stdin"], { input: password + "\n", encoding: "utf8" });
  if (r.status !== 0 || !r.stdout.startsWith("$6$")) throw new StageError(`openssl passwd -6 failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function hcl(value: string): string {
  return JSON.stringify(value); // HCL string literals accept JSON escapes
}
