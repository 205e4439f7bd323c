/**
 * End to end with the real Pulumi engine (the CLI, a file:// backend, a passphrase from the environment) against the
 * test OpenStack on 127.0.0.1 (tests/lab). A `lab` stack deploys a small qcow2 made here ("deploy an existing image
 * file" mode: no OS install), and everything is checked through the lab's APIs:
 * image metadata, server, key pair, security group rules, user-data, no-op second run, the exact steps of a
 * config edit, no secret in the exported state, nothing left after destroy, and an invalid config failing at
 * preview with nothing created.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { engineEnv } from "./engine";

const REPO = path.resolve(__dirname, "..", "..");
const LAB = process.env.LAB ?? "/tmp/jhvm-lab";
const STACK = "e2e-lab";
const BAD_STACK = "e2e-lab-bad";
const ADMIN_PW = `e2e-${crypto.randomBytes(12).toString("hex")}`;
const PASSPHRASE = crypto.randomBytes(16).toString("hex");
const LAB_CINDER = process.env.LAB_CINDER ?? "1";

jest.setTimeout(30 * 60_000);

let work: string;
let env: NodeJS.ProcessEnv;
let startedLab = false;
let imageFile: string;
let publicKey: string;

function run(
  cmd: string,
  args: string[],
  opts: { input?: string; allowFail?: boolean; stack?: string } = {},
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    cwd: REPO,
    env,
    input: opts.input,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`,
    );
  }
  return r;
}

function pulumi(args: string[], opts: { input?: string; allowFail?: boolean; stack?: string } = {}) {
  return run("pulumi", [...args, "--stack", opts.stack ?? STACK, "--non-interactive"], opts);
}

interface LabState {
  images: any[];
  servers: any[];
  security_groups: any[];
  floating_ips: any[];
  keypairs: any[];
  volumes: any[];
}

function inspect(): LabState {
  const r = run("/usr/bin/python3", [path.join(__dirname, "lab_inspect.py")]);
  return JSON.parse(r.stdout) as LabState;
}

/** our resources only: everything the demo project holds except Neutron's default security group */
function ours(s: LabState) {
  return {
    images: s.images.length,
    servers: s.servers.length,
    securityGroups: s.security_groups.filter((g) => g.name !== "default").length,
    floatingIps: s.floating_ips.length,
    keypairs: s.keypairs.length,
    volumes: s.volumes.length,
  };
}

/** Rewrites the stack's config file, keeping what `pulumi` put there (encryption salt, secure values). */
function writeStackConfig(stack: string, config: Record<string, unknown>) {
  const file = path.join(REPO, `Pulumi.${stack}.yaml`);
  const old = fs.existsSync(file) ? ((yaml.load(fs.readFileSync(file, "utf8")) as any) ?? {}) : {};
  const kept = Object.fromEntries(
    Object.entries<any>(old.config ?? {}).filter(([, v]) => v && typeof v === "object" && "secure" in v),
  );
  const doc = {
    ...old,
    config: { ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`jupyterhub-vm:${k}`, v])), ...kept },
  };
  fs.writeFileSync(file, yaml.dump(doc));
}

function previewSteps(stack = STACK): { op: string; urn: string }[] {
  const r = pulumi(["preview", "--json", "--diff"], { stack });
  const out = JSON.parse(r.stdout) as { steps?: { op: string; urn: string }[] };
  return (out.steps ?? []).filter((s) => s.op !== "same");
}

const nameOf = (urn: string) => urn.split("::").pop()!;

const BASE_CONFIG = () => ({
  target: "openstack",
  buildDir: path.join(work, "build"),
  cacheDir: path.join(work, "cache"),
  image: { source: "file", file: imageFile, diskSizeGb: 8 },
  hub: { admins: ["admin"], hostname: "hub-e2e" },
  openstack: {
    cloud: "lab-demo",
    flavor: "m1.small",
    network: "lab-net",
    floatingIpPool: "public",
    publicKey,
    sshAllowedCidrs: ["203.0.113.0/24"],
    minRamMb: 256,
    dataVolumeSizeGb: LAB_CINDER === "1" ? 1 : 0,
    keepDataVolume: false,
    waitForHub: false,
    serverName: "hub-e2e",
  },
});

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "jhvm-e2e-"));
  // the real engine; the provider plugins are the test-only stand-ins (tests/standin-providers/README.md)
  env = engineEnv(work, { OS_CLIENT_CONFIG_FILE: path.join(LAB, "clouds.yaml"), LAB, LAB_CINDER }, PASSPHRASE);

  // the test OpenStack: started here (unless it already runs), stopped in afterAll
  const status = spawnSync("bash", [path.join(REPO, "tests/lab/status.sh"), "--quiet"], { env, encoding: "utf8" });
  startedLab = status.status !== 0;
  const t0 = Date.now();
  run("bash", [path.join(REPO, "tests/lab/up.sh")]);
  console.log(`lab ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (started by this test: ${startedLab})`);

  imageFile = path.join(work, "hub.qcow2");
  run("qemu-img", ["create", "-f", "qcow2", imageFile, "64M"]);
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", path.join(work, "id_e2e")]);
  publicKey = fs.readFileSync(path.join(work, "id_e2e.pub"), "utf8").trim();

  const before = ours(inspect());
  expect(before).toEqual({ images: 0, servers: 0, securityGroups: 0, floatingIps: 0, keypairs: 0, volumes: 0 });

  writeStackConfig(STACK, BASE_CONFIG());
  pulumi(["stack", "init"], { stack: STACK });
  pulumi(["config", "set", "--secret", "adminPassword"], { input: ADMIN_PW });
});

