// The FinalImage stage driver (stages/final-image/driver.ts) run for real, end to end, as the Pulumi program runs it
// (`node tsx stages/final-image/driver.ts create` with JHVM_SETTINGS/JHVM_KEY):
//  - base box: a debootstrapped Debian 12 qcow2 (tests/images/debian12-qcow2.sh) with the build user `builder`
//    and a random password (only its SHA-512 crypt goes into the image), placed as a BaseBox cache entry
//    (<cacheDir>/base-box/<key>/base-debian-12.qcow2 + 0600 build-credentials.json);
//  - the driver boots it with Packer's qemu builder under TCG, runs ansible/playbook.yml over SSH (tljh config
//    without the installer, content from a local dir, sysprep), sysprep's deferred final step deletes `builder`
//    and powers off, the disk is exported as a zlib-compressed qcow2 and hygiene-checked. What only this run can
//    show is Packer's boot, SSH and Ansible provisioner, the roles over SSH as the logged-in build user, sysprep's
//    deferred mode ending the build, the export and the gate. The system role is left out (system_enabled false):
//    its work (locale, timezone, keyboard, hostname, proxy, its apt installs) is covered in chroot by
//    tests/ansible/image-build.test.ts, and here its apt install alone took 2 of the run's 8 minutes under TCG.
// Checked afterwards: result and manifest, compressed qcow2 smaller than the raw disk, hygiene check clean
// (run again here, with the password as a forbidden string), the build user, its home and its sudoers file
// gone, machine-id empty, the content in /etc/skel, the password in neither the stage log, the driver's
// output, any process's arguments nor the image, and no secret file left in the cache entry.
// The negative (the gate works): the hygiene check on the base box itself (build user present) must fail and
// name the build user. A second full VM run with sysprep disabled would not end (nothing powers the VM off;
// Packer would wait for its 20 min shutdown timeout), so the negative uses the base box instead.
// Needs root (loop devices), QEMU + debootstrap (tests/images/install-deps.sh), sshpass + ansible (.ci/run)
// and packer (scripts/install-packer.sh). It fails, never skips, when one of them is missing.
// Takes ~5 min here (TCG, 2 cores; debootstrap rootfs cached by debian12-qcow2.sh, +3-4 min when cold).
import { spawn, execFileSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, findPacker, run } from "../packer/helpers";
import { sha256FileSync as sha256File } from "../../stages/file-hash";
import { tempDir } from "../support";

const MINUTE = 60_000;
jest.setTimeout(45 * MINUTE);

const USER = "builder";
const DISK_GB = 4;
const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const HYGIENE = path.join(REPO, "tools/image-hygiene-check");

function requireTool(cmd: string, hint: string): void {
  const r = run("bash", ["-c", `PATH="$PATH:/usr/sbin:/sbin" command -v ${cmd}`]);
  if (r.status !== 0) throw new Error(`${cmd} not found. ${hint}`);
}

function facts(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split("\n")
      .filter((l) => /^[a-z_0-9.]+[^=]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** Every file under dir (recursively), relative paths. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p).map((f) => path.join(e.name, f)));
    else out.push(e.name);
  }
  return out;
}

interface DriverRun {
  code: number | null;
  stdout: string;
  stderr: string;
  secretInPs: string[];
}

/**
 * How long the driver may run before the test stops it (its process group: Packer, QEMU, Ansible) and fails: ~3x
 * its usual 8 min here. A build VM paused by QEMU on a full disk (ENOSPC) once made Packer wait with no end, which
 * ate a CI run's whole budget; a stuck build now fails this test instead.
 */
const DRIVER_LIMIT_MS = 25 * MINUTE;

