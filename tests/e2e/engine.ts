/**
 * The environment the e2e tests run the real Pulumi CLI in: the engine built by scripts/install-pulumi.sh, the
 * real OpenStack provider plugin built by scripts/install-openstack-provider.sh (bridged
 * terraform-provider-openstack) and the test-only `command` stand-in (testbed/standin-command-provider/README.md) on PATH,
 * a file:// backend in the test's work directory, a random passphrase for its secrets, and no update checks or
 * plugin downloads.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
export { REPO } from "../support";
import { REPO } from "../support";

/** The bin dir a build script installs into (it builds on a cache miss; a hit takes well under a second). */
function installed(script: string, binary: string): string {
  const bin = execFileSync("bash", [path.join(REPO, "scripts", script), "--print-path"], { encoding: "utf8" }).trim();
  if (!fs.existsSync(path.join(bin, binary)))
    throw new Error(`no ${binary} in ${bin}: run scripts/${script} (.ci/run does)`);
  return bin;
}

/** Where the bridged pulumi-resource-openstack is installed (its directory is on the engine's PATH). */
export function openstackProviderBin(): string {
  return installed("install-openstack-provider.sh", "pulumi-resource-openstack");
}

export function engineEnv(
  work: string,
  extra: NodeJS.ProcessEnv = {},
  passphrase = crypto.randomBytes(16).toString("hex"),
): NodeJS.ProcessEnv {
  const pulumiBin = installed("install-pulumi.sh", "pulumi");
  fs.mkdirSync(path.join(work, "state"), { recursive: true });
  const plugins = [openstackProviderBin(), path.join(REPO, "testbed/standin-command-provider/plugins")];
  return {
    ...process.env,
    PATH: [pulumiBin, ...plugins, process.env.PATH].join(":"),
    PULUMI_BACKEND_URL: `file://${work}/state`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ...extra,
  };
}

/**
 * Proof that the engine ran the bridged provider: the engine names the plugin it took from PATH, and that file is a
 * Go binary built from pulumi-terraform-bridge and terraform-provider-openstack (its embedded module list says so)
 * with the sha256 the build recorded. Returns the plugin's path.
 */
export function assertBridgedOpenstack(engineOutput: string): string {
  const m = /using pulumi-resource-openstack from \$PATH at (\S+)/.exec(engineOutput);
  if (!m)
    throw new Error(`the engine did not say which pulumi-resource-openstack it ran:\n${engineOutput.slice(-3000)}`);
  const plugin = m[1];
  const want = path.join(openstackProviderBin(), "pulumi-resource-openstack");
  if (fs.realpathSync(plugin) !== fs.realpathSync(want))
    throw new Error(`the engine ran ${plugin}, not the bridged provider ${want}`);
  const modules = execFileSync("go", ["version", "-m", plugin], { encoding: "utf8" });
  for (const dep of [
    /\sdep\s+github\.com\/pulumi\/pulumi-terraform-bridge\/v3\s+v3\.120\.0\s/,
    /\sdep\s+github\.com\/terraform-provider-openstack\/terraform-provider-openstack\/v3\s+v3\.4\.0\s/,
  ])
    if (!dep.test(modules)) throw new Error(`${plugin} is not the bridged provider (no ${dep} in go version -m)`);
  const stamp = fs.readFileSync(path.join(path.dirname(path.dirname(want)), "build.stamp"), "utf8");
  const sha = crypto.createHash("sha256").update(fs.readFileSync(plugin)).digest("hex");
  if (!stamp.includes(`sha256=${sha}`)) throw new Error(`${plugin} is not the binary the build recorded`);
  return plugin;
}