afterAll(() => {
  if (!env) return;
  try {
    pulumi(["destroy", "--yes", "--skip-preview"], { allowFail: true });
    pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true });
    pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true, stack: BAD_STACK });
  } finally {
    for (const s of [STACK, BAD_STACK]) fs.rmSync(path.join(REPO, `Pulumi.${s}.yaml`), { force: true });
    if (startedLab) run("bash", [path.join(REPO, "tests/lab/down.sh")], { allowFail: true });
  }
});

describe("lab stack, real engine, real OpenStack on 127.0.0.1", () => {
  let state: LabState;
  let upSeconds = 0;

  it("pulumi up deploys the image file and a server", () => {
    const t0 = Date.now();
    pulumi(["up", "--yes", "--skip-preview"]);
    upSeconds = (Date.now() - t0) / 1000;
    console.log(`pulumi up: ${upSeconds.toFixed(1)} s`);
    state = inspect();
    expect(ours(state)).toMatchObject({ images: 1, servers: 1, securityGroups: 1, floatingIps: 1, keypairs: 1 });
  });

  it("the Glance image is active with the configured formats, minimums, properties and checksum", () => {
    const img = state.images[0];
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(imageFile)).digest("hex");
    const md5 = crypto.createHash("md5").update(fs.readFileSync(imageFile)).digest("hex");
    expect(img.status).toBe("active");
    expect(img.disk_format).toBe("qcow2");
    expect(img.container_format).toBe("bare");
    expect(img.visibility).toBe("private");
    expect(img.min_disk).toBe(8);
    expect(img.min_ram).toBe(256);
    expect(img.name).toBe(`jupyterhub-${sha256.slice(0, 12)}`);
    expect(img.checksum).toBe(md5);
    if (img.hash_algo === "sha512") {
      expect(img.hash_value).toBe(crypto.createHash("sha512").update(fs.readFileSync(imageFile)).digest("hex"));
    }
    expect(img.properties).toMatchObject({
      os_distro: "ubuntu",
      hw_disk_bus: "scsi",
      hw_qemu_guest_agent: "yes",
      jupyterhub_vm_sha256: sha256,
    });
    expect(img.tags).toEqual(expect.arrayContaining(["jupyterhub-vm", `stack:${STACK}`]));
  });

  it("the server is ACTIVE with the flavor, key pair, security group and rendered user-data", () => {
    const srv = state.servers[0];
    expect(srv.status).toBe("ACTIVE");
    expect(srv.name).toBe("hub-e2e");
    expect(srv.flavor).toBe("m1.small");
    expect(srv.image_id).toBe(state.images[0].id);
    expect(srv.key_name).toBe("hub-e2e-key");
    expect(state.keypairs.map((k) => k.name)).toEqual(["hub-e2e-key"]);
    expect(srv.security_groups).toEqual(["hub-e2e-web"]);
    expect(Object.keys(srv.addresses)).toEqual(["lab-net"]);
    const ud: string = srv.user_data;
    expect(ud.startsWith("#cloud-config\n")).toBe(true);
    const doc = yaml.load(ud) as any;
    expect(doc.hostname).toBe("hub-e2e");
    expect(doc.runcmd).toContainEqual(["/usr/local/sbin/jupyterhub-vm-first-boot"]);
    expect(ud).not.toContain(ADMIN_PW);
    expect(ud).toMatch(/ADMIN_PASSWORD_HASH='\$2b\$12\$/);
  });

  it("the security group opens 80/443 to all and 22 only to the configured CIDR", () => {
    const sg = state.security_groups.find((g) => g.name === "hub-e2e-web");
    const ingress = sg.rules
      .filter((r: any) => r.direction === "ingress")
      .map((r: any) => `${r.protocol}/${r.port_range_min}-${r.port_range_max} from ${r.remote_ip_prefix}`)
      .sort();
    expect(ingress).toEqual([
      "tcp/22-22 from 203.0.113.0/24",
      "tcp/443-443 from 0.0.0.0/0",
      "tcp/80-80 from 0.0.0.0/0",
    ]);
  });

  it("the floating IP comes from the public pool and is bound to the server's port", () => {
    const fip = state.floating_ips[0];
    expect(fip.address).toMatch(/^203\.0\.113\./);
    expect(fip.port_id).toBeTruthy();
    const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
    expect(outputs.publicIp).toBe(fip.address);
    expect(outputs.hubUrl).toBe(`http://${fip.address}/`);
    expect(outputs.imageId).toBe(state.images[0].id);
    expect(outputs.userData).toBe("[secret]");
  });

  it("the data volume is attached to the server", () => {
    expect(LAB_CINDER).toBe("1"); // the lab must run Cinder for this stack
    expect(state.volumes).toHaveLength(1);
    expect(state.volumes[0].attachments).toEqual([state.servers[0].id]);
  });

  it("a second pulumi up changes nothing", () => {
    const r = pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    expect(r.status).toBe(0);
    expect(previewSteps()).toEqual([]);
  });

  it("adding an SSH CIDR previews exactly one new rule", () => {
    const cfg = BASE_CONFIG();
    writeStackConfig(STACK, {
      ...cfg,
      openstack: { ...cfg.openstack, sshAllowedCidrs: ["203.0.113.0/24", "192.0.2.0/24"] },
    });
    const steps = previewSteps();
    expect(steps.map((s) => `${s.op} ${nameOf(s.urn)}`)).toEqual(["create hub-ssh-1"]);
  });

  it("changing the hostname previews replacing the server, keeping the image and the volume", () => {
    const cfg = BASE_CONFIG();
    writeStackConfig(STACK, { ...cfg, hub: { ...cfg.hub, hostname: "hub-renamed" } });
    const steps = previewSteps();
    const byName = new Map<string, string[]>();
    for (const s of steps) byName.set(nameOf(s.urn), [...(byName.get(nameOf(s.urn)) ?? []), s.op]);
    expect(byName.get("hub-server")).toEqual(expect.arrayContaining(["replace"]));
    expect(byName.has("glance-image")).toBe(false);
    expect(byName.has("hub-data")).toBe(false);
    expect(byName.has("hub-secgroup")).toBe(false);
    // restore
    writeStackConfig(STACK, BASE_CONFIG());
    expect(previewSteps()).toEqual([]);
  });

  it("a new image (new bytes in the file) previews a new Glance image and a replaced server, keeping the volume", () => {
    const saved = fs.readFileSync(imageFile);
    try {
      fs.appendFileSync(imageFile, Buffer.alloc(512, 1));
      const steps = previewSteps();
      const ops = new Map<string, string[]>();
      for (const s of steps) ops.set(nameOf(s.urn), [...(ops.get(nameOf(s.urn)) ?? []), s.op]);
      expect(ops.get("glance-image")).toEqual(expect.arrayContaining(["replace"]));
      expect(ops.get("hub-server")).toEqual(expect.arrayContaining(["replace"]));
      expect(ops.has("hub-data")).toBe(false);
      expect(ops.has("hub-secgroup")).toBe(false);
    } finally {
      fs.writeFileSync(imageFile, saved);
    }
  });

  it("the exported state holds no secret in plain text", () => {
    const exported = pulumi(["stack", "export", "--show-secrets=false"]).stdout;
    expect(exported).not.toContain(ADMIN_PW);
    const clouds = yaml.load(fs.readFileSync(path.join(LAB, "clouds.yaml"), "utf8")) as any;
    for (const c of Object.values<any>(clouds.clouds)) expect(exported).not.toContain(c.auth.password);
    expect(exported).not.toMatch(/\$2b\$12\$/); // not even the password hash
    expect(exported).toContain('"ciphertext"'); // the secrets are there, encrypted
  });

  it("pulumi destroy leaves nothing in the lab", () => {
    pulumi(["destroy", "--yes", "--skip-preview"]);
    const after = ours(inspect());
    expect(after).toEqual({ images: 0, servers: 0, securityGroups: 0, floatingIps: 0, keypairs: 0, volumes: 0 });
  });
});

