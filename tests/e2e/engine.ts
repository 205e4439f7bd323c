/**
 * The environment the e2e tests run the real Pulumi CLI in: the engine built by scripts/install-pulumi.sh, the
 * test-only stand-in provider plugins (tests/standin-providers/README.md) first on PATH, a file:// backend in the
 * test's work directory, a random passphrase for its secrets, and no update checks or plugin downloads.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export const REPO = path.resolve(__dirname, "..", "..");

export function engineEnv(
  work: string,
  extra: NodeJS.ProcessEnv = {},
  passphrase = crypto.randomBytes(16).toString("hex"),
): NodeJS.ProcessEnv {
  const pulumiBin = execFileSync("bash", [path.join(REPO, "scripts/install-pulumi.sh"), "--print-path"], {
    encoding: "utf8",
  }).trim();
  if (!fs.existsSync(path.join(pulumiBin, "pulumi")))
    throw new Error(`no pulumi in ${pulumiBin}: run scripts/install-pulumi.sh (.ci/run does)`);
  fs.mkdirSync(path.join(work, "state"), { recursive: true });
  return {
    ...process.env,
    PATH: `${pulumiBin}:${path.join(REPO, "tests/standin-providers/plugins")}:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${work}/state`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ...extra,
  };
}