/** Runs the driver as the Command resource does, sampling `ps` for the password on any command line. */
function runDriver(settingsFile: string, key: string, env: NodeJS.ProcessEnv, secret: string): Promise<DriverRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, path.join(REPO, "stages/final-image/driver.ts"), "create"], {
      cwd: REPO,
      env: { ...process.env, ...env, JHVM_SETTINGS: settingsFile, JHVM_KEY: key },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so the watchdog stops Packer and QEMU with it
    });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), sig);
      } catch {
        // already gone
      }
    };
    const watchdog = setTimeout(() => {
      stderr += `\n[test] the driver ran longer than ${DRIVER_LIMIT_MS / MINUTE} min: stopping its process group\n`;
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), 30_000).unref();
    }, DRIVER_LIMIT_MS);
    let stdout = "";
    let stderr = "";
    const secretInPs: string[] = [];
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    const timer = setInterval(() => {
      try {
        const ps = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
        for (const line of ps.split("\n"))
          if (line.includes(secret)) secretInPs.push(line.split(secret).join("<secret>"));
      } catch {
        // a sample may race with exiting processes; the next one counts
      }
    }, 2000);
    child.on("error", (e) => {
      clearInterval(timer);
      clearTimeout(watchdog);
      reject(e);
    });
    child.on("close", (code) => {
      clearInterval(timer);
      clearTimeout(watchdog);
      resolve({ code, stdout, stderr, secretInPs });
    });
  });
}

