/**
 * The local target as a new user runs it, with the real engine: `pulumi up` of a `target: local` stack (QEMU runner,
 * TCG) running the hub test image (tests/hub/hub-image.ts: TLJH 2.0.0's hub tier by TLJH's own installer steps, our
 * roles), the admin password set as a secret. `up` returns only once the hub answers (local.waitForHub), so the
 * `hubUrl` output is a hub (firstuse, the image's config.yaml from the same hub settings): a claim of the admin name,
 * a wrong password and an unknown user are refused; the admin logs in with the stack's password; the admin's server
 * starts (SystemdSpawner, UserCreatingSpawner) and JupyterLab answers, offering the R kernel (installR), with the
 * memory limit in effect for it (jupyter-resource-usage reads MEM_LIMIT, which the spawner sets), and both limits in
 * the cgroup of the server's systemd unit (read by a kernel run there over the server's WebSocket); the idle culler runs
 * with the stack's timeout (hub API). The stack has a data disk (local.dataDiskGb): QEMU attaches it by its serial,
 * the first boot formats it (ext4, label jhvm-data) and keeps /srv/jhvm-data, /home and /srv/data on it (the guest's
 * mounts, read by the admin's kernel); users alice and bob sign in and write files, then an Ansible variable change
 * (hub.idleTimeoutSeconds, hub.installR: a new image) and a new admin password make `pulumi up` replace the VM on
 * the same disk, and every user keeps name, password, UID and files (tests/hub/replacement.ts). `pulumi destroy`
 * then leaves no VM process and no VM directory, and keeps the disk, whose file system is the one the first boot
 * made (same UUID: not formatted again by the second VM). The data disk's driver alone (made sparse, kept, deleted)
 * is tests/images/local-data-disk.test.ts.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { engineEnv } from "./engine";
import { REPO, freePort, qemuProcessesIn, sh, tempDir } from "../support";
import { DATA_DISK_SERIAL } from "../../targets/local/settings";
import { Browser } from "../hub/browser";
import { expectLoginRefused, loggedInAdmin, runPython, startServer } from "../hub/checks";
import { FIRSTUSE, SECOND_IMAGE, hubImage, hubSettings } from "../hub/hub-image";
import { afterReplacement, Before, beforeReplacement } from "../hub/replacement";

const STACK = "e2e-local-hub";
const PASSWORD = `Hub-${crypto.randomBytes(9).toString("base64url")}`;
const PASSWORD_V2 = `Hub2-${crypto.randomBytes(9).toString("base64url")}`;

jest.setTimeout(40 * 60_000);

let work: string;
let env: NodeJS.ProcessEnv;
let port: number;

function pulumi(args: string[], opts: { allowFail?: boolean; input?: string } = {}): SpawnSyncReturns<string> {
  const r = spawnSync("pulumi", [...args, "--stack", STACK, "--non-interactive"], {
    cwd: REPO,
    env,
    encoding: "utf8",
    input: opts.input,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

beforeAll(async () => {
  work = tempDir("jhvm-local-hub-");
  const image = hubImage(hubSettings(FIRSTUSE));
  port = await freePort();
  env = engineEnv(work);
  const config = {
    "jupyterhub-vm:target": "local",
    "jupyterhub-vm:buildDir": path.join(work, "build"),
    "jupyterhub-vm:cacheDir": path.join(work, "cache"),
    "jupyterhub-vm:image": { source: "file", file: image, accelerator: "tcg" },
    // the settings the image was built for (its config.yaml); the first boot takes the admin from here
    "jupyterhub-vm:hub": FIRSTUSE,
    "jupyterhub-vm:local": {
      provider: "qemu",
      httpPort: port,
      memoryMb: 2048,
      cpus: 2,
      readyTimeoutSeconds: 1800,
      dataDiskGb: 2,
    },
  };
  fs.writeFileSync(path.join(REPO, `Pulumi.${STACK}.yaml`), yaml.dump({ config }));
  pulumi(["stack", "init"]);
  // the password reaches pulumi on stdin, never as an argument
  pulumi(["config", "set", "--secret", "adminPassword"], { input: PASSWORD });
});

afterAll(() => {
  if (!env) return;
  pulumi(["destroy", "--yes", "--skip-preview"], { allowFail: true });
  pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true });
  fs.rmSync(path.join(REPO, `Pulumi.${STACK}.yaml`), { force: true });
  for (const pid of qemuProcessesIn(work)) process.kill(pid, "SIGKILL");
});

describe("pulumi up of a local stack gives a hub the admin logs in to; destroy removes it", () => {
  let hubUrl = "";

  it("up returns once the hub answers, with hubUrl", () => {
    const t0 = Date.now();
    const up = pulumi(["up", "--yes", "--skip-preview"]);
    console.log(`pulumi up: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // the driver's wait, in up's own output
    expect(`${up.stdout}${up.stderr}`).toMatch(/hub answers on http:\/\/127\.0\.0\.1:\d+\/hub\/api after \d+ s/);
    expect(`${up.stdout}${up.stderr}`).not.toContain(PASSWORD);
    hubUrl = JSON.parse(pulumi(["stack", "output", "--json"]).stdout).hubUrl;
    expect(hubUrl).toBe(`http://127.0.0.1:${port}/`);
  });

  it("the hub at hubUrl: /hub/api and the login page through traefik", async () => {
    const b = new Browser(new URL(hubUrl).origin);
    const api = await b.request("/hub/api");
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body).version).toBe("5.5.4");
    expect((await b.request("/hub/login")).status).toBe(200);
  });

  it("before anyone logs in: a claim of the admin name, a wrong password and an unknown user are refused", async () => {
    // with FirstUse, the first login of a name without a password sets it: refused, so first boot set the admin's
    await expectLoginRefused(hubUrl, "admin", "Claimed-first-2024!");
    await expectLoginRefused(hubUrl, "admin", `${PASSWORD}-wrong`);
    await expectLoginRefused(hubUrl, "mallory", "Mallory-password-123");
  });

  let dataFs: { device: string; uuid: string[]; mounts: Record<string, string[]> } | undefined;

  it("the admin logs in with the stack's password; the server starts; JupyterLab answers, with R and the limit", async () => {
    const b = await loggedInAdmin(hubUrl, PASSWORD);
    const states = await startServer(b, "/", "admin");
    console.log(`admin server: ${states.join("; ")}`);
    const lab = await b.follow("/user/admin/lab");
    expect(lab.status).toBe(200);
    expect(lab.body).toContain("JupyterLab");
    // the limit the spawner gave the server (MEM_LIMIT), as jupyter-resource-usage reports it: hub.memoryLimit 1G
    const metrics = await b.request("/user/admin/api/metrics/v1");
    expect(metrics.status).toBe(200);
    expect(JSON.parse(metrics.body).limits.memory.rss).toBe(1024 ** 3);
    // the limits in effect where the server runs: its systemd unit's cgroup (SystemdSpawner's MemoryMax/CPUQuota
    // from hub.memoryLimit 1G and hub.cpuLimit 1 core), read by the admin's own kernel in that unit
    const cgroup = await runPython(
      b,
      "/user/admin/",
      [
        "p = '/sys/fs/cgroup' + open('/proc/self/cgroup').read().strip().split('::', 1)[1]",
        "print(p.rsplit('/', 1)[-1], open(p + '/memory.max').read().strip(), open(p + '/cpu.max').read().strip())",
      ].join("\n"),
    );
    expect(cgroup.trim()).toBe(`jupyter-admin.service ${1024 ** 3} 100000 100000`);
    // hub.installR: the R kernel (IRkernel, registered in the user environment by the r role) is offered
    const specs = await b.request("/user/admin/api/kernelspecs");
    expect(specs.status).toBe(200);
    expect(Object.keys(JSON.parse(specs.body).kernelspecs).sort()).toEqual(["ir", "python3"]);
    // the data disk, as the guest sees it: the file system labelled jhvm-data (the first boot made it) under
    // /srv/jhvm-data, /home and /srv/data
    dataFs = JSON.parse(
      await runPython(
        b,
        "/user/admin/",
        [
          "import json, os",
          "dev = os.path.realpath('/dev/disk/by-label/jhvm-data')",
          "uuid = [u for u in os.listdir('/dev/disk/by-uuid') if os.path.realpath('/dev/disk/by-uuid/' + u) == dev]",
          "dirs = ('/srv/jhvm-data', '/home', '/srv/data')",
          "mounts = {m[1]: [m[0], m[2]] for m in (l.split() for l in open('/proc/mounts')) if m[1] in dirs}",
          "print(json.dumps({'device': dev, 'uuid': uuid, 'mounts': mounts}))",
        ].join("\n"),
      ),
    );
    expect(dataFs?.device).toMatch(/^\/dev\/vd[b-z]$/);
    expect(dataFs?.uuid).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    const onDisk = [dataFs?.device, "ext4"];
    expect(dataFs?.mounts).toEqual({ "/srv/jhvm-data": onDisk, "/home": onDisk, "/srv/data": onDisk });
    // QEMU attached it by its serial (the by-id name the user-data formats and mounts it by)
    const pid = fs.readFileSync(path.join(work, "build", "local-vm", `jupyterhub-${STACK}`, "qemu.pid"), "utf8").trim();
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain(`serial=${DATA_DISK_SERIAL}`);
  });

  it("the idle culler runs with the stack's timeout (hub API)", async () => {
    const b = await loggedInAdmin(hubUrl, PASSWORD);
    const services = await b.api<Record<string, { command: string[] }>>("/", "services");
    expect(services.status).toBe(200);
    expect(services.body["cull-idle"].command).toEqual(expect.arrayContaining(["--timeout=1800"]));
  });

  let before: Before | undefined;

  it("with the data disk: alice and bob sign in, their servers start, each writes a file", async () => {
    const admin = await loggedInAdmin(hubUrl, PASSWORD);
    before = await beforeReplacement(hubUrl, admin, "firstuse");
  });

  it("an Ansible variable change and a new admin password: up replaces the VM on the same data disk", () => {
    if (!before) throw new Error("the users' step before the replacement failed");
    const v2 = hubImage(hubSettings(SECOND_IMAGE));
    pulumi(["config", "set", "--path", "image.file", v2]);
    pulumi(["config", "set", "--path", "hub.idleTimeoutSeconds", "1700"]);
    pulumi(["config", "set", "--path", "hub.installR", "false"]);
    pulumi(["config", "set", "--secret", "adminPassword"], { input: PASSWORD_V2 });
    const disk = path.join(work, "build", "local-data", `jupyterhub-${STACK}.qcow2`);
    const inode = fs.statSync(disk).ino;
    const t0 = Date.now();
    const up = pulumi(["up", "--yes", "--skip-preview"]);
    console.log(`pulumi up (replacement): ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // the VM, in up's own summary ("+-1 replaced")
    expect(up.stdout).toMatch(/\+-\s*\d+ replaced/);
    // the same disk file: neither replaced nor made again
    expect(fs.statSync(disk).ino).toBe(inode);
    // the new VM's first boot restored the accounts from the save on the disk (not from the homes' owners)
    const console_ = fs.readFileSync(
      path.join(work, "build", "local-vm", `jupyterhub-${STACK}`, "console.log"),
      "utf8",
    );
    expect(console_).toMatch(/jupyterhub-vm identity: restored \d+ accounts and \d+ groups/);
    expect(console_).not.toContain("recovered account");
  });

  it("after the replacement: every user's name, password, UID and files; the admin's password is the stack's", async () => {
    if (!before) throw new Error("the users' step before the replacement failed");
    await afterReplacement(hubUrl, "firstuse", before, PASSWORD_V2, PASSWORD);
    // the new image's setting (the culler's timeout) is what runs
    const b = await loggedInAdmin(hubUrl, PASSWORD_V2);
    const services = await b.api<Record<string, { command: string[] }>>("/", "services");
    expect(services.body["cull-idle"].command).toEqual(expect.arrayContaining(["--timeout=1700"]));
  });

  it("destroy leaves no VM process and no VM directory; the data disk stays (local.keepDataDisk), with the first boot's file system", () => {
    pulumi(["destroy", "--yes", "--skip-preview"]);
    expect(qemuProcessesIn(work)).toEqual([]);
    expect(fs.readdirSync(path.join(work, "build", "local-vm"))).toEqual([]);
    expect(fs.readdirSync(path.join(work, "build", "local-data"))).toEqual([`jupyterhub-${STACK}.qcow2`]);
    // read on the host from a raw copy: the file system the first VM's first boot made (the second did not format
    // it again), holding the homes and the shared data
    const disk = path.join(work, "build", "local-data", `jupyterhub-${STACK}.qcow2`);
    const raw = path.join(work, "disk.raw");
    expect(sh("qemu-img", ["convert", "-O", "raw", disk, raw]).code).toBe(0);
    const blkid = Object.fromEntries(
      sh("blkid", ["-o", "export", raw])
        .stdout.trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(blkid).toMatchObject({ TYPE: "ext4", LABEL: "jhvm-data", UUID: dataFs?.uuid[0] });
    const mnt = path.join(work, "mnt");
    fs.mkdirSync(mnt);
    expect(sh("mount", ["-o", "ro,loop", raw, mnt]).code).toBe(0);
    try {
      expect(fs.readdirSync(mnt)).toEqual(expect.arrayContaining(["data", "home", "hub", "identity"]));
      expect(fs.readdirSync(path.join(mnt, "home"))).toEqual(expect.arrayContaining(["jupyter-alice", "jupyter-bob"]));
    } finally {
      sh("umount", [mnt]);
      fs.rmSync(raw, { force: true });
    }
  });
});
