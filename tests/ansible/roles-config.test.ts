// What the roles render for different settings, on a Debian 12 root file system (chroot connection):
// - tljh: the installer needs GitHub and systemd, so it runs with tljh_install=false, which skips only the
//   download and the installer command; config.yaml is rendered for three variable sets and compared key
//   by key, and the installer command line the role would run (pinned URL, --version, --admin) is read
//   from the "TLJH | installer command" task.
// - invalid settings fail the build with a message (and never print a password);
// - content from a git repository at a pinned ref (a local repository, file:// URL).
// Needs root and the packages in helpers.DEBIAN_PACKAGES (git too).
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { HERE, chrootEnv, exists, play, read, requireRoot, requireTools, run, tmpDir } from "./helpers";

jest.setTimeout(15 * 60_000);

let work: string;
let root: string;

beforeAll(() => {
  requireRoot();
  requireTools("ansible-playbook", "debootstrap", "chroot", "git");
  work = tmpDir("jhvm-ansible-roles-");
  root = path.join(work, "r", "root");
  chrootEnv("create", path.join(work, "r"));
});

afterAll(() => {
  if (!work) return;
  run("bash", [path.join(HERE, "chroot-env.sh"), "destroy", path.join(work, "r")]);
  fs.rmSync(work, { recursive: true, force: true });
});

// Role defaults, not the full image test's settings (tests/ansible/chroot-vars.yml).
const varsEnv = { PLAY_VARS: path.join(HERE, "roles-vars.yml") };
const jsonEnv = { ...varsEnv, ANSIBLE_STDOUT_CALLBACK: "json", ANSIBLE_CALLBACKS_ENABLED: "" };

interface TaskResult {
  name: string;
  result: any;
}

/** Runs the playbook with the json callback; returns the per-task results of the (only) host. */
function playJson(args: string[]) {
  const r = play(root, args, jsonEnv);
  const body = r.stdout.slice(r.stdout.indexOf("{"), r.stdout.lastIndexOf("}") + 1);
  const doc = JSON.parse(body);
  const tasks: TaskResult[] = [];
  for (const p of doc.plays) {
    for (const t of p.tasks) {
      const hosts = Object.values(t.hosts) as any[];
      if (hosts.length > 0) tasks.push({ name: t.task.name, result: hosts[0] });
    }
  }
  const stats = Object.values(doc.stats)[0] as { changed: number; failures: number };
  return { status: r.status, tasks, stats, raw: r.stdout };
}

function renderTljh(vars: Record<string, unknown>) {
  const r = playJson(["--tags", "tljh", "-e", JSON.stringify(vars)]);
  expect({ status: r.status, stats: r.stats }).toMatchObject({ status: 0, stats: { failures: 0 } });
  const cmd = r.tasks.find((t) => t.name.endsWith("TLJH | installer command"))!.result.msg;
  const config = yaml.load(read(root, "opt/tljh/config/config.yaml")) as Record<string, unknown>;
  return { cmd, config, stats: r.stats, tasks: r.tasks };
}

const URL = "https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub/2.0.0/bootstrap/bootstrap.py";
const SCRIPT = "/opt/tljh-bootstrap/bootstrap-2.0.0.py";

/**
 * config.yaml's auth section: the image's authenticator class (the first boot sets the stack's own, with the same
 * class names: cloud-init/first-boot.sh) and every class's settings, so that one image serves every authenticator.
 */
const auth = (type: string, over: Record<string, unknown> = {}) => ({
  type,
  FirstUseAuthenticator: { create_users: false },
  NativeAuthenticator: { open_signup: false, allow_all: true },
  TmpAuthenticator: { allow_all: true },
  PAMAuthenticator: { allow_all: true },
  ...over,
});

