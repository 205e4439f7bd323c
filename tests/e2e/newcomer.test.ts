/**
 * A newcomer's first run, with the real engine, in a copy of this repository, a HOME of its own and a PATH without
 * libvirt or Vagrant:
 * - a config mistake (`pulumi config set local.provider qemu`, no --path) fails preview with one clean message: the
 *   problem once, no stack trace, no ANSI codes, no dump of the error's fields, no unhandled-rejection warning;
 * - a preview of the dev stack with Packer, QEMU and Ansible hidden from PATH lists all of them with their install
 *   commands, and creates nothing (no build or cache directory, no resource in the state);
 * - README "Run it" as written (`<!-- newcomer:start -->` block), with the image block before `pulumi up` (the hub
 *   test image as image.source file: no ISO can be fetched here) ends with a hub answering on hubUrl, then destroys.
 * Substitutions, each for a reason: the line marked `needs internet` (pulumi.com's installer) is skipped, its
 * alternative (the CLI built from Go modules) runs; npm's install hook (it downloads the command plugin from
 * get.pulumi.com) is off through npm's environment, and the `command` plugin is the test stand-in (README, "Running
 * the engine … without downloads"); the tool caches (Go builds, npm) are the machine's, so nothing is rebuilt; the apt
 * line is checked with dpkg-query, not run (a test does not change the machine's packages); PULUMI_HOME and
 * PULUMI_BACKEND_URL point into the test's HOME (Pulumi reads "~" from the passwd entry, not $HOME).
 */
import { execFileSync, spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { REPO, qemuProcessesIn, tempDir } from "../support";
import { FIRSTUSE, hubImage, hubSettings } from "../hub/hub-image";

jest.setTimeout(30 * 60_000);

const PASSWORD = `New-${crypto.randomBytes(9).toString("base64url")}`;
let work: string;
let project: string;
let home: string;

/** A PATH of symlinks to everything on the machine's PATH except the named tools. */
function pathWithout(name: string, hidden: RegExp): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  const dirs = ["/usr/local/go/bin", ...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    if (!d || !fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d)) {
      if (hidden.test(f) || fs.existsSync(path.join(dir, f))) continue;
      fs.symlinkSync(path.join(d, f), path.join(dir, f));
    }
  }
  return dir;
}

/** The first test's environment: HOME of its own; the machine's tool caches; no libvirt or Vagrant on PATH. */
function newcomerEnv(pathDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: home,
    PATH: [path.join(project, "testbed/standin-command-provider/plugins"), pathDir].join(":"),
    LANG: "C.UTF-8",
    TERM: "dumb",
    JHVM_TOOLS_HOME: process.env.JHVM_TOOLS_HOME ?? path.join(os.homedir(), ".cache/jupyterhub-vm"),
    npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), ".npm"),
    npm_config_ignore_scripts: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // Pulumi finds "~" (`pulumi login --local`) and its home through the account's passwd entry, not $HOME: these
    // keep its login, plugins and the stack's state in the test's HOME (the same layout --local gives)
    PULUMI_HOME: path.join(home, ".pulumi"),
    PULUMI_BACKEND_URL: `file://${home}`,
    ...extra,
  };
}

function bash(script: string, env: NodeJS.ProcessEnv, input?: string): SpawnSyncReturns<string> {
  return spawnSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: project,
    env,
    input,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
}

