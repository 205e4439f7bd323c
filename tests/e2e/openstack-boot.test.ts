/**
 * The OpenStack target on a cloud whose servers really boot: the booting test OpenStack (testbed/openstack-lab with
 * LAB_BOOT=1: Nova's libvirt driver under TCG, Neutron's linuxbridge, DHCP, L3 and metadata agents with security
 * groups enforced, Cinder on Ceph RBD; everything inside the lab's network namespace). The real engine and the real
 * provider (run inside that namespace, where the lab's APIs and the floating IPs are) deploy a `target: openstack`
 * stack of the unchanged program: the hub test image (tests/hub/hub-image.ts) uploaded through the program, a 1 GiB
 * data volume, a floating IP, authenticator native (set at first boot). Then, from inside the namespace (the browser
 * checks through a relay into it, tests/e2e/netns-forward.ts):
 *  - `up` returned because hubUrl answered through the floating IP; the admin logs in with the stack's password,
 *    a wrong one is refused, signing up as the admin is refused, a new sign-up waits for approval;
 *  - a port the security group does not open (a listener the admin's kernel starts on 0.0.0.0:8890) is not reachable
 *    through the floating IP, while it answers inside the server;
 *  - the volume is on /home, found by its ID on the bus Nova chose (the image's hw_disk_bus=scsi);
 *  - alice and bob sign up and are approved, alice's server writes a file;
 *  - after `openstack server reboot` the hub answers again, and a kernel in the admin's server cannot reach the
 *    metadata service (IPv4; the IPv6 rule is there) while root on the server can;
 *  - a new image (an Ansible variable changed) with a new admin password replaces the server (stopped before it
 *    is deleted): the same volume comes back, the admin's password is the new one, nobody claims alice by signing up
 *    again, alice and bob log in, alice's kernel sees her UID and her file (NativeAuthenticator's records on the
 *    volume, tests/hub/replacement.ts);
 *  - `destroy` leaves none of our resources.
 * These are the boots tests/hub/native-volume.test.ts made on plain QEMU (a virtio disk standing in for a volume).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { assertBridgedOpenstack, engineEnv, REPO } from "./engine";
import { LabState, NOTHING, Stack, ours, run } from "./lab";
import { forwardIntoNetns, Forward } from "./netns-forward";
import { Browser } from "../hub/browser";
import { expectLoginRefused, loggedInAdmin, runPython, startServer } from "../hub/checks";
import { FIRSTUSE, SECOND_IMAGE, hubImage, hubSettings } from "../hub/hub-image";
import { Seen, login, newUser, see } from "../hub/replacement";
import { tempDir } from "../support";

jest.setTimeout(60 * 60_000);

const LAB = process.env.JHVM_BOOT_LAB ?? "/tmp/jhvm-lab-boot";
const PASSPHRASE = crypto.randomBytes(16).toString("hex");
const PASSWORD = `Hub-${crypto.randomBytes(9).toString("base64url")}`;
const PASSWORD_V2 = `Hub2-${crypto.randomBytes(9).toString("base64url")}`;
const FLAVOR = "m1.hub";

let work: string;
let env: NodeJS.ProcessEnv;
let netns = "";
let startedLab = false;
let stack: NsStack;
let images: { v1: string; v2: string };
let fip = "";
let forward: Forward | undefined;
let hubUrl = ""; // through the relay (the browser's)
const failures: string[] = [];

/** The program's stack, its `pulumi` run inside the lab's namespace (the lab's APIs are on its loopback). */
class NsStack extends Stack {
  override pulumi(args: string[], opts: { input?: string; allowFail?: boolean } = {}) {
    return run(
      "ip",
      ["netns", "exec", netns, "pulumi", ...args, "--stack", this.name, "--non-interactive"],
      this.env,
      opts,
    );
  }
}
const inNs = (cmd: string, args: string[], opts: { allowFail?: boolean } = {}) =>
  run("ip", ["netns", "exec", netns, cmd, ...args], env, opts);
const openstackCli = (cloud: string, ...args: string[]) => inNs("openstack", ["--os-cloud", cloud, ...args]).stdout;
const state = (): LabState =>
  JSON.parse(inNs("/usr/bin/python3", [path.join(__dirname, "lab_inspect.py")]).stdout) as LabState;
const secs = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0);

/** HTTP status of a GET from inside the namespace (000: nothing answered within `timeout` s). */
const curlNs = (url: string, timeout = 10) =>
  inNs("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", String(timeout), url], { allowFail: true }).stdout;

async function hubAnswers(what: string, seconds: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    if (curlNs(`http://${fip}/hub/api`) === "200") return (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 5000));
  }
  throw new Error(`${what}: the hub did not answer on http://${fip}/hub/api within ${seconds} s`);
}

