// The image build for real, on a Debian 12 root file system through Ansible's chroot connection:
// system, tljh (config only: its installer needs GitHub and systemd), r (Debian's r-base-core +
// r-cran-irkernel), python_packages (into a venv standing in for TLJH's user environment, one pinned
// package from PyPI), content, desktop (XFCE + xrdp installed; guacd configured only, Debian 12 has no
// package) and sysprep, over the leftovers a build leaves (tests/ansible/chroot-env.sh plant).
// Then: a second run changes nothing; tools/image-hygiene-check finds the result clean and a dirty copy
// dirty (each finding by name), as directories and as qcow2/vmdk images; first-boot units regenerate what
// sysprep removed; sysprep's deferred mode removes the logged-in build account after the play.
// Needs root, network access to Debian's mirror and PyPI, and the packages in helpers.DEBIAN_PACKAGES.
import * as fs from "fs";
import * as path from "path";
import {
  HERE,
  HYGIENE,
  PLANTED_PASSWORDS,
  VAGRANT_RSA_KEY,
  changedTasks,
  chrootEnv,
  exists,
  inChroot,
  play,
  read,
  requireRoot,
  requireTools,
  run,
  tmpDir,
} from "./helpers";

jest.setTimeout(30 * 60_000);

let work: string; // holds main/, copies and images
let root: string; // main/root: the image being built
let secretFile: string;

beforeAll(() => {
  requireRoot();
  requireTools("ansible-playbook", "debootstrap", "chroot", "qemu-img", "mkfs.ext4", "sfdisk", "partx", "blkid");
  work = tmpDir("jhvm-ansible-image-");
  root = path.join(work, "main", "root");
  chrootEnv("create", path.join(work, "main"));
  chrootEnv("plant", path.join(work, "main"));
  chrootEnv("fake-tljh", path.join(work, "main"));
  secretFile = path.join(work, "secrets.txt");
  fs.writeFileSync(secretFile, PLANTED_PASSWORDS.join("\n") + "\n", { mode: 0o600 });
});

afterAll(() => {
  if (!work) return;
  for (const d of fs.readdirSync(work)) {
    if (fs.existsSync(path.join(work, d, "root"))) run("bash", [path.join(HERE, "chroot-env.sh"), "destroy", path.join(work, d)]);
  }
  fs.rmSync(work, { recursive: true, force: true });
});

function hygiene(target: string, ...args: string[]) {
  return run(HYGIENE, ["--forbid-user", "builder", ...args, target]);
}

describe("first run", () => {
  let out = "";
  test("applies every role and sysprep", () => {
    const r = play(root);
    out = r.stdout;
    expect({ status: r.status, recap: r.recap, tail: r.stdout.slice(-3000) }).toMatchObject({
      status: 0,
      recap: { failed: 0, unreachable: 0 },
    });
    expect(r.recap.changed).toBeGreaterThan(20);
  });

  test("prints the TLJH installer command it would run (pinned script, --version, admins)", () => {
    expect(out).toContain(
      '"tljh_bootstrap_url": "https://raw.githubusercontent.com/jupyterhub/the-littlest-jupyterhub/2.0.0/bootstrap/bootstrap.py"',
    );
    expect(out).toContain('"/opt/tljh-bootstrap/bootstrap-2.0.0.py"');
    expect(out).toMatch(/"--version",\s*"2\.0\.0",\s*"--admin",\s*"teacher"/);
  });
});