describe("tljh config.yaml and installer command", () => {
  test("defaults: firstuse, admin 'admin', JupyterLab, idle culler on (1 h), no limits", () => {
    const { cmd, config } = renderTljh({});
    expect(cmd).toEqual({
      tljh_bootstrap_url: URL,
      tljh_bootstrap_argv: ["/usr/bin/python3", SCRIPT, "--version", "2.0.0", "--admin", "admin"],
      tljh_install: false,
    });
    expect(config).toEqual({
      base_url: "/",
      auth: auth("firstuseauthenticator.FirstUseAuthenticator"),
      users: { admin: ["admin"], allowed: [] },
      // no limits: left out, since TLJH's schema refuses null (tests/hub/tljh-config.test.ts runs TLJH's check)
      limits: {},
      user_environment: { default_app: "jupyterlab" },
      http: { port: 80 },
      services: { cull: { enabled: true, timeout: 3600, every: 60, max_age: 0, users: false } },
    });
    // No password anywhere in the command line or the config.
    expect(JSON.stringify(cmd)).not.toMatch(/admin:/);
  });

  test("workshop: tmpauthenticator, no admins, limits, culler removes users, base URL, classic UI, extra config", () => {
    const { cmd, config } = renderTljh({
      tljh_authenticator: "tmp",
      tljh_admin_users: [],
      tljh_memory_limit: "512M",
      tljh_cpu_limit: 2,
      tljh_idle_culler_timeout: 1800,
      tljh_idle_culler_users: true,
      tljh_base_url: "/workshop/",
      tljh_default_app: "classic",
      tljh_http_port: 8080,
      tljh_extra_config: { users: { extra_user_groups: { learners: [] } }, services: { cull: { every: 30 } } },
      tljh_version: "2.0.0",
      tljh_bootstrap_ref: "0123456789abcdef0123456789abcdef01234567",
    });
    expect(cmd.tljh_bootstrap_argv).toEqual([
      "/usr/bin/python3",
      "/opt/tljh-bootstrap/bootstrap-0123456789abcdef0123456789abcdef01234567.py",
      "--version",
      "2.0.0",
    ]);
    expect(cmd.tljh_bootstrap_url).toBe(
      "https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub/0123456789abcdef0123456789abcdef01234567/bootstrap/bootstrap.py",
    );
    expect(config).toEqual({
      base_url: "/workshop/",
      auth: auth("tmpauthenticator.TmpAuthenticator"),
      users: { admin: [], allowed: [], extra_user_groups: { learners: [] } },
      limits: { memory: "512M", cpu: 2 },
      user_environment: { default_app: "classic" },
      http: { port: 8080 },
      services: { cull: { enabled: true, timeout: 1800, every: 30, max_age: 0, users: true } },
    });
  });

  test("native authenticator with sign-up, two admins, an allow list; culler off; rerun changes nothing", () => {
    const vars = {
      tljh_authenticator: "native",
      tljh_native_open_signup: true,
      tljh_admin_users: ["alice", "bob"],
      tljh_allowed_users: ["carol", "dave"],
      tljh_idle_culler_enabled: false,
    };
    const { cmd, config } = renderTljh(vars);
    expect(cmd.tljh_bootstrap_argv).toEqual([
      "/usr/bin/python3",
      SCRIPT,
      "--version",
      "2.0.0",
      "--admin",
      "alice",
      "--admin",
      "bob",
    ]);
    expect(config.auth).toEqual(
      auth("nativeauthenticator.NativeAuthenticator", { NativeAuthenticator: { open_signup: true, allow_all: true } }),
    );
    expect(config.users).toEqual({ admin: ["alice", "bob"], allowed: ["carol", "dave"] });
    expect((config.services as any).cull.enabled).toBe(false);
    const again = renderTljh(vars);
    expect(again.stats.changed).toBe(0);
  });

  test("pam authenticator maps to JupyterHub's PAMAuthenticator", () => {
    const { config } = renderTljh({ tljh_authenticator: "pam" });
    expect(config.auth).toEqual(auth("jupyterhub.auth.PAMAuthenticator"));
  });
});

describe("invalid settings fail the build", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ["unknown authenticator", { tljh_authenticator: "github" }, "tljh", /Invalid TLJH settings/],
    ["unpinned TLJH", { tljh_version: "latest" }, "tljh", /Invalid TLJH settings/],
    ["fractional CPU limit (TLJH's schema takes an integer)", { tljh_cpu_limit: 0.5 }, "tljh", /cpu limit a whole number/],
    ["admin with a password", { tljh_admin_users: ["admin:S3cret-in-args"] }, "tljh", /Invalid TLJH settings/],
    ["unpinned pip package", { python_packages: ["six"] }, "python_packages", /Unpinned python_packages entries/],
    ["GitHub R package without ref", { r_github_packages: ["owner/pkg"] }, "r", /pinned ref/],
    ["content from git without ref", { content_source: "git", content_git_url: "file:///x" }, "content", /content_source/],
  ];
  test.each(cases)("%s", (_name, vars, tag, message) => {
    const r = play(root, ["--tags", tag, "-e", JSON.stringify(vars)], varsEnv);
    expect(r.status).not.toBe(0);
    expect(r.recap.failed).toBe(1);
    expect(r.stdout).toMatch(message);
    expect(r.stdout + r.stderr).not.toContain("S3cret-in-args");
  });
});