/** The server's console log (Nova's, through the API): what first boot and the volume lookup said. */
const consoleLog = (serverId: string) => openstackCli("lab-demo", "console", "log", "show", serverId);

function onFailure(serverId: string | undefined) {
  if (!serverId) return;
  console.log(`console of ${serverId} (last 150 lines):\n${consoleLog(serverId).split("\n").slice(-150).join("\n")}`);
}

const CONFIG = (image: string, over: Record<string, unknown> = {}) => ({
  target: "openstack",
  buildDir: path.join(work, "build"),
  cacheDir: path.join(work, "cache"),
  image: { source: "file", file: image, diskSizeGb: 8 },
  hub: { admins: ["admin"], hostname: "hub-nova", authenticator: "native" },
  openstack: {
    cloud: "lab-demo",
    flavor: FLAVOR,
    network: "lab-net",
    floatingIpPool: "public",
    sshAllowedCidrs: [],
    minRamMb: 1024,
    dataVolumeSizeGb: 1,
    keepDataVolume: false,
    waitForHub: true,
    readyTimeoutSeconds: 1500,
    serverName: "hub-nova",
    ...over,
  },
});

beforeAll(async () => {
  work = tempDir("jhvm-e2e-boot-");
  env = engineEnv(work, { OS_CLIENT_CONFIG_FILE: path.join(LAB, "clouds.yaml"), LAB, LAB_BOOT: "1" }, PASSPHRASE);
  // the two hub images (cached; tests/prebuild.ts starts them at the beginning of a CI run)
  images = { v1: hubImage(hubSettings(FIRSTUSE)), v2: hubImage(hubSettings(SECOND_IMAGE)) };

  startedLab =
    run("bash", [path.join(REPO, "testbed/openstack-lab/status.sh"), "--quiet"], env, { allowFail: true }).status !== 0;
  const t0 = Date.now();
  run("bash", [path.join(REPO, "testbed/openstack-lab/up.sh")], env);
  netns = fs.readFileSync(path.join(LAB, "netns"), "utf8").trim();
  console.log(`booting lab ready in ${secs(t0)} s (started by this test: ${startedLab}), namespace ${netns}`);
  // a flavor a hub fits in (TLJH's hub and a user server under TCG)
  if (inNs("openstack", ["--os-cloud", "lab", "flavor", "show", FLAVOR], { allowFail: true }).status !== 0)
    openstackCli("lab", "flavor", "create", "--vcpus", "2", "--ram", "2048", "--disk", "10", "--public", FLAVOR);
  expect(ours(state())).toEqual(NOTHING);

  stack = new NsStack("e2e-boot", env);
  stack.writeConfig(CONFIG(images.v1));
  stack.pulumi(["stack", "init"]);
  stack.pulumi(["config", "set", "--secret", "adminPassword"], { input: PASSWORD });
});

afterAll(async () => {
  await forward?.stop();
  if (!env || !netns) return;
  try {
    if (failures.length) onFailure(state().servers[0]?.id);
    stack?.remove();
    for (const vol of state().volumes) openstackCli("lab-demo", "volume", "delete", "--force", vol.id);
    for (const img of state().images) openstackCli("lab-demo", "image", "delete", img.id);
  } finally {
    const purge = process.env.JHVM_KEEP_TEST_OUTPUT === "1" ? [] : ["--purge"];
    if (startedLab) run("bash", [path.join(REPO, "testbed/openstack-lab/down.sh"), ...purge], env, { allowFail: true });
  }
});

/** A test whose failure prints the server's console (once, at the end). */
function step(name: string, fn: () => Promise<void>) {
  it(name, async () => {
    try {
      await fn();
    } catch (e) {
      failures.push(name);
      throw e;
    }
  });
}