describe("image content", () => {
  test("system: locale, timezone, keyboard, hostname, no proxy", () => {
    expect(read(root, "etc/default/locale")).toContain("LANG=en_US.UTF-8");
    expect(read(root, "etc/locale.gen")).toMatch(/^fr_FR.UTF-8 UTF-8$/m);
    expect(read(root, "etc/timezone").trim()).toBe("Europe/Paris");
    expect(fs.readlinkSync(path.join(root, "etc/localtime"))).toBe("/usr/share/zoneinfo/Europe/Paris");
    expect(read(root, "etc/default/keyboard")).toMatch(/XKBLAYOUT="fr"\nXKBVARIANT="oss"/);
    expect(read(root, "etc/hostname")).toBe("hub-test\n");
    expect(read(root, "etc/hosts")).toMatch(/^127\.0\.1\.1\thub-test$/m);
    expect(read(root, "etc/environment")).not.toMatch(/proxy/i);
    expect(exists(root, "etc/apt/apt.conf.d/95proxy")).toBe(false);
  });

  test("tljh: config.yaml (0600), first-boot secrets unit enabled", () => {
    const st = fs.statSync(path.join(root, "opt/tljh/config/config.yaml"));
    expect(st.mode & 0o777).toBe(0o600);
    const cfg = read(root, "opt/tljh/config/config.yaml");
    expect(cfg).toContain("type: firstuseauthenticator.FirstUseAuthenticator");
    expect(cfg).toMatch(/admin:\n {2}- teacher/);
    expect(cfg).toMatch(/memory: 2G/);
    expect(cfg).toMatch(/default_app: jupyterlab/);
    expect(fs.readlinkSync(path.join(root, "etc/systemd/system/multi-user.target.wants/tljh-firstboot-secrets.service"))).toBe(
      "/etc/systemd/system/tljh-firstboot-secrets.service",
    );
  });

  test("r: R loads IRkernel and jsonlite; the kernelspec is in the user environment", () => {
    const r = inChroot(root, ["Rscript", "-e", "library(IRkernel); library(jsonlite); cat('R-OK', R.version.string)"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/R-OK R version 4\./);
    const spec = JSON.parse(read(root, "opt/tljh/user/share/jupyter/kernels/ir/kernel.json"));
    expect(spec).toEqual({
      argv: ["/usr/bin/R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"],
      display_name: "R",
      language: "R",
    });
    expect(exists(root, "opt/tljh/user/share/jupyter/kernels/ir/logo-64x64.png")).toBe(true);
  });

  test("python_packages: the pinned package is in the user environment", () => {
    const r = inChroot(root, ["/opt/tljh/user/bin/python3", "-c", "import six; print(six.__version__)"]);
    expect(r.stdout.trim()).toBe("1.16.0");
  });

  test("content: notebooks in /etc/skel, shared /srv/data (setgid, jupyterhub-users) linked from /etc/skel", () => {
    expect(read(root, "etc/skel/notebooks/welcome.ipynb")).toBe(read(HERE, "fixtures/content/welcome.ipynb"));
    expect(exists(root, "etc/skel/notebooks/lesson1/analysis.R")).toBe(true);
    const st = fs.statSync(path.join(root, "srv/data"));
    expect((st.mode & 0o7777).toString(8)).toBe("2775");
    const gid = read(root, "etc/group")
      .split("\n")
      .find((l) => l.startsWith("jupyterhub-users:"))!
      .split(":")[2];
    expect(String(st.gid)).toBe(gid);
    expect(st.uid).toBe(0); // not handed to a system user through the /etc/skel link (see roles/desktop)
    expect(fs.readlinkSync(path.join(root, "etc/skel/data"))).toBe("/srv/data");
  });

  test("desktop: xrdp and sesman on 127.0.0.1, guacd.conf on 127.0.0.1, XFCE session for new users", () => {
    expect(read(root, "etc/xrdp/xrdp.ini")).toMatch(/^port=tcp:\/\/127\.0\.0\.1:3389$/m);
    expect(read(root, "etc/xrdp/sesman.ini")).toMatch(/^ListenAddress=127\.0\.0\.1$/m);
    expect(read(root, "etc/guacamole/guacd.conf")).toMatch(/bind_host = 127\.0\.0\.1\nbind_port = 4822/);
    expect(read(root, "etc/skel/.xsession")).toBe("startxfce4\n");
    expect(exists(root, "usr/bin/startxfce4")).toBe(true);
    expect(exists(root, "usr/sbin/xrdp")).toBe(true);
  });
});

describe("sysprep", () => {
  test("removed the build and vagrant accounts, their sudoers entries and homes", () => {
    const passwd = read(root, "etc/passwd");
    expect(passwd).not.toMatch(/^(builder|vagrant):/m);
    expect(exists(root, "home/builder")).toBe(false);
    expect(exists(root, "home/vagrant")).toBe(false);
    expect(fs.readdirSync(path.join(root, "etc/sudoers.d"))).toEqual(["README"]);
    expect(inChroot(root, ["visudo", "-c"]).status).toBe(0);
  });

  test("root has no password hash and no SSH keys; no system account has a usable password", () => {
    const shadow = read(root, "etc/shadow").split("\n").filter(Boolean);
    expect(shadow.find((l) => l.startsWith("root:"))!.split(":")[1]).toBe("*");
    for (const l of shadow) expect(l.split(":")[1]).toMatch(/^[*!]/);
    expect(exists(root, "root/.ssh/authorized_keys")).toBe(false);
  });

  test("host and instance keys, machine-id, cloud-init, TLJH state, history, apt lists, logs", () => {
    expect(fs.readdirSync(path.join(root, "etc/ssh")).filter((f) => f.startsWith("ssh_host_"))).toEqual([]);
    expect(exists(root, "etc/ssl/private/ssl-cert-snakeoil.key")).toBe(false);
    expect(exists(root, "etc/xrdp/rsakeys.ini")).toBe(false);
    expect(read(root, "etc/machine-id")).toBe("");
    expect(fs.readlinkSync(path.join(root, "var/lib/dbus/machine-id"))).toBe("/etc/machine-id");
    expect(fs.readdirSync(path.join(root, "var/lib/cloud"))).toEqual(["seed"]);
    expect(fs.readdirSync(path.join(root, "opt/tljh/state")).sort()).toEqual(["rules"]);
    expect(exists(root, "root/.bash_history")).toBe(false);
    expect(fs.readdirSync(path.join(root, "var/lib/apt/lists")).sort()).toEqual(["auxfiles", "lock", "partial"]);
    const logs = run("find", [path.join(root, "var/log"), "-type", "f", "-size", "+0"]);
    expect(logs.stdout.trim()).toBe("");
    expect(fs.readlinkSync(path.join(root, "etc/systemd/system/multi-user.target.wants/image-firstboot-keys.service"))).toBe(
      "/etc/systemd/system/image-firstboot-keys.service",
    );
  });
});

describe("second run", () => {
  test("changes nothing (every role, sysprep included, is idempotent)", () => {
    const r = play(root);
    expect({ status: r.status, recap: r.recap, changed: changedTasks(r.stdout) }).toEqual({
      status: 0,
      recap: expect.objectContaining({ changed: 0, failed: 0 }),
      changed: [],
    });
  });
});

describe("image-hygiene-check on directories", () => {
  test("the built root file system is clean (planted passwords searched too)", () => {
    const r = hygiene(root, "--secret-file", secretFile);
    expect({ status: r.status, out: r.stdout.trim(), err: r.stderr }).toMatchObject({ status: 0, out: "clean" });
  });

  test("a dirty copy: each leftover is reported on its own line, exit 1, secrets never printed", () => {
    chrootEnv("copy", path.join(work, "main"), path.join(work, "dirty"));
    const d = path.join(work, "dirty", "root");
    fs.mkdirSync(path.join(d, "root/.ssh"), { recursive: true });
    fs.writeFileSync(path.join(d, "root/.ssh/authorized_keys"), VAGRANT_RSA_KEY + "\n");
    fs.writeFileSync(path.join(d, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
    expect(inChroot(d, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/etc/ssh/ssh_host_ed25519_key"]).status).toBe(0);
    expect(run("chroot", [d, "chpasswd"], { input: `root:${PLANTED_PASSWORDS[1]}\n` }).status).toBe(0);
    expect(inChroot(d, ["useradd", "-m", "vagrant"]).status).toBe(0);
    expect(inChroot(d, ["usermod", "-p", "", "games"]).status).toBe(0);
    fs.mkdirSync(path.join(d, "var/lib/cloud/instances/i-0042"), { recursive: true });
    fs.symlinkSync("/var/lib/cloud/instances/i-0042", path.join(d, "var/lib/cloud/instance"));
    fs.writeFileSync(path.join(d, "opt/tljh/state/jupyterhub_cookie_secret"), "abcdef\n");
    fs.writeFileSync(path.join(d, "opt/tljh/state/traefik-api.secret"), "abcdef");
    fs.writeFileSync(path.join(d, "opt/tljh/state/jupyterhub.sqlite"), "SQLite format 3");
    fs.writeFileSync(path.join(d, "root/.bash_history"), "ls\n");
    fs.writeFileSync(path.join(d, "etc/build-notes.conf"), `password=${PLANTED_PASSWORDS[0]}\n`);

    const r = hygiene(d, "--secret-file", secretFile);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        "FINDING forbidden-user: account 'vagrant' exists (uid 1000)",
        "FINDING vagrant-key: /root/.ssh/authorized_keys holds a Vagrant insecure public key",
        "FINDING root-key: /root/.ssh/authorized_keys holds 1 key(s) for root",
        "FINDING machine-id: /etc/machine-id is not empty",
        "FINDING ssh-host-key: /etc/ssh/ssh_host_ed25519_key",
        "FINDING ssh-host-key: /etc/ssh/ssh_host_ed25519_key.pub",
        "FINDING cloud-init: /var/lib/cloud/instances/i-0042",
        "FINDING cloud-init: /var/lib/cloud/instance",
        "FINDING tljh-secret: /opt/tljh/state/jupyterhub_cookie_secret",
        "FINDING tljh-secret: /opt/tljh/state/traefik-api.secret",
        "FINDING tljh-secret: /opt/tljh/state/jupyterhub.sqlite",
        "FINDING password: account 'root' has a usable password hash in /etc/shadow",
        "FINDING password: account 'games' has an empty password (login without password)",
        "FINDING history: /root/.bash_history",
        "FINDING secret-string: /etc/build-notes.conf contains the secret",
      ]),
    );
    expect(lines.every((l) => l.startsWith("FINDING "))).toBe(true);
    for (const p of PLANTED_PASSWORDS) expect(r.stdout + r.stderr).not.toContain(p);
  });

  test("an empty secret file, a missing target and a non-root tree are errors (exit 2), not 'clean'", () => {
    const empty = path.join(work, "empty-secret");
    fs.writeFileSync(empty, "");
    expect(run(HYGIENE, ["--secret-file", empty, root]).status).toBe(2);
    expect(run(HYGIENE, [path.join(work, "does-not-exist")]).status).toBe(2);
    expect(run(HYGIENE, [HERE]).status).toBe(2);
  });
});

describe("image-hygiene-check on image files (not booted: converted and loop-mounted read-only)", () => {
  test("a clean partitioned qcow2 is clean", () => {
    chrootEnv("copy", path.join(work, "main"), path.join(work, "clean"));
    const img = path.join(work, "clean.qcow2");
    const mk = run("bash", [path.join(HERE, "make-test-image.sh"), path.join(work, "clean", "root"), img, "--partitioned"]);
    expect(mk.status).toBe(0);
    const r = hygiene(img, "--secret-file", secretFile);
    expect({ status: r.status, out: r.stdout.trim(), err: r.stderr }).toMatchObject({ status: 0, out: "clean" });
    expect(r.stderr).toContain("root file system: partition 1 (ext4)");
  });

  test("a dirty whole-disk qcow2 and a dirty partitioned vmdk report the same findings", () => {
    const dirtyRoot = path.join(work, "dirty", "root");
    const dir = hygiene(dirtyRoot, "--secret-file", secretFile);
    for (const [img, extra] of [
      [path.join(work, "dirty.qcow2"), []],
      [path.join(work, "dirty.vmdk"), ["--partitioned", "--format", "vmdk"]],
    ] as [string, string[]][]) {
      const mk = run("bash", [path.join(HERE, "make-test-image.sh"), dirtyRoot, img, ...extra]);
      expect(mk.status).toBe(0);
      const r = hygiene(img, "--secret-file", secretFile);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe(dir.stdout);
    }
    // Nothing stays mounted or attached.
    expect(run("sh", ["-c", "mount | grep -c image-hygiene || true"]).stdout.trim()).toBe("0");
  });
});

describe("first boot", () => {
  test("image-firstboot-keys and tljh-firstboot-secrets recreate what sysprep removed", () => {
    const d = path.join(work, "clean", "root");
    const keys = inChroot(d, ["/usr/local/sbin/image-firstboot-keys"]);
    expect(keys.status).toBe(0);
    expect(fs.readdirSync(path.join(d, "etc/ssh")).filter((f) => /^ssh_host_.*_key$/.test(f)).length).toBeGreaterThan(0);
    expect(exists(d, "etc/ssl/private/ssl-cert-snakeoil.key")).toBe(true);
    expect(exists(d, "etc/xrdp/rsakeys.ini")).toBe(true);
    const secrets = inChroot(d, ["/usr/local/sbin/tljh-firstboot-secrets"]);
    expect(secrets.status).toBe(0);
    expect(read(d, "opt/tljh/state/traefik-api.secret")).toMatch(/^[0-9a-f]{64}$/);
    // ...and the hygiene check notices that this is no longer an image but an instance.
    const r = hygiene(d);
    expect(r.stdout).toContain("FINDING ssh-host-key: /etc/ssh/ssh_host_rsa_key");
    expect(r.stdout).toContain("FINDING tljh-secret: /opt/tljh/state/traefik-api.secret");
  });
});

describe("sysprep deferred mode (build account in use)", () => {
  test("the final script removes the account after the play, then deletes itself; a rerun changes nothing", () => {
    chrootEnv("copy", path.join(work, "main"), path.join(work, "deferred"));
    const dirRoot = path.join(work, "deferred");
    const d = path.join(dirRoot, "root");
    run("mount", ["-t", "proc", "proc", path.join(d, "proc")]);
    try {
      expect(inChroot(d, ["useradd", "-m", "-s", "/bin/bash", "packerbuild"]).status).toBe(0);
      fs.writeFileSync(path.join(d, "etc/sudoers.d/packerbuild"), "packerbuild ALL=(ALL) NOPASSWD: ALL\n", { mode: 0o440 });
      fs.appendFileSync(path.join(d, "etc/sudoers"), "Defaults:packerbuild !requiretty\n");
      fs.writeFileSync(path.join(d, "home/packerbuild/.bash_history"), "sudo -i\n");
      const vars = ["-e", "build_username=packerbuild", "-e", "sysprep_final_mode=deferred", "-e", "sysprep_final_delay=2"];
      const r = play(d, ["--tags", "sysprep", ...vars]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("removed by the deferred final script: ['packerbuild']");
      // The play is over and the account still exists: the detached script is waiting.
      expect(read(d, "etc/passwd")).toMatch(/^packerbuild:/m);
      const deadline = Date.now() + 60_000;
      while (exists(d, "usr/local/sbin/image-sysprep-final") && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      }
      expect(exists(d, "usr/local/sbin/image-sysprep-final")).toBe(false);
      expect(read(d, "etc/passwd")).not.toMatch(/^packerbuild:/m);
      expect(read(d, "etc/sudoers")).not.toContain("packerbuild");
      expect(exists(d, "etc/sudoers.d/packerbuild")).toBe(false);
      expect(exists(d, "home/packerbuild")).toBe(false);
      expect(inChroot(d, ["visudo", "-c"]).status).toBe(0);
      const again = play(d, ["--tags", "sysprep", ...vars]);
      expect({ status: again.status, changed: again.recap.changed, tasks: changedTasks(again.stdout) }).toEqual({
        status: 0,
        changed: 0,
        tasks: [],
      });
    } finally {
      run("umount", [path.join(d, "proc")]);
    }
    const r = hygiene(d, "--forbid-user", "packerbuild");
    expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out: "clean" });
  });
});