describe("r: packages from a CRAN repository", () => {
  // A local CRAN-like repository inside the root file system (file://), with one pure-R package built there:
  // install.packages() runs for real; r_build_packages is emptied (no compiler needed for pure R).
  const cranVars = (pkgs: string[]) =>
    JSON.stringify({ r_cran_packages: pkgs, r_cran_repo: "file:///srv/cran", r_build_packages: [] });

  test("installs a missing package, skips it when present, and fails the build when one cannot be installed", () => {
    const first = play(root, ["--tags", "r"], varsEnv); // R and IRkernel from apt
    expect({ status: first.status, recap: first.recap }).toMatchObject({ status: 0, recap: { failed: 0 } });
    const src = path.join(root, "srv/cran-src/hellopkg");
    fs.mkdirSync(path.join(src, "R"), { recursive: true });
    fs.writeFileSync(
      path.join(src, "DESCRIPTION"),
      "Package: hellopkg\nVersion: 0.1.0\nTitle: Test Package\nDescription: A test package.\n" +
        "Authors@R: person('T', 'T', email = 't@example.org', role = c('aut', 'cre'))\nLicense: MIT\n",
    );
    fs.writeFileSync(path.join(src, "NAMESPACE"), "export(hello)\n");
    fs.writeFileSync(path.join(src, "R/hello.R"), "hello <- function() 'hello from CRAN'\n");
    fs.mkdirSync(path.join(root, "srv/cran/src/contrib"), { recursive: true });
    const build = run("chroot", [
      root,
      "sh",
      "-c",
      "cd /srv/cran/src/contrib && R CMD build --no-manual --no-build-vignettes /srv/cran-src/hellopkg && " +
        "Rscript -e 'tools::write_PACKAGES(\".\", type = \"source\")'",
    ]);
    expect({ status: build.status, err: build.stderr }).toMatchObject({ status: 0 });

    const install = play(root, ["--tags", "r", "-e", cranVars(["hellopkg"])], varsEnv);
    expect({ status: install.status, recap: install.recap }).toMatchObject({ status: 0, recap: { failed: 0 } });
    expect(install.stdout).toMatch(/TASK \[r : R \| install missing CRAN packages\][^\n]*\n[^\n]*\nchanged:/);
    const load = run("chroot", [root, "Rscript", "-e", "cat(hellopkg::hello())"]);
    expect(load.stdout).toBe("hello from CRAN");
    expect(exists(root, "usr/local/lib/R/site-library/hellopkg")).toBe(true);

    const again = play(root, ["--tags", "r", "-e", cranVars(["hellopkg"])], varsEnv);
    expect({ status: again.status, changed: again.recap.changed }).toEqual({ status: 0, changed: 0 });

    const missing = play(root, ["--tags", "r", "-e", cranVars(["hellopkg", "nosuchpkg"])], varsEnv);
    expect(missing.status).not.toBe(0);
    expect(missing.recap.failed).toBe(1);
    expect(missing.stdout).toContain("R packages failed to install: nosuchpkg");
  });
});

describe("system proxy", () => {
  test("goes to /etc/environment and apt when set, and is removed again when emptied", () => {
    // First without a proxy, so that the role's packages are installed (nothing listens on 127.0.0.1:3128).
    expect(play(root, ["--tags", "system"], varsEnv).status).toBe(0);
    const proxy = {
      system_http_proxy: "http://127.0.0.1:3128",
      system_https_proxy: "http://127.0.0.1:3129",
      system_no_proxy: "localhost,127.0.0.1,.example.org",
    };
    const on = play(root, ["--tags", "system", "-e", JSON.stringify(proxy)], varsEnv);
    expect(on.status).toBe(0);
    const env = read(root, "etc/environment");
    for (const line of [
      'http_proxy="http://127.0.0.1:3128"',
      'HTTP_PROXY="http://127.0.0.1:3128"',
      'https_proxy="http://127.0.0.1:3129"',
      'HTTPS_PROXY="http://127.0.0.1:3129"',
      'no_proxy="localhost,127.0.0.1,.example.org"',
      'NO_PROXY="localhost,127.0.0.1,.example.org"',
    ]) {
      expect(env.split("\n")).toContain(line);
    }
    const apt = read(root, "etc/apt/apt.conf.d/95proxy");
    expect(apt).toContain('Acquire::http::Proxy "http://127.0.0.1:3128";');
    expect(apt).toContain('Acquire::https::Proxy "http://127.0.0.1:3129";');
    const off = play(root, ["--tags", "system"], varsEnv);
    expect(off.status).toBe(0);
    expect(read(root, "etc/environment")).not.toMatch(/proxy/i);
    expect(exists(root, "etc/apt/apt.conf.d/95proxy")).toBe(false);
  });
});

describe("content from git", () => {
  test("a pinned tag is exported into /etc/skel without .git; rerun changes nothing", () => {
    // A repository inside the root file system, reached as file:// (no network needed).
    const repo = path.join(root, "srv/content-src");
    fs.mkdirSync(repo, { recursive: true });
    const git = (...args: string[]) => {
      const r = run("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args]);
      expect(r.status).toBe(0);
    };
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "intro.md"), "# Intro v1\n");
    git("add", "intro.md");
    git("commit", "-q", "-m", "v1");
    git("tag", "v1");
    fs.writeFileSync(path.join(repo, "intro.md"), "# Intro v2 (not released)\n");
    git("commit", "-q", "-am", "v2");
    const vars = JSON.stringify({ content_source: "git", content_git_url: "file:///srv/content-src", content_git_ref: "v1" });
    const first = play(root, ["--tags", "content", "-e", vars], varsEnv);
    expect({ status: first.status, recap: first.recap }).toMatchObject({ status: 0, recap: { failed: 0 } });
    expect(read(root, "etc/skel/notebooks/intro.md")).toBe("# Intro v1\n");
    expect(exists(root, "etc/skel/notebooks/.git")).toBe(false);
    const second = play(root, ["--tags", "content", "-e", vars], varsEnv);
    expect({ status: second.status, changed: second.recap.changed }).toEqual({ status: 0, changed: 0 });
  });
});
