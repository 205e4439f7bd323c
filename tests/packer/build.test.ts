// A real `packer build` of the qemu source in disk_image mode (the FinalImage/CI path): a debootstrapped
// Debian 12 qcow2 (tests/images/debian12-qcow2.sh) is booted under TCG, provisioned over SSH by the
// template's shell provisioner, shut down and post-processed (manifest + sha256). Then the output is
// checked without booting it again (qemu-img check, loop mount: Debian 12 root fs, python3, build user).
// Also checked: the build password never appears in Packer's log, its output, or any process's
// arguments; QEMU's and Packer's listening sockets are on 127.0.0.1 only.
// Needs root (loop devices), QEMU (tests/images/install-deps.sh) and packer (scripts/install-packer.sh).
// It fails, never skips, when one of them is missing.
import { spawn, execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PACKER_DIR, REPO, findPacker, listenersOf, makeCredentials, run, writeSecretVarFile } from "./helpers";
import { tempDir } from "../support";

const MINUTE = 60_000;
jest.setTimeout(60 * MINUTE);

let work = ""; // removed after the file (tests/support.ts tempDir; JHVM_KEEP_TEST_OUTPUT=1 keeps it)

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    fs.createReadStream(file)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

function requireTool(cmd: string, hint: string): void {
  const r = run("bash", ["-c", `command -v ${cmd}`]);
  if (r.status !== 0) throw new Error(`${cmd} not found. ${hint}`);
}

interface BuildOutcome {
  code: number | null;
  output: string;
  secretInPs: string[];
  listeners: Set<string>;
}

/** Runs packer asynchronously while sampling `ps` (secret leaks) and `ss` (listening addresses). */
function runPackerBuild(
  packer: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  secrets: string[],
): Promise<BuildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(packer, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const secretInPs: string[] = [];
    const listeners = new Set<string>();
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
      process.stderr.write(d);
    });
    const timer = setInterval(() => {
      try {
        const ps = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
        for (const line of ps.split("\n")) {
          if (secrets.some((s) => line.includes(s))) {
            secretInPs.push(secrets.reduce((l, s) => l.split(s).join("<secret>"), line));
          }
        }
        for (const l of listenersOf(child.pid!)) listeners.add(l);
      } catch {
        // a sample may race with processes exiting; the next one counts
      }
    }, 1000);
    child.on("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearInterval(timer);
      resolve({ code, output, secretInPs, listeners });
    });
  });
}