describe("an invalid stack config", () => {
  it("fails at preview with its message and creates nothing", () => {
    const cfg = BASE_CONFIG();
    writeStackConfig(BAD_STACK, {
      ...cfg,
      image: { ...cfg.image, diskSizeGb: 1 },
      openstack: { ...cfg.openstack, flavor: "m1.nope" },
    });
    pulumi(["stack", "init"], { stack: BAD_STACK });
    pulumi(["config", "set", "--secret", "adminPassword"], { input: ADMIN_PW, stack: BAD_STACK });
    const r = pulumi(["preview"], { allowFail: true, stack: BAD_STACK });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /jupyterhub-vm:image\.diskSizeGb: 1 is out of range; use a number from 8 to 2048/,
    );
    expect(ours(inspect())).toEqual({
      images: 0,
      servers: 0,
      securityGroups: 0,
      floatingIps: 0,
      keypairs: 0,
      volumes: 0,
    });
  });

  it("a flavor that does not exist fails at preview (looked up before any build)", () => {
    const cfg = BASE_CONFIG();
    writeStackConfig(BAD_STACK, { ...cfg, openstack: { ...cfg.openstack, flavor: "m1.nope", network: "no-such-net" } });
    const r = pulumi(["preview"], { allowFail: true, stack: BAD_STACK });
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/jupyterhub-vm:openstack\.flavor: "m1\.nope" was not found/);
    expect(out).toMatch(/jupyterhub-vm:openstack\.network: "no-such-net" was not found/);
    expect(ours(inspect())).toEqual({
      images: 0,
      servers: 0,
      securityGroups: 0,
      floatingIps: 0,
      keypairs: 0,
      volumes: 0,
    });
  });
});