describe("target openstack on a booting OpenStack: Nova (libvirt, TCG), Neutron agents, Cinder on Ceph", () => {
  let serverId = "";
  let volumeId = "";
  let admin: Browser;
  const passwords = {
    alice: `Alice-${crypto.randomBytes(6).toString("hex")}`,
    bob: `Bob-${crypto.randomBytes(6).toString("hex")}`,
  };
  let aliceSeen: Seen | undefined;

  step("pulumi up uploads the image, boots the server with its volume, and returns once hubUrl answers", async () => {
    const t0 = Date.now();
    const r = stack.pulumi(["up", "--yes", "--skip-preview"]);
    assertBridgedOpenstack(r.stdout + r.stderr);
    const ready = /hub ready at \S+ after (\d+) s/.exec(r.stdout + r.stderr)?.[1];
    console.log(`pulumi up: ${secs(t0)} s (the hub answered ${ready} s after the server was ACTIVE)`);
    const s = state();
    expect(ours(s)).toEqual({
      images: 1,
      servers: 1,
      ports: 1,
      securityGroups: 1,
      floatingIps: 1,
      keypairs: 0,
      volumes: 1,
    });
    serverId = s.servers[0].id;
    volumeId = s.volumes[0].id;
    expect(s.servers[0].status).toBe("ACTIVE");
    expect(s.volumes[0].attachments).toEqual([serverId]);
    const out = JSON.parse(stack.pulumi(["stack", "output", "--json"]).stdout) as { hubUrl: string; publicIp: string };
    fip = out.publicIp;
    expect(fip).toMatch(/^203\.0\.113\./);
    expect(out.hubUrl).toBe(`http://${fip}/`);
    // hubUrl, from inside the namespace, through the floating IP (NAT in the router's namespace)
    expect(curlNs(`${out.hubUrl}hub/api`)).toBe("200");
    forward = await forwardIntoNetns(netns, fip, 80);
    hubUrl = `http://127.0.0.1:${forward.port}/`;
    // the volume was found by its ID on the bus Nova gave it (the console says which)
    const con = consoleLog(serverId);
    const found = /data volume found after (\d+) s: (\S+) -> (\S+)/.exec(con);
    console.log(`volume lookup: ${found?.[0] ?? "(not on the console)"}`);
    expect(found?.[2]).toContain(volumeId.slice(0, 20));
  });

  step(
    "the admin logs in with the stack's password; a wrong one, a sign-up as the admin, an unapproved one: refused",
    async () => {
      admin = await loggedInAdmin(hubUrl, PASSWORD);
      await expectLoginRefused(hubUrl, "admin", `${PASSWORD}-wrong`, "native");
      const b = new Browser(new URL(hubUrl).origin);
      await b.request("/hub/signup");
      await b.request("/hub/signup", {
        form: {
          username: "admin",
          signup_password: "Claimed-first-2024!",
          signup_password_confirmation: "Claimed-first-2024!",
        },
      });
      await expectLoginRefused(hubUrl, "admin", "Claimed-first-2024!", "native");
      await b.request("/hub/signup", {
        form: {
          username: "mallory",
          signup_password: "Mallory-password-123",
          signup_password_confirmation: "Mallory-password-123",
        },
      });
      await expectLoginRefused(hubUrl, "mallory", "Mallory-password-123", "native-unapproved");
    },
  );

  step(
    "the volume is /home's file system, on the bus Nova chose; a port the security group does not open is closed",
    async () => {
      const states = await startServer(admin, "/", "admin");
      console.log(`admin's server: ${states.join("; ")}`);
      await admin.follow("/user/admin/lab");
      const seen = JSON.parse(
        await runPython(
          admin,
          "/user/admin/",
          [
            "import json, os, subprocess, time, urllib.request",
            "home = subprocess.run(['findmnt', '-no', 'SOURCE', '/home'], capture_output=True, text=True).stdout.strip()",
            "links = {n: os.path.realpath('/dev/disk/by-id/' + n) for n in os.listdir('/dev/disk/by-id')}",
            // a listener on every address of the server, which the security group does not open
            "subprocess.Popen(['python3', '-m', 'http.server', '8890', '--bind', '0.0.0.0'], cwd='/tmp', start_new_session=True,",
            "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
            "time.sleep(3)",
            "inside = urllib.request.urlopen('http://127.0.0.1:8890/', timeout=10).status",
            "print(json.dumps({'home': home, 'links': links, 'inside': inside}))",
          ].join("\n"),
        ),
      ) as { home: string; links: Record<string, string>; inside: number };
      const dev = /^(\/dev\/\w+)/.exec(seen.home)?.[1];
      const ours = Object.entries(seen.links).filter(([n, d]) => d === dev && n.includes(volumeId.slice(0, 20)));
      console.log(`/home on ${seen.home}; the volume's links: ${ours.map(([n]) => n).join(", ")}`);
      expect(ours.length).toBeGreaterThan(0);
      expect(seen.inside).toBe(200);
      // through the floating IP: the hub's port answers, 8890 does not (the security group drops it)
      expect(curlNs(`http://${fip}/hub/api`)).toBe("200");
      expect(curlNs(`http://${fip}:8890/`, 15)).toBe("000");
    },
  );

  step("alice and bob sign up and are approved; alice's server starts and writes a file on the volume", async () => {
    const alice = await newUser(hubUrl, admin, "native", "alice", passwords.alice);
    await newUser(hubUrl, admin, "native", "bob", passwords.bob);
    aliceSeen = await see(alice, hubUrl, "alice", "bob", `alice's work ${crypto.randomBytes(4).toString("hex")}`);
    expect([aliceSeen.fileOwner, aliceSeen.peer]).toEqual([aliceSeen.uid, "absent"]);
  });

  step(
    "after openstack server reboot the hub answers, and only root on the server reaches the metadata service",
    async () => {
      const t0 = Date.now();
      openstackCli("lab-demo", "server", "reboot", "--wait", serverId);
      const s = await hubAnswers("after the reboot", 900);
      console.log(
        `reboot: the hub answered again ${secs(t0)} s after the reboot request (${s.toFixed(0)} s after ACTIVE)`,
      );
      const b = await loggedInAdmin(hubUrl, PASSWORD);
      await startServer(b, "/", "admin");
      await b.follow("/user/admin/lab");
      const seen = JSON.parse(
        await runPython(
          b,
          "/user/admin/",
          [
            "import json, socket, subprocess",
            "s = socket.socket(); s.settimeout(10)",
            "try:",
            "    s.connect(('169.254.169.254', 80)); user = 'connected'",
            "except OSError as e:",
            "    user = type(e).__name__",
            // root (TLJH's admins have sudo) reaches it: the service is there, the guard is what keeps the user out
            "root = subprocess.run(['sudo', '-n', 'curl', '-s', '-m', '20', '-o', '/dev/null', '-w', '%{http_code}',",
            "                       'http://169.254.169.254/openstack/latest/meta_data.json'], capture_output=True, text=True).stdout",
            // TLJH's sudoers exempts its admins from secure_path (tljh/installer.py): sbin tools by their full path
            "v6 = subprocess.run(['sudo', '-n', '/usr/sbin/ip6tables', '-S', 'OUTPUT'], capture_output=True, text=True)",
            "guard = subprocess.run(['sudo', '-n', 'journalctl', '-b', '--no-pager', '-u', 'jupyterhub-vm-metadata-guard'],",
            "                       capture_output=True, text=True)",
            "print(json.dumps({'user': user, 'root': root, 'v6': 'fe80::a9fe:a9fe' in v6.stdout,",
            "                  'ip6tables': v6.stdout + v6.stderr, 'guard': guard.stdout[-2000:] + guard.stderr}))",
          ].join("\n"),
        ),
      ) as { user: string; root: string; v6: boolean; ip6tables: string; guard: string };
      console.log(`metadata after the reboot: ${JSON.stringify(seen)}`);
      expect(seen.root).toBe("200");
      expect(seen.user).toMatch(/^(ConnectionRefusedError|TimeoutError)$/);
      expect(seen.v6).toBe(true);
    },
  );

  step(
    "a new image with a new admin password replaces the server; the same volume comes back with every user",
    async () => {
      if (!aliceSeen) throw new Error("the users' step before the replacement failed");
      stack.writeConfig(CONFIG(images.v2));
      stack.pulumi(["config", "set", "--secret", "adminPassword"], { input: PASSWORD_V2 });
      const t0 = Date.now();
      stack.pulumi(["up", "--yes", "--skip-preview"]);
      console.log(`replacement (new image uploaded, old server stopped and deleted, new one booted): ${secs(t0)} s`);
      const s = state();
      expect(ours(s)).toMatchObject({ servers: 1, volumes: 1, floatingIps: 1 });
      expect(s.servers[0].id).not.toBe(serverId);
      serverId = s.servers[0].id;
      expect(s.volumes[0].id).toBe(volumeId);
      expect(s.volumes[0].attachments).toEqual([serverId]);
      const con = consoleLog(serverId);
      expect(con).toMatch(/jupyterhub-vm identity: restored \d+ accounts and \d+ groups/);
      expect(con).not.toContain("recovered account");
      await loggedInAdmin(hubUrl, PASSWORD_V2);
      await expectLoginRefused(hubUrl, "admin", PASSWORD, "native");
      const v = new Browser(new URL(hubUrl).origin);
      await v.request("/hub/signup");
      await v.request("/hub/signup", {
        form: { username: "alice", signup_password: "Mallory-123456", signup_password_confirmation: "Mallory-123456" },
      });
      await expectLoginRefused(hubUrl, "alice", "Mallory-123456", "native");
      await login(hubUrl, "bob", passwords.bob);
      const again = await see(await login(hubUrl, "alice", passwords.alice), hubUrl, "alice", "bob");
      expect(again).toEqual(aliceSeen);
    },
  );

  step("pulumi destroy leaves none of our resources (the volume too: keepDataVolume false)", async () => {
    const t0 = Date.now();
    stack.pulumi(["destroy", "--yes", "--skip-preview"]);
    console.log(`destroy: ${secs(t0)} s`);
    expect(ours(state())).toEqual(NOTHING);
  });
});