describe("FinalImage driver, real run (Packer qemu/TCG + Ansible + sysprep + qemu-img + hygiene)", () => {
  let work = "";
  const t: Record<string, number> = {};
  const password = randomBytes(18).toString("base64url"); // 24 characters
  let passwordHash = "";
  let baseBox = "";
  let secretFile = "";
  let packer = "";

  beforeAll(() => {
    const t0 = Date.now();
    // Every prerequisite must be there: a missing one fails the test.
    if (process.getuid && process.getuid() !== 0) throw new Error("this test needs root (loop devices, chroot, mount)");
    const r = run("bash", [path.join(REPO, "tests/images/install-deps.sh")], { timeoutMs: 20 * MINUTE });
    if (r.status !== 0) throw new Error(`tests/images/install-deps.sh failed:\n${r.output}`);
    requireTool("qemu-system-x86_64", "Run: sudo bash tests/images/install-deps.sh");
    requireTool("ansible-playbook", "Install Debian's ansible (see .ci/run).");
    requireTool("sshpass", "Install Debian's sshpass (Ansible's password login; see .ci/run).");
    packer = findPacker();

    work = tempDir("jhvm-final-image-", process.env.JHVM_TEST_WORKDIR ?? "/var/tmp");
    passwordHash = execFileSync("openssl", ["passwd", "-6", "-stdin"], {
      input: password + "\n",
      encoding: "utf8",
    }).trim();
    secretFile = path.join(work, "forbidden-strings");
    fs.writeFileSync(secretFile, password + "\n", { mode: 0o600 });

    // The base box, where the BaseBox stage would have published it.
    const baseKey = randomBytes(32).toString("hex");
    const entry = path.join(work, "cache", "base-box", baseKey);
    baseBox = path.join(entry, "base-debian-12.qcow2");
    const mk = run("bash", [path.join(REPO, "tests/images/debian12-qcow2.sh"), baseBox], {
      env: {
        ...process.env,
        JHVM_BUILD_USER: USER,
        JHVM_BUILD_PASSWORD_HASH: passwordHash,
        JHVM_IMAGE_SIZE: `${DISK_GB}G`,
      },
      timeoutMs: 30 * MINUTE,
    });
    if (mk.status !== 0) throw new Error(`debian12-qcow2.sh failed:\n${mk.output}`);
    fs.writeFileSync(path.join(entry, "build-credentials.json"), JSON.stringify({ username: USER, password }), {
      mode: 0o600,
    });
    t.baseBox = Date.now() - t0;
  });

  afterAll(() => {
    const s = (ms?: number) => (ms === undefined ? "n/a" : `${Math.round(ms / 1000)} s`);
    console.log(
      `final-image test timings: base box ${s(t.baseBox)}, negative hygiene check ${s(t.negative)}, ` +
        `driver ${s(t.driver)} (packer+ansible ${s(t.packer)}, export ${s(t.export)}, hygiene ${s(t.hygiene)}), ` +
        `checks ${s(t.checks)}`,
    );
  });

  test("negative: the hygiene gate rejects the base box (build user present) and names the user", () => {
    const t0 = Date.now();
    const r = run(HYGIENE, ["--forbid-user", USER, "--secret-file", secretFile, baseBox], { timeoutMs: 10 * MINUTE });
    t.negative = Date.now() - t0;
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^FINDING forbidden-user: account '${USER}' exists`, "m"));
    expect(r.stdout).not.toMatch(/^clean$/m);
    expect(r.output).not.toContain(password);
  });

  test("create: boots the base box, runs Ansible + sysprep, exports a compressed qcow2, passes the hygiene gate", async () => {
    const t0 = Date.now();
    const baseSha = sha256File(baseBox);
    const cacheDir = path.join(work, "cache");
    const buildDir = path.join(work, "build");
    const content = path.join(work, "content");
    fs.mkdirSync(path.join(content, "week1"), { recursive: true });
    fs.writeFileSync(path.join(content, "README.md"), `# Course material\nrun ${randomBytes(6).toString("hex")}\n`);
    fs.writeFileSync(
      path.join(content, "week1", "intro.ipynb"),
      JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }) + "\n",
    );

    const ansibleVars = {
      system_enabled: false, // covered in chroot (see the header)
      tljh_install: false, // the installer needs GitHub (unreachable here); config.yaml is still rendered
      tljh_admin_users: ["teacher"],
      tljh_authenticator: "firstuse",
      tljh_memory_limit: "2G",
      tljh_cpu_limit: 1,
      tljh_idle_culler_timeout: 3600,
      r_enabled: false,
      python_packages: [],
      content_source: "local",
      content_local_dir: content,
      desktop_enabled: false,
    };
    const key = randomBytes(32).toString("hex");
    const settings = {
      stage: "final-image",
      buildDir,
      cacheDir,
      keepCache: true,
      basePath: baseBox,
      baseSha256: baseSha,
      baseFormat: "qcow2",
      provisioner: "packer",
      ansibleVars,
      exportFormat: "qcow2",
      compression: "zlib",
      diskSizeGb: DISK_GB,
      runVars: { memoryMb: 2048, cpus: 2, headless: true, accelerator: "tcg" },
    };
    const settingsFile = path.join(work, "final-image.settings.json");
    fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2));

    // ssh reads known_hosts from the account's home (not $HOME): the build must not add to it (see ansible.cfg)
    const knownHosts = path.join(os.userInfo().homedir, ".ssh", "known_hosts");
    const knownBefore = fs.existsSync(knownHosts) ? fs.readFileSync(knownHosts, "utf8") : undefined;
    const d = await runDriver(settingsFile, key, { JHVM_PACKER: packer, CHECKPOINT_DISABLE: "1" }, password);
    t.driver = Date.now() - t0;
    const logFile = path.join(buildDir, "logs", "final-image.log");
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
    // phase durations from the driver's own timestamped log lines
    const stamp = (re: RegExp) => {
      const m = log.match(new RegExp(`^# (\\S+) ${re.source}`, "m"));
      return m ? Date.parse(m[1]) : NaN;
    };
    const tPacker = stamp(/packer build/);
    const tExport = stamp(/exporting/);
    const tHygiene = stamp(/hygiene check/);
    const tDone = stamp(/done in/);
    t.packer = tExport - tPacker;
    t.export = tHygiene - tExport;
    t.hygiene = tDone - tHygiene;
    if (d.code !== 0) throw new Error(`driver failed (exit ${d.code}):\n${d.stderr.slice(-6000)}`);
    expect(fs.existsSync(knownHosts) ? fs.readFileSync(knownHosts, "utf8") : undefined).toBe(knownBefore);

    const t1 = Date.now();
    // 1. Result on the last stdout line, matching the published cache entry and its manifest.
    const result = JSON.parse(d.stdout.trim().split("\n").pop()!);
    const entry = path.join(cacheDir, "final-image", key);
    expect(result).toEqual({
      format: "qcow2",
      path: path.join(entry, "jupyterhub.qcow2"),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      size: expect.any(Number),
    });
    expect(fs.statSync(result.path).size).toBe(result.size);
    expect(sha256File(result.path)).toBe(result.sha256);
    const manifest = JSON.parse(fs.readFileSync(path.join(entry, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({
      stage: "final-image",
      key,
      result,
      inputs: { baseSha256: baseSha, exportFormat: "qcow2", compression: "zlib", ansibleVars },
    });
    // the artifact, the manifest and the (secret-free) playbook variables; no secret file (pkrvars, ansible
    // secrets, forbidden strings) and no VM output directory
    expect(fs.readdirSync(entry).sort()).toEqual(["ansible-vars.yml", "jupyterhub.qcow2", "manifest.json"]);
    const varsFile = fs.readFileSync(path.join(entry, "ansible-vars.yml"), "utf8");
    expect(varsFile).toMatch(/^build_username: builder$/m);
    expect(varsFile).not.toContain(password);
    expect(fs.readdirSync(path.join(cacheDir, "final-image")).filter((f) => f.startsWith(".work-"))).toEqual([]);

    // 2. A compressed qcow2, smaller than the raw disk it holds.
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", result.path], { encoding: "utf8" }));
    expect(info.format).toBe("qcow2");
    expect(info["virtual-size"]).toBe(DISK_GB * 1024 ** 3);
    expect(info["format-specific"]?.data?.["compression-type"]).toBe("zlib");
    const check = spawnJson("qemu-img", ["check", "--output=json", result.path]);
    expect(check["check-errors"]).toBe(0);
    expect(check["compressed-clusters"]).toBeGreaterThan(0);
    expect(check["compressed-clusters"]).toBeGreaterThan(0.5 * check["allocated-clusters"]);

    // 3. The image: build user, its home and sudoers file gone, machine-id empty, content in /etc/skel.
    // the password and its hash, searched in the whole raw disk, free space included (the hash was in the
    // base box's /etc/shadow and /etc/shadow-, whose blocks the account's removal frees)
    const strings = path.join(work, "raw-forbidden-strings");
    fs.writeFileSync(strings, `${password}\n${passwordHash}\n`, { mode: 0o600 });
    const factsRun = run(
      "bash",
      [path.join(REPO, "tests/images/final-image-facts.sh"), result.path, USER, "/etc/skel/notebooks", strings],
      { timeoutMs: 10 * MINUTE },
    );
    expect(factsRun.status).toBe(0);
    const f = facts(factsRun.stdout);
    expect(f).toMatchObject({
      user: "absent",
      user_home: "absent",
      sudoers_build_file: "absent",
      sudoers_mentions_user: "no",
      machine_id_bytes: "0",
      ssh_host_keys: "0",
      firstboot_keys_unit: "enabled",
      root_password: "locked",
      tljh_config: "present",
      sysprep_final_script: "absent", // it deletes itself
      account_backups_mention_user: "no", // /etc/shadow- would keep the build user's hash
      strings_in_raw_disk: "0",
    });
    for (const rel of listFiles(content)) expect(f[`skel.${rel}`]).toBe(sha256File(path.join(content, rel)));
    const rawAllocated = Number(f.raw_allocated_bytes);
    expect(rawAllocated).toBeGreaterThan(500 * 1024 ** 2); // a real Debian root file system
    expect(result.size).toBeLessThan(rawAllocated);
    expect(result.size).toBeLessThan(info["virtual-size"]);

    // 4. The hygiene check, run again here: clean, with the password as a forbidden string (searched in the image).
    const hy = run(HYGIENE, ["--forbid-user", USER, "--secret-file", secretFile, result.path], {
      timeoutMs: 10 * MINUTE,
    });
    expect(hy.stdout).not.toMatch(/^FINDING/m);
    expect(hy.status).toBe(0);
    expect(hy.stdout).toMatch(/^clean$/m);

    // 5. The password is nowhere: stage log, driver output, process arguments during the run.
    expect(log.length).toBeGreaterThan(2000);
    expect(log).toMatch(/Sysprep \| start the final script detached/);
    expect(log).toMatch(/PLAY RECAP/);
    expect(log).not.toContain(password);
    expect(log).not.toContain(passwordHash);
    expect(d.stdout + d.stderr).not.toContain(password);
    expect(d.secretInPs).toEqual([]);
    t.checks = Date.now() - t1;
  });
});

function spawnJson(cmd: string, args: string[]): any {
  return JSON.parse(execFileSync(cmd, args, { encoding: "utf8" }));
}
