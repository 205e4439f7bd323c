/**
 * What the benchmarks share: statistics, the Markdown table, the machine line (date, cores, memory, versions), the
 * test OpenStack (started when down, stopped after when the benchmark started it) and the engine's environment.
 * Benchmarks print numbers; they never fail on timing (exit 1 only when a step they time did not work).
 */
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";

export const REPO = path.resolve(__dirname, "..");
export const LAB = process.env.LAB ?? "/tmp/jhvm-lab";

/** `--name value` from the command line, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A Markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export const secs = (ms: number) => (ms / 1000).toFixed(1);
export const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

function firstLine(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split("\n")[0] : "not found";
}

/** Date, machine and the versions of the given tools: the header line a table is published with. */
export function machineLine(tools: [string, string[]][], env?: NodeJS.ProcessEnv): string {
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, " ") ?? "?";
  const parts = [
    new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    `${os.cpus().length} cores (${cpu})`,
    `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `Linux ${os.release()}`,
    `node ${process.version}`,
    ...tools.map(([cmd, args]) => {
      const line = firstLine(cmd, args, env);
      const name = path.basename(cmd);
      return line.includes(name) ? line : `${name} ${line}`;
    }),
  ];
  return parts.join("; ");
}

/** Directory of a build script's binaries (it builds on a cache miss, answers at once on a hit). */
export const binDir = (script: string) =>
  execFileSync("bash", [path.join(REPO, "scripts", script), "--print-path"], { encoding: "utf8" }).trim();

/** Starts the test OpenStack unless it is up; returns how to stop it again (a no-op when it was already up). */
export function ensureLab(extraEnv: NodeJS.ProcessEnv = {}): { startedSecs: number; stop: () => void } {
  const env = { ...process.env, LAB, ...extraEnv };
  const up = spawnSync("bash", [path.join(REPO, "testbed/openstack-lab/up.sh"), "--check"], { encoding: "utf8", env });
  if (up.status === 0) return { startedSecs: 0, stop: () => undefined };
  const t0 = Date.now();
  // its progress goes to stderr: stdout is the table
  execFileSync("bash", [path.join(REPO, "testbed/openstack-lab/up.sh")], { stdio: ["ignore", 2, 2], env });
  return {
    startedSecs: (Date.now() - t0) / 1000,
    stop: () =>
      void spawnSync("bash", [path.join(REPO, "testbed/openstack-lab/down.sh")], { stdio: ["ignore", 2, 2], env }),
  };
}

/**
 * The real engine's environment for a benchmark: the Pulumi CLI and the OpenStack provider built from Go modules
 * (scripts/), the `command` stand-in when asked (pulumi-command cannot be built here), a file:// backend under
 * `work`, a random passphrase, the lab's clouds.yaml, no update checks and no plugin downloads.
 */
export function engineEnv(work: string, opts: { standinCommand?: boolean } = {}): NodeJS.ProcessEnv {
  const paths = [binDir("install-pulumi.sh"), binDir("install-openstack-provider.sh")];
  if (opts.standinCommand) paths.unshift(path.join(REPO, "testbed/standin-command-provider/plugins"));
  fs.mkdirSync(path.join(work, "state"), { recursive: true });
  return {
    ...process.env,
    PATH: [...paths, process.env.PATH].join(":"),
    PULUMI_BACKEND_URL: `file://${work}/state`,
    PULUMI_HOME: path.join(work, "pulumi-home"),
    PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(12).toString("hex"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // enables `--event-log` (the engine's events as JSON lines: what each resource's step was, with timestamps)
    PULUMI_DEBUG_COMMANDS: "true",
    OS_CLIENT_CONFIG_FILE: path.join(LAB, "clouds.yaml"),
  };
}

/** A scratch directory under the temp dir, removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh ed25519 public key (Nova refuses a made-up one): what `openstack.publicKey` gets. */
export function publicKey(dir: string, name = "bench-key"): string {
  const key = path.join(dir, name);
  if (!fs.existsSync(`${key}.pub`))
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", key]);
  return fs.readFileSync(`${key}.pub`, "utf8").trim();
}

/**
 * A stack of this project for a benchmark: its `Pulumi.<name>.yaml` with `config`, `stack init` and a random admin
 * password (on stdin). `run` runs the CLI on it and returns stdout (it throws with the output's tail when the CLI
 * fails); `remove` destroys the stack's resources and removes the stack and its file.
 */
export function benchStack(
  env: NodeJS.ProcessEnv,
  name: string,
  config: Record<string, unknown>,
): { run: (args: string[], input?: string) => string; remove: () => void } {
  const file = path.join(REPO, `Pulumi.${name}.yaml`);
  const cli = (args: string[], input?: string) =>
    spawnSync("pulumi", [...args, "--stack", name, "--non-interactive"], {
      cwd: REPO,
      env,
      input,
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
  const run = (args: string[], input?: string) => {
    const r = cli(args, input);
    if (r.status !== 0)
      throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout.slice(-4000)}${r.stderr.slice(-3000)}`);
    return r.stdout;
  };
  fs.writeFileSync(file, yaml.dump({ config }));
  run(["stack", "init"]);
  run(["config", "set", "--secret", "adminPassword"], crypto.randomBytes(12).toString("base64url"));
  return {
    run,
    remove: () => {
      cli(["destroy", "--yes", "--skip-preview"]);
      cli(["stack", "rm", "--yes", "--force"]);
      fs.rmSync(file, { force: true });
    },
  };
}

/** The `openstack` section of a benchmark stack on the test OpenStack (as its non-admin user; no hub to wait for). */
export function labOpenstack(dir: string, imageName: string): Record<string, unknown> {
  return {
    cloud: "lab-demo",
    flavor: "m1.small",
    network: "lab-net",
    floatingIpPool: "public",
    publicKey: publicKey(dir),
    minRamMb: 256,
    waitForHub: false,
    imageName,
  };
}