/** The sh block between `<!-- <name>:start -->` and `<!-- <name>:end -->` in README.md, one command per line. */
function readmeBlock(name: string): string[] {
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
  const m = new RegExp(`<!-- ${name}:start -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1]
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });

let image: string;
let noLibvirt: string;

beforeAll(() => {
  work = tempDir("jhvm-newcomer-");
  project = path.join(work, "jupyterhub-vm");
  home = path.join(work, "home");
  fs.mkdirSync(home);
  // the repository as a clone has it (tracked and new files, not node_modules or build output)
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: REPO, encoding: "utf8" })
    .split("\0")
    .filter((f) => f && fs.existsSync(path.join(REPO, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(project, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO, f), path.join(project, f));
    fs.chmodSync(path.join(project, f), fs.statSync(path.join(REPO, f)).mode);
  }
  noLibvirt = pathWithout("path-no-libvirt", /^(vagrant|virsh|libvirtd|virtlogd|virt-)/);
});

// `pulumi login --local` initialises the backend at "~" from the passwd entry even with PULUMI_BACKEND_URL set: its
// two metadata files in the account's real ~/.pulumi are removed after, when this test made them
const realMeta = ["meta.yaml", "meta.yaml.attrs"].map((f) => path.join(os.userInfo().homedir, ".pulumi", f));
const metaBefore = realMeta.map((f) => fs.existsSync(f));

afterAll(() => {
  realMeta.forEach((f, i) => {
    if (!metaBefore[i]) fs.rmSync(f, { force: true });
  });
  if (!project) return;
  for (const pid of qemuProcessesIn(project)) process.kill(pid, "SIGKILL");
});

describe("a newcomer's first run", () => {
  let env: NodeJS.ProcessEnv;
  const preview = (stack: string, pathDir: string) =>
    bash(`pulumi preview --stack ${stack} --non-interactive`, newcomerEnv(pathDir, env));

  beforeAll(() => {
    // the engine from the README's no-internet line, and a passphrase, for the two previews
    const r = bash("bash scripts/install-pulumi.sh --print-path", newcomerEnv(noLibvirt));
    expect(r.status).toBe(0);
    env = {
      PATH: "",
      PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "preview-only",
    };
    fs.mkdirSync(path.join(work, "state"));
    const pulumiBin = r.stdout.trim().split("\n").pop() as string;
    env.PATH = [path.join(project, "testbed/standin-command-provider/plugins"), pulumiBin, noLibvirt].join(":");
    const npm = bash("npm ci --no-audit --no-fund", { ...newcomerEnv(noLibvirt), PATH: env.PATH });
    if (npm.status !== 0) throw new Error(`npm ci failed:\n${npm.stderr}`);
  });

  it("a key set without --path fails preview with one clean message, no stack trace", () => {
    const e = { ...newcomerEnv(noLibvirt, env) };
    expect(bash("pulumi stack init oops --non-interactive", e).status).toBe(0);
    // the mistake a newcomer makes: a nested key without --path
    expect(bash("pulumi config set local.provider qemu --stack oops", e).status).toBe(0);
    const r = preview("oops", env.PATH as string);
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status).not.toBe(0);
    const problem =
      "local.provider: is a flat key (set without --path), so it is not read as local.provider; nest it: " +
      "`pulumi config rm local.provider` then `pulumi config set --path 'local.provider' qemu`";
    expect(out.split(problem).length - 1).toBe(1);
    // the config's problem first; the host checks still ran (every problem in one run: Packer is not on this PATH)
    expect(out).toMatch(/error: Invalid stack configuration \(\d+ problems?\):\n\s+- local\.provider: is a flat key/);
    expect(out).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m); // no stack frame
    expect(out).not.toContain("\u001b["); // no ANSI codes when not a terminal
    expect(out).not.toContain("problems:"); // no dump of the error's fields
    expect(out).not.toMatch(/PromiseRejectionHandledWarning|UnhandledPromiseRejection|unhandled exception/);
  });

  it("a preview with Packer, QEMU and Ansible hidden lists all of them with install commands, and creates nothing", () => {
    const noTools = pathWithout("path-no-tools", /^(vagrant|virsh|libvirtd|virtlogd|virt-|packer|qemu-|ansible)/);
    const pulumiBin = (env.PATH as string).split(":")[1];
    const pathNoTools = [path.join(project, "testbed/standin-command-provider/plugins"), pulumiBin, noTools].join(":");
    const e = newcomerEnv(noTools, { ...env, PATH: pathNoTools });
    // stack init writes this backend's encryption salt into Pulumi.dev.yaml: put the file back for the README run
    const devYaml = path.join(project, "Pulumi.dev.yaml");
    const shipped = fs.readFileSync(devYaml, "utf8");
    // what is under the cache directory before (the first preview's KVM probe result): the preview must add nothing
    const cacheDir = path.join(home, ".cache/jupyterhub-vm");
    const files = (d: string): string[] =>
      fs.existsSync(d) ? (fs.readdirSync(d, { recursive: true }) as string[]).sort() : [];
    const before = files(cacheDir);
    let r: SpawnSyncReturns<string>;
    try {
      expect(bash("pulumi stack init dev --non-interactive", e).status).toBe(0);
      r = bash("pulumi preview --stack dev --non-interactive", e);
    } finally {
      bash("pulumi stack rm dev --yes --force --preserve-config", e);
      fs.writeFileSync(devYaml, shipped);
    }
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status).not.toBe(0);
    expect(out).toContain("error: Preflight failed (4 problems):");
    for (const [tool, apt] of [
      ["packer", "add HashiCorp's apt repository"],
      ["qemu-system-x86_64", "sudo apt install qemu-system-x86"],
      ["qemu-img", "sudo apt install qemu-utils"],
      ["ansible-playbook", "sudo apt install ansible"],
    ])
      expect(out).toMatch(
        new RegExp(
          `- ${tool}: \`${tool}\` not found on PATH; needed by .*Debian/Ubuntu: ${apt}.*; macOS: .*; Windows: `,
        ),
      );
    expect(out).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    // nothing made: no build directory, nothing new in the cache, no resource in the state (a failed preview never
    // writes the state; the stack was removed above)
    expect(fs.existsSync(path.join(project, ".build"))).toBe(false);
    expect(files(cacheDir)).toEqual(before);
    expect(out).not.toMatch(/\+ +(jupyterhub-vm|command):/); // no resource planned
  });

  it("README 'Run it', as written, ends with a hub answering on hubUrl (then destroys it)", async () => {
    expect(await portFree(8080)).toBe(true); // the dev stack's httpPort
    image = hubImage(hubSettings(FIRSTUSE)); // the image every hub test boots (cached)
    const lines = readmeBlock("newcomer");
    const internet = lines.filter((l) => /#\s*needs internet/.test(l));
    expect(internet).toEqual([expect.stringContaining("get.pulumi.com")]);
    // the apt line is checked, not run: a test does not change the machine's packages (apt install upgrades what
    // has a newer version); every package it names must be installed here, which is what the line would ensure
    const apt = lines.find((l) => l.startsWith("sudo apt install"));
    const pkgs = (apt ?? "")
      .split("#")[0]
      .split(/\s+/)
      .slice(3)
      .filter((w) => w && !w.startsWith("-"));
    expect(pkgs).toEqual(["qemu-system-x86", "qemu-utils", "xorriso", "ansible", "curl", "openssl"]);
    const installed = spawnSync("dpkg-query", ["-W", "-f", "${Status} ${Package}\n", ...pkgs], { encoding: "utf8" });
    expect(installed.stdout.trim().split("\n").sort()).toEqual(pkgs.map((p) => `install ok installed ${p}`).sort());
    const imageLines = readmeBlock("newcomer-image").map((l) => l.replace("/path/to/jupyterhub.qcow2", image));
    const up = lines.findIndex((l) => l.startsWith("pulumi up"));
    const script = [
      ...lines
        .slice(0, up)
        .filter((l) => !internet.includes(l) && l !== apt)
        .flatMap((l) => (l.startsWith("npm ci") ? ['echo "== newcomer: npm ci at $(date +%s)"', l] : [l])),
      ...imageLines,
      'echo "== newcomer: up starts at $(date +%s)"',
      lines[up],
      'echo "== newcomer: hubUrl=$(pulumi stack output hubUrl) at $(date +%s)"',
      ...lines.slice(up + 1),
      // the cache commands (README "The local target and the shared cache")
      ...readmeBlock("readme-cache"),
    ];
    // `set -x` shows each command as it runs: the log reads like the newcomer's terminal
    const t0 = Date.now();
    const r = bash(["set -x", ...script].join("\n"), newcomerEnv(noLibvirt), PASSWORD);
    const out = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`the README's commands failed (exit ${r.status}):\n${out.slice(-8000)}`);
    const npmAt = Number(/== newcomer: npm ci at (\d+)/.exec(out)?.[1]);
    const upAt = Number(/== newcomer: up starts at (\d+)/.exec(out)?.[1]);
    const hub = /== newcomer: hubUrl=(\S+) at (\d+)/.exec(out);
    expect(hub?.[1]).toBe("http://127.0.0.1:8080/");
    console.log(
      `newcomer: README commands ran in ${((Date.now() - t0) / 1000).toFixed(0)} s; from npm ci to hubUrl ` +
        `${Number(hub?.[2]) - npmAt} s (pulumi up ${Number(hub?.[2]) - upAt} s)`,
    );
    // the curl line printed the hub's API answer
    expect(out).toMatch(/\{"version":\s*"5\.5\.4"\}/);
    expect(out).toMatch(/image\.accelerator auto → (kvm|tcg): /);
    expect(out).not.toContain(PASSWORD);
    // the passphrase file the README made: 0600, outside the repository
    const pass = path.join(home, ".config/jupyterhub-vm/passphrase");
    expect(fs.statSync(pass).mode & 0o777).toBe(0o600);
    // the cache commands' output (stdout; set -x's trace is on stderr): the probe result listed, two prunes
    expect(r.stdout).toMatch(/\| also under the cache directory[\s\S]*\| host \| \d+ B \| host probe results/);
    expect(r.stdout.split("\n").filter((l) => l === "0 removed")).toHaveLength(2);
    // destroy: no VM left
    expect(qemuProcessesIn(project)).toEqual([]);
    expect(fs.existsSync(path.join(project, ".build/local-vm/jupyterhub-dev"))).toBe(false);
  });
});
