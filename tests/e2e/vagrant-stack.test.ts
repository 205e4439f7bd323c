/**
 * The local target with the `vagrant-libvirt` runner, for real: the Pulumi engine runs a `target: local` stack
 * whose image is the bootable test image (tests/images/local-vm-test-image.sh: debootstrapped Debian 12 with
 * Debian's cloud-init and a small web server on port 80), and Vagrant 2.3.4 + vagrant-libvirt start it on the
 * private libvirt of testbed/libvirt/up.sh (its own network and mount namespaces; QEMU under TCG). The engine, the
 * drivers and Vagrant run inside that network namespace (`ip netns exec`), where the guest's addresses live.
 * The stack's first `pulumi up` is interrupted (the whole process group killed while Vagrant boots the VM) and
 * resumed by the next `pulumi up`, as a user would: one VM, the killed run's leftovers replaced, not duplicated (one
 * VM cycle for both, where a clean up and an interrupted one were two). Checks on that VM: the hub URL and the extra
 * forward answer on 127.0.0.1, the private IP answers, the host folder is at /srv/data, the stack's user-data was
 * applied by cloud-init, Vagrant logs in only with the per-VM key (which is not in the state), a second preview
 * changes nothing, and `pulumi destroy` leaves no VM, domain, volume, box, SSH tunnel, libvirt network or VM
 * directory.
 */