test("packer build qemu.base (disk_image=true, TCG) from a Debian 12 qcow2", async () => {
  const t0 = Date.now();
  if (process.getuid && process.getuid() !== 0) {
    throw new Error("this test needs root (loop devices and chroot to make and inspect the disk images)");
  }
  requireTool("qemu-system-x86_64", "Install the image tools: sudo bash tests/images/install-deps.sh");
  requireTool("ss", "Install iproute2.");
  const packer = findPacker();

  work = tempDir("jhvm-packer-build-", process.env.JHVM_TEST_WORKDIR ?? "/var/tmp");
  const creds = makeCredentials();

  // 1. Input disk: cached debootstrap rootfs + this run's build user (hash only).
  const input = path.join(work, "input", "debian12.qcow2");
  const mk = run("bash", [path.join(REPO, "tests/images/debian12-qcow2.sh"), input], {
    env: { ...process.env, JHVM_BUILD_USER: creds.username, JHVM_BUILD_PASSWORD_HASH: creds.passwordHash },
    timeoutMs: 30 * MINUTE,
  });
  if (mk.status !== 0) throw new Error(`debian12-qcow2.sh failed:\n${mk.output}`);
  const tImage = Date.now();
  const inputSha = await sha256File(input);

  // 2. packer build, secrets in a 0600 var-file, everything else as -var.
  const secrets = writeSecretVarFile(work, creds);
  const out = path.join(work, "out");
  const logFile = path.join(work, "packer.log");
  const args = [
    "build",
    "-color=false",
    "-timestamp-ui",
    "-only=qemu.base",
    `-var-file=${path.join(PACKER_DIR, "os", "debian-12.pkrvars.hcl")}`,
    `-var-file=${secrets}`,
    "-var=disk_image=true",
    `-var=iso_path=${input}`,
    `-var=iso_checksum=sha256:${inputSha}`,
    "-var=accelerator=tcg",
    "-var=disk_size=4096",
    "-var=memory=2048",
    "-var=cpus=2",
    "-var=ssh_timeout=20m",
    `-var=output_directory=${out}`,
    PACKER_DIR,
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    PACKER_LOG: "1",
    PACKER_LOG_PATH: logFile,
    PACKER_CACHE_DIR: path.join(work, "packer_cache"),
  };
  const build = await runPackerBuild(packer, args, env, [creds.password, creds.passwordHash]);
  const tBuild = Date.now();
  expect(build.code).toBe(0);

  // 3. Secrets: not in Packer's log, its output, or any process's arguments during the build.
  const log = fs.readFileSync(logFile, "utf8");
  expect(log.length).toBeGreaterThan(1000);
  expect(log).not.toContain(creds.password);
  expect(log).not.toContain(creds.passwordHash);
  expect(build.output).not.toContain(creds.password);
  expect(build.secretInPs).toEqual([]);

  // 4. Network exposure: every socket Packer, its plugins and QEMU listened on was on 127.0.0.1.
  const listeners = [...build.listeners];
  expect(listeners.length).toBeGreaterThanOrEqual(2); // at least QEMU's SSH forward and VNC server
  for (const l of listeners) expect(l).toMatch(/^127\.0\.0\.1:\d+ /);

  // 5. The provisioner ran in the guest.
  expect(build.output).toMatch(/base box: Debian GNU\/Linux 12 \(bookworm\)/);
  expect(build.output).toMatch(/Python 3\.11/);

  // 6. Artifacts: qcow2, manifest, sha256.
  const disk = path.join(out, "qemu", "base-debian-12.qcow2");
  expect(fs.existsSync(disk)).toBe(true);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, "qemu", "packer-manifest.json"), "utf8"));
  expect(manifest.builds).toHaveLength(1);
  const b = manifest.builds[0];
  expect(b.name).toBe("base");
  expect(b.builder_type).toBe("qemu");
  expect(b.files).toHaveLength(1);
  expect(path.resolve(REPO, b.files[0].name)).toBe(disk);
  expect(b.files[0].size).toBe(fs.statSync(disk).size);
  expect(b.custom_data).toEqual({ os_name: "debian-12", os_family: "debian", disk_image: "true", vm_name: "base-debian-12" });
  expect(manifest.last_run_uuid).toBe(b.packer_run_uuid);
  const diskSha = await sha256File(disk);
  const checksum = fs.readFileSync(path.join(out, "qemu", "base-debian-12.qcow2.sha256"), "utf8");
  expect(checksum).toBe(`${diskSha}\tbase-debian-12.qcow2\n`);

  // 7. The output is a sound qcow2 holding a Debian 12 root file system with what later stages need.
  const insp = run("bash", [path.join(REPO, "tests/images/inspect-qcow2.sh"), disk, creds.username], {
    timeoutMs: 10 * MINUTE,
  });
  expect(insp.status).toBe(0);
  const facts = Object.fromEntries(
    insp.stdout
      .split("\n")
      .filter((l) => /^[a-z_0-9]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  expect(facts).toMatchObject({
    qemu_img_check: "ok",
    format: "qcow2",
    virtual_size: String(4096 * 1024 * 1024),
    os_id: "debian",
    version_id: "12",
    python3: "yes",
    root_locked: "yes",
    root_mode: "755",
    tmp_mode: "1777",
    user: "present",
    user_hash: "sha512crypt",
    user_sudoers: "nopasswd",
  });
  expect(facts.fstab_root).toMatch(/^UUID=/);

  const s = (ms: number) => `${Math.round(ms / 1000)} s`;
  console.log(
    `packer build test timings: input image ${s(tImage - t0)}, packer build ${s(tBuild - tImage)}, ` +
      `checks ${s(Date.now() - tBuild)}, total ${s(Date.now() - t0)}; listeners seen: ${listeners.join(", ")}`,
  );
});