import { execFileSync, spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { engineEnv } from "./engine";
import { REPO, tempDir } from "../support";
import { CONSOLE_LOG } from "../../targets/local/settings";

const STACK = "e2e-vagrant";
const PORT = 19080 + (process.pid % 500);
const SSH_FWD = 19680 + (process.pid % 500);
const IP = "192.168.56.10";
const HOSTNAME = "jhvm-vagrant-e2e";
const VM = `jupyterhub-${STACK}`;
const ADMIN_PW = crypto.randomBytes(18).toString("base64url");

jest.setTimeout(30 * 60_000);

let work: string;
let env: NodeJS.ProcessEnv;
let lab: Record<string, string>;
let vmDir: string;

/** Runs a command inside the lab's network namespace. */
function inNs(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync("ip", ["netns", "exec", lab.JHVM_LIBVIRT_NETNS, cmd, ...args], {
    cwd: opts.cwd ?? REPO,
    env,
    input: opts.input,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
}

function pulumi(args: string[], opts: { allowFail?: boolean; input?: string } = {}): SpawnSyncReturns<string> {
  const r = inNs("pulumi", [...args, "--stack", STACK, "--non-interactive"], { input: opts.input });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

const virsh = (...args: string[]) =>
  execFileSync("virsh", ["-c", lab.JHVM_LIBVIRT_URI, ...args], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** "<status> <body>" of a GET from inside the namespace */
const httpGet = (url: string) => {
  const out = inNs("curl", ["-s", "-m", "20", "-w", "\n%{http_code}", url]).stdout;
  const nl = out.lastIndexOf("\n");
  return `${out.slice(nl + 1)} ${out.slice(0, nl).trim()}`;
};

/** First column of a virsh table (libvirt 9's vol-list has no --name) */
const virshNames = (...args: string[]) =>
  virsh(...args)
    .slice(2)
    .map((l) => l.split(/\s+/)[0]);

function sshTunnels(): string[] {
  return fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ");
        return cmd.startsWith("ssh ") && cmd.includes(vmDir) ? [cmd] : [];
      } catch {
        return [];
      }
    });
}

beforeAll(() => {
  const up = execFileSync("bash", [path.join(REPO, "testbed/libvirt/up.sh")], { encoding: "utf8" });
  lab = Object.fromEntries(
    up
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("JHVM_LIBVIRT_"))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const image = execFileSync("bash", [path.join(REPO, "tests/images/local-vm-test-image.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();

  work = tempDir("jhvm-vagrant-");
  fs.mkdirSync(path.join(work, "data"));
  fs.writeFileSync(path.join(work, "data", "notebook.txt"), "written on the host\n");
  vmDir = path.join(work, "build", "local-vm", VM);
  // the boxes of this test only
  env = engineEnv(work, { VAGRANT_HOME: path.join(work, "vagrant.d"), VAGRANT_CHECKPOINT_DISABLE: "1" });
  const config = {
    "jupyterhub-vm:target": "local",
    "jupyterhub-vm:buildDir": path.join(work, "build"),
    "jupyterhub-vm:cacheDir": path.join(work, "cache"),
    "jupyterhub-vm:image": { source: "file", file: image, accelerator: "tcg" },
    "jupyterhub-vm:hub": { hostname: HOSTNAME },
    "jupyterhub-vm:local": {
      provider: "vagrant-libvirt",
      libvirtUri: lab.JHVM_LIBVIRT_URI,
      ip: IP,
      httpPort: PORT,
      forwardPorts: [`${SSH_FWD}:22`],
      dataDir: path.join(work, "data"),
      memoryMb: 1024,
      cpus: 1,
      // the test image serves a test page, not a hub (the hub's own tests: tests/hub/)
      waitForHub: false,
    },
  };
  fs.writeFileSync(path.join(REPO, `Pulumi.${STACK}.yaml`), yaml.dump({ config }));
  pulumi(["stack", "init"]);
  pulumi(["config", "set", "--secret", "adminPassword"], { input: ADMIN_PW });
});

afterAll(() => {
  if (env) {
    pulumi(["destroy", "--yes", "--skip-preview"], { allowFail: true });
    pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true });
    fs.rmSync(path.join(REPO, `Pulumi.${STACK}.yaml`), { force: true });
  }
  if (lab) execFileSync("bash", [path.join(REPO, "testbed/libvirt/down.sh")], { stdio: "inherit" });
});

describe("local target with vagrant-libvirt (real engine, real Vagrant, real libvirt)", () => {
  it("an interrupted first `pulumi up` is resumed by the next, which starts the VM (the leftover VM, box and volume replaced, not duplicated) and outputs the hub URL and the private IP", async () => {
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        lab.JHVM_LIBVIRT_NETNS,
        "pulumi",
        "up",
        "--yes",
        "--skip-preview",
        "--stack",
        STACK,
        "--non-interactive",
      ],
      { cwd: REPO, env, detached: true, stdio: "ignore" },
    );
    const exited = new Promise((r) => child.on("exit", r));
    // kill everything of that `pulumi up` (engine, plugin, driver, Vagrant) once the domain exists and runs
    const t0 = Date.now();
    while (!virsh("list", "--name").includes(VM)) {
      if (Date.now() - t0 > 10 * 60_000) throw new Error("the domain never appeared");
      await new Promise((r) => setTimeout(r, 1000));
    }
    process.kill(-(child.pid as number), "SIGKILL");
    await exited;
    expect(virsh("list", "--name")).toEqual([VM]); // left running: libvirt's QEMU is not in that process group

    // what a user does next: release the lock the killed update left, then `pulumi up` again
    const cancel = pulumi(["cancel", "--yes"], { allowFail: true });
    const t1 = Date.now();
    const again = pulumi(["up", "--yes", "--skip-preview"], { allowFail: true });
    console.log(`vagrant-libvirt pulumi up (resuming): ${Math.round((Date.now() - t1) / 1000)} s`);
    if (again.status !== 0)
      throw new Error(
        `resuming failed:\n${cancel.stdout}${cancel.stderr}\n${again.stdout.slice(-6000)}\n${again.stderr}`,
      );
    const out = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
    expect(out.hubUrl).toBe(`http://127.0.0.1:${PORT}/`);
    expect(out.localIp).toBe(IP);
    expect(virsh("list", "--all", "--name")).toEqual([VM]);
    // the driver found the killed run's VM directory and tore that VM down before making the new one
    const log = fs.readFileSync(path.join(work, "build", "logs", "local-vm.log"), "utf8");
    expect(log).toMatch(/exists \(left over\): stopping its VM and replacing it/);
    expect(log).toMatch(/vagrant destroy in /);
    const box = JSON.parse(fs.readFileSync(path.join(vmDir, "vagrant-vm.json"), "utf8")).box as string;
    expect(virshNames("vol-list", "default").filter((v) => v.startsWith(`${box}_vagrant_box_image_`))).toHaveLength(1);
  });

  it("the hub port, the extra forward and the private IP answer; the host folder is at /srv/data", () => {
    expect(httpGet(`http://127.0.0.1:${PORT}/`)).toBe("200 jhvm-test-web ok");
    expect(httpGet(`http://127.0.0.1:${PORT}/data/notebook.txt`)).toBe("200 written on the host");
    expect(httpGet(`http://${IP}/`)).toBe("200 jhvm-test-web ok");
    const banner = inNs("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${SSH_FWD}; head -c 8 <&3`], {}).stdout;
    expect(banner).toBe("SSH-2.0-");
  });

  it("cloud-init applied the stack's user-data; Vagrant logs in as the per-VM user with the per-VM key only", () => {
    const r = inNs(
      "vagrant",
      ["ssh", "-c", "hostname; id -un; sudo -n true && echo sudo-ok; (sudo cloud-init status || true)"],
      {
        cwd: vmDir,
      },
    );
    if (r.status !== 0) throw new Error(`vagrant ssh failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.trim().split(/\r?\n/);
    expect(lines.slice(0, 3)).toEqual([HOSTNAME, "jhvm-local", "sudo-ok"]);
    expect(r.stdout).toMatch(/status: (done|error)/);
    // the key lives only in the VM directory, 0600; the public key reached the guest through the seed's vendor-data
    const key = path.join(vmDir, "id_ed25519");
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    expect(fs.statSync(vmDir).mode & 0o777).toBe(0o700);
    const exported = pulumi(["stack", "export"]).stdout;
    expect(exported).not.toContain("PRIVATE KEY");
    expect(exported).not.toContain(fs.readFileSync(`${key}.pub`, "utf8").split(" ")[1]);
    expect(exported).not.toContain(ADMIN_PW);
    // the image the box was made from has no such account: the login is the seed's, per VM
    const facts = execFileSync("bash", [path.join(REPO, "tests/images/inspect-qcow2.sh"), imagePath(), "jhvm-local"], {
      encoding: "utf8",
    });
    expect(facts).toContain("os_id=debian");
    expect(facts).toContain("user=absent");
  });

  it("the guest's serial console is captured in the VM directory, as with the qemu runner", () => {
    // libvirt writes it (lv.serial type file); the driver shows its tail when a hub never answers. The test
    // image's web unit writes this line to ttyS0 once it serves.
    const consoleLog = fs.readFileSync(path.join(vmDir, CONSOLE_LOG), "utf8");
    expect(consoleLog).toContain("jhvm-test-web: serving on port 80");
  });

  it("a second preview changes nothing", () => {
    expect(pulumi(["preview", "--expect-no-changes"]).status).toBe(0);
  });

  it("`pulumi destroy` leaves no VM, domain, volume, box, SSH tunnel, network or VM directory", () => {
    const box = JSON.parse(fs.readFileSync(path.join(vmDir, "vagrant-vm.json"), "utf8")).box as string;
    expect(box).toMatch(/^jupyterhub-vm-jupyterhub-e2e-vagrant-[0-9a-f]{12}$/);
    expect(virshNames("vol-list", "default").some((v) => v.startsWith(`${box}_vagrant_box_image_`))).toBe(true);
    pulumi(["destroy", "--yes", "--skip-preview"]);
    expect(virsh("list", "--all", "--name")).toEqual([]);
    expect(virshNames("vol-list", "default")).toEqual([]);
    expect(virsh("net-list", "--all", "--name")).toEqual([]);
    const boxes = inNs("vagrant", ["box", "list"]).stdout;
    expect(boxes).not.toContain(box);
    expect(boxes).toMatch(/There are no installed boxes/);
    expect(sshTunnels()).toEqual([]);
    expect(fs.existsSync(vmDir)).toBe(false);
  });
});

describe("preflight", () => {
  it("an unreachable libvirt fails the preview, naming local.libvirtUri, before anything is built or created", () => {
    const file = path.join(REPO, `Pulumi.${STACK}.yaml`);
    const good = fs.readFileSync(file, "utf8");
    const cfg = yaml.load(good) as { config: Record<string, Record<string, unknown>> };
    const bad = `qemu:///system?socket=${work}/no-such-libvirt-sock`;
    cfg.config["jupyterhub-vm:local"].libvirtUri = bad;
    fs.writeFileSync(file, yaml.dump(cfg));
    try {
      const r = pulumi(["preview"], { allowFail: true });
      expect(r.status).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toContain(`local.libvirtUri: "${bad}" cannot be reached`);
      expect(virsh("list", "--all", "--name")).toEqual([]);
      expect(fs.existsSync(vmDir)).toBe(false);
    } finally {
      fs.writeFileSync(file, good);
    }
  });
});

let image: string | undefined;
function imagePath(): string {
  if (!image) {
    const cfg = yaml.load(fs.readFileSync(path.join(REPO, `Pulumi.${STACK}.yaml`), "utf8")) as {
      config: { "jupyterhub-vm:image": { file: string } };
    };
    image = cfg.config["jupyterhub-vm:image"].file;
  }
  return image;
}
