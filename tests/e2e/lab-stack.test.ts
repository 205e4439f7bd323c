/**
 * End to end with the real Pulumi engine (the CLI, a file:// backend, a passphrase from the environment) and the real
 * OpenStack provider (pulumi-terraform-bridge around terraform-provider-openstack, built by
 * scripts/install-openstack-provider.sh; every run checks that this binary is the one serving) against the test
 * OpenStack on 127.0.0.1 (testbed/openstack-lab). A `lab` stack deploys a small qcow2 made here ("deploy an existing image
 * file" mode: no OS install), and everything is checked through the lab's APIs: image metadata, server, key pair,
 * security group rules, user-data, no-op second run, a config edit's exact steps, executed replacements (new image
 * bytes: new Glance image, new server, the same data volume reattached, the old image deleted or, with
 * keepOldImages, kept; a hostname change: new server, same volume), no secret in the exported state, destroy
 * (with and without keepDataVolume), invalid configs failing at preview with the provider's reason and nothing
 * created. Then faults, against the same lab: Glance stopped during the upload, Nova's API restarted while the
 * server is being created; each followed by a converging `pulumi up` and a check that nothing is orphaned.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { assertBridgedOpenstack, engineEnv, REPO } from "./engine";
import { LAB, LabState, NOTHING, Stack, during, inspect, labService, opsByName, ours, run, until } from "./lab";
import { tempDir } from "../support";

const ADMIN_PW = `e2e-${crypto.randomBytes(12).toString("hex")}`;
const PASSPHRASE = crypto.randomBytes(16).toString("hex");
const LAB_CINDER = process.env.LAB_CINDER ?? "1";

jest.setTimeout(30 * 60_000);

let work: string;
let env: NodeJS.ProcessEnv;
let startedLab = false;
let imageFile: string;
let publicKey: string;
let stack: Stack;
let bad: Stack;
const state = () => inspect(env);
const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const sh = (cmd: string, args: string[]) => run(cmd, args, env);
/** as the project's user would, with the lab's own OpenStack CLI */
const openstackCli = (...args: string[]) => sh("openstack", ["--os-cloud", "lab-demo", ...args]);

const BASE_CONFIG = (over: { hub?: object; openstack?: object; image?: object } = {}) => ({
  target: "openstack",
  buildDir: path.join(work, "build"),
  cacheDir: path.join(work, "cache"),
  image: { source: "file", file: imageFile, diskSizeGb: 8, ...over.image },
  hub: { admins: ["admin"], hostname: "hub-e2e", ...over.hub },
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
    ...over.openstack,
  },
});

/** Nova's instance actions of a server (deleted ones too), oldest first: create, stop, delete, attach_volume, ... */
const serverActions = (id: string): string[] =>
  (
    JSON.parse(
      openstackCli("--os-compute-api-version", "2.21", "server", "event", "list", id, "-f", "json").stdout,
    ) as { Action: string; "Start Time": string }[]
  )
    .sort((a, b) => a["Start Time"].localeCompare(b["Start Time"]))
    .map((a) => a.Action);

/** the one server, its port, the volume attached to it and the floating IP bound to that port */
function deployment(s: LabState) {
  expect(s.servers).toHaveLength(1);
  const server = s.servers[0];
  const ports = s.ports.filter((p) => p.device_id === server.id);
  expect(ports).toHaveLength(1);
  return { server, port: ports[0], volume: s.volumes[0], fip: s.floating_ips[0], image: s.images[0] };
}

beforeAll(() => {
  work = tempDir("jhvm-e2e-");
  env = engineEnv(work, { OS_CLIENT_CONFIG_FILE: path.join(LAB, "clouds.yaml"), LAB, LAB_CINDER }, PASSPHRASE);
  stack = new Stack("e2e-lab", env);
  bad = new Stack("e2e-lab-bad", env);

  // the test OpenStack: started here (unless it already runs), stopped in afterAll
  startedLab =
    run("bash", [path.join(REPO, "testbed/openstack-lab/status.sh"), "--quiet"], env, { allowFail: true }).status !== 0;
  const t0 = Date.now();
  sh("bash", [path.join(REPO, "testbed/openstack-lab/up.sh")]);
  console.log(`lab ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (started by this test: ${startedLab})`);

  imageFile = path.join(work, "hub.qcow2");
  sh("qemu-img", ["create", "-f", "qcow2", imageFile, "64M"]);
  sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", path.join(work, "id_e2e")]);
  publicKey = fs.readFileSync(path.join(work, "id_e2e.pub"), "utf8").trim();

  expect(ours(state())).toEqual(NOTHING);
  stack.writeConfig(BASE_CONFIG());
  stack.pulumi(["stack", "init"]);
  stack.pulumi(["config", "set", "--secret", "adminPassword"], { input: ADMIN_PW });
});

afterAll(() => {
  if (!env) return;
  try {
    for (const s of [stack, bad]) s.remove();
    // whatever a failed test left (kept images, a kept volume): the demo project ends empty
    for (const img of state().images) openstackCli("image", "delete", img.id);
    for (const vol of state().volumes) openstackCli("volume", "delete", "--force", vol.id);
  } finally {
    // stopped, and its state directory removed (JHVM_KEEP_TEST_OUTPUT=1 keeps it, logs included, for a look)
    const purge = process.env.JHVM_KEEP_TEST_OUTPUT === "1" ? [] : ["--purge"];
    if (startedLab) run("bash", [path.join(REPO, "testbed/openstack-lab/down.sh"), ...purge], env, { allowFail: true });
  }
});

describe("lab stack, real engine, real provider, real OpenStack on 127.0.0.1", () => {
  let s: LabState;
  let upSeconds = 0;
  /** the salt of the admin password hash in the first up's user-data */
  let saltAtFirstUp = "";

  it("pulumi up deploys the image file and a server, served by the bridged provider", () => {
    const t0 = Date.now();
    const r = stack.pulumi(["up", "--yes", "--skip-preview"]);
    upSeconds = (Date.now() - t0) / 1000;
    const plugin = assertBridgedOpenstack(r.stdout + r.stderr);
    console.log(`pulumi up: ${upSeconds.toFixed(1)} s, openstack plugin: ${plugin}`);
    s = state();
    expect(ours(s)).toEqual({
      images: 1,
      servers: 1,
      ports: 1,
      securityGroups: 1,
      floatingIps: 1,
      keypairs: 1,
      volumes: LAB_CINDER === "1" ? 1 : 0,
    });
  });

  it("the Glance image is active with the configured formats, minimums, properties and checksum", () => {
    const img = s.images[0];
    const bytes = fs.readFileSync(imageFile);
    expect(img.status).toBe("active");
    expect(img.disk_format).toBe("qcow2");
    expect(img.container_format).toBe("bare");
    expect(img.visibility).toBe("private");
    expect(img.min_disk).toBe(8);
    expect(img.min_ram).toBe(256);
    expect(img.name).toBe(`jupyterhub-${sha256(imageFile).slice(0, 12)}`);
    expect(img.checksum).toBe(crypto.createHash("md5").update(bytes).digest("hex"));
    if (img.hash_algo === "sha512")
      expect(img.hash_value).toBe(crypto.createHash("sha512").update(bytes).digest("hex"));
    expect(img.properties).toMatchObject({
      os_distro: "ubuntu",
      hw_disk_bus: "scsi",
      hw_qemu_guest_agent: "yes",
      jupyterhub_vm_sha256: sha256(imageFile),
    });
    expect(img.tags).toEqual(expect.arrayContaining(["jupyterhub-vm", `stack:${stack.name}`]));
  });

  it("the server is ACTIVE with the flavor, key pair, security group and rendered user-data", () => {
    const srv = s.servers[0];
    expect(srv.status).toBe("ACTIVE");
    expect(srv.name).toBe("hub-e2e");
    expect(srv.flavor).toBe("m1.small");
    expect(srv.image_id).toBe(s.images[0].id);
    expect(srv.key_name).toBe("hub-e2e-key");
    expect(s.keypairs.map((k) => k.name)).toEqual(["hub-e2e-key"]);
    expect(srv.security_groups).toEqual(["hub-e2e-web"]);
    expect(Object.keys(srv.addresses)).toEqual(["lab-net"]);
    const ud: string = srv.user_data;
    expect(ud.startsWith("#cloud-config\n")).toBe(true);
    const doc = yaml.load(ud) as any;
    expect(doc.hostname).toBe("hub-e2e");
    expect(doc.runcmd).toContainEqual(["/usr/local/sbin/jupyterhub-vm-first-boot"]);
    expect(ud).not.toContain(ADMIN_PW);
    expect(ud).toMatch(/ADMIN_PASSWORD_HASH='\$2b\$12\$/);
    saltAtFirstUp = /ADMIN_PASSWORD_HASH='\$2b\$12\$([./A-Za-z0-9]{22})/.exec(ud)?.[1] ?? "";
  });

  it("the security group opens 80/443 to all and 22 only to the configured CIDR", () => {
    const sg = s.security_groups.find((g) => g.name === "hub-e2e-web");
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
    const { fip, port } = deployment(s);
    expect(fip.address).toMatch(/^203\.0\.113\./);
    expect(fip.port_id).toBe(port.id);
    const outputs = JSON.parse(stack.pulumi(["stack", "output", "--json"]).stdout);
    expect(outputs.publicIp).toBe(fip.address);
    expect(outputs.hubUrl).toBe(`http://${fip.address}/`);
    expect(outputs.imageId).toBe(s.images[0].id);
    expect(outputs.userData).toBe("[secret]");
  });

  it("the data volume is attached to the server", () => {
    expect(LAB_CINDER).toBe("1"); // the lab must run Cinder for this stack
    expect(s.volumes).toHaveLength(1);
    expect(s.volumes[0].attachments).toEqual([s.servers[0].id]);
  });

  it("a second pulumi up changes nothing", () => {
    const r = stack.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    expect(r.status).toBe(0);
    expect(stack.previewSteps()).toEqual([]);
  });

  it("adding an SSH CIDR previews exactly one new rule", () => {
    const cfg = BASE_CONFIG();
    stack.writeConfig({ ...cfg, openstack: { ...cfg.openstack, sshAllowedCidrs: ["203.0.113.0/24", "192.0.2.0/24"] } });
    expect(stack.previewSteps().map((st) => `${st.op} ${st.urn.split("::").pop()}`)).toEqual(["create hub-ssh-1"]);
    stack.writeConfig(BASE_CONFIG());
  });

  it("new image bytes: up uploads a new image, replaces the server, reattaches the same volume, deletes the old image", () => {
    const before = deployment(state());
    fs.appendFileSync(imageFile, Buffer.alloc(512, 1));
    const ops = opsByName(stack.previewSteps());
    expect(ops.get("glance-image")).toEqual(expect.arrayContaining(["replace"]));
    expect(ops.get("hub-server")).toEqual(expect.arrayContaining(["replace"]));
    expect(ops.has("hub-data")).toBe(false);
    expect(ops.has("hub-secgroup")).toBe(false);

    stack.pulumi(["up", "--yes", "--skip-preview"]);
    s = state();
    const after = deployment(s);
    expect(s.images).toHaveLength(1); // the old one is gone
    expect(after.image.id).not.toBe(before.image.id);
    expect(after.image.name).toBe(`jupyterhub-${sha256(imageFile).slice(0, 12)}`);
    expect(after.image.status).toBe("active");
    expect(after.server.id).not.toBe(before.server.id);
    expect(after.server.image_id).toBe(after.image.id);
    expect(after.volume.id).toBe(before.volume.id);
    expect(after.volume.attachments).toEqual([after.server.id]);
    expect(after.fip.id).toBe(before.fip.id); // the address users know stays
    expect(after.fip.port_id).toBe(after.port.id);
    expect(ours(s)).toMatchObject({ servers: 1, ports: 1, securityGroups: 1, keypairs: 1, volumes: 1 });
    // What Nova did, from its instance actions (kept for deleted servers from microversion 2.21): the volume came
    // with the server's create (a block device), never attached to a running server, and the old server was
    // stopped before it was deleted (a clean shutdown; Nova then detached the volume from a stopped guest), never
    // detached while it ran.
    expect(serverActions(before.server.id)).toEqual(["create", "stop", "delete"]);
    expect(serverActions(after.server.id)).toEqual(["create"]);
  });

  it("with keepOldImages, a replaced image stays in Glance (no longer managed by the stack)", () => {
    stack.writeConfig(BASE_CONFIG({ openstack: { keepOldImages: true } }));
    stack.pulumi(["up", "--yes", "--skip-preview"]); // records the option; no cloud change
    const before = deployment(state());
    fs.appendFileSync(imageFile, Buffer.alloc(512, 2));
    stack.pulumi(["up", "--yes", "--skip-preview"]);
    s = state();
    const after = deployment(s);
    expect(s.images.map((i) => i.id).sort()).toEqual([before.image.id, after.image.id].sort());
    const current = s.images.find((i) => i.id !== before.image.id);
    expect(after.server.image_id).toBe(current.id);
    expect(after.volume.id).toBe(before.volume.id);
    expect(after.volume.attachments).toEqual([after.server.id]);
    const managed = stack.pulumi(["stack", "export"]).stdout;
    expect(managed).not.toContain(before.image.id);
    openstackCli("image", "delete", before.image.id); // the user's to remove
    stack.writeConfig(BASE_CONFIG());
    expect(stack.previewSteps()).toEqual([]);
  });

  it("a hostname change replaces the server and keeps the image and the volume", () => {
    const before = deployment(state());
    stack.writeConfig(BASE_CONFIG({ hub: { hostname: "hub-renamed" } }));
    const ops = opsByName(stack.previewSteps());
    expect(ops.get("hub-server")).toEqual(expect.arrayContaining(["replace"]));
    expect(ops.has("glance-image")).toBe(false);
    expect(ops.has("hub-data")).toBe(false);
    stack.pulumi(["up", "--yes", "--skip-preview"]);
    s = state();
    const after = deployment(s);
    expect(after.server.id).not.toBe(before.server.id);
    expect((yaml.load(after.server.user_data) as any).hostname).toBe("hub-renamed");
    expect(after.image.id).toBe(before.image.id);
    expect(after.volume.id).toBe(before.volume.id);
    expect(after.volume.attachments).toEqual([after.server.id]);
    expect(ours(s)).toMatchObject({ images: 1, servers: 1, ports: 1, volumes: 1 });
  });

  it("the exported state holds no secret in plain text", () => {
    const exported = stack.pulumi(["stack", "export", "--show-secrets=false"]).stdout;
    expect(exported).not.toContain(ADMIN_PW);
    const clouds = yaml.load(fs.readFileSync(path.join(LAB, "clouds.yaml"), "utf8")) as any;
    for (const c of Object.values<any>(clouds.clouds)) expect(exported).not.toContain(c.auth.password);
    expect(exported).not.toMatch(/\$2b\$12\$/); // not even the password hash
    expect(exported).toContain('"ciphertext"'); // the secrets are there, encrypted
    // the hash's salt: the stack's own (targets/password-salt.ts), made at the first up and kept through every later
    // one (the server was replaced since), in the state only as a secret
    const shown = JSON.parse(stack.pulumi(["stack", "export", "--show-secrets"]).stdout);
    const saltOf = shown.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("::admin-password-salt"));
    // a secret output, shown: {<secret signature>, plaintext: <its JSON>}
    expect(JSON.parse(saltOf.outputs.salt.plaintext)).toBe(saltAtFirstUp);
    expect(saltAtFirstUp).toMatch(/^[./A-Za-z0-9]{22}$/);
    expect(exported).not.toContain(saltAtFirstUp);
    expect(state().servers[0].user_data).toContain(`ADMIN_PASSWORD_HASH='$2b$12$${saltAtFirstUp}`);
  });

  it("pulumi destroy with keepDataVolume leaves the volume, detached, and nothing else", () => {
    stack.writeConfig(BASE_CONFIG({ hub: { hostname: "hub-renamed" }, openstack: { keepDataVolume: true } }));
    stack.pulumi(["up", "--yes", "--skip-preview"]); // records retainOnDelete; no cloud change
    const volumeId = state().volumes[0].id;
    stack.pulumi(["destroy", "--yes", "--skip-preview"]);
    s = state();
    expect(ours(s)).toEqual({ ...NOTHING, volumes: 1 });
    expect(s.volumes[0]).toMatchObject({ id: volumeId, status: "available", attachments: [] });
    openstackCli("volume", "delete", volumeId);
    expect(ours(state())).toEqual(NOTHING);
  });
});

describe("invalid stack configs fail at preview and create nothing", () => {
  beforeAll(() => {
    bad.writeConfig(BASE_CONFIG());
    bad.pulumi(["stack", "init"]);
    bad.pulumi(["config", "set", "--secret", "adminPassword"], { input: ADMIN_PW });
  });

  it("an invalid value and a missing flavor: both, in one message (the lookups run despite the bad value)", () => {
    bad.writeConfig(BASE_CONFIG({ image: { diskSizeGb: 1 }, openstack: { flavor: "m1.nope" } }));
    const r = bad.pulumi(["preview"], { allowFail: true });
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain("Invalid stack configuration (2 problems):");
    expect(out).toMatch(/image\.diskSizeGb: 1 is out of range; use a number from 8 to 2048/);
    expect(out).toContain('openstack.flavor: "m1.nope" was not found in cloud "lab-demo"');
    expect(ours(state())).toEqual(NOTHING);
  });

  it("names that do not exist in the cloud: each with the provider's reason, looked up before any build", () => {
    bad.writeConfig(
      BASE_CONFIG({ openstack: { flavor: "m1.nope", network: "no-such-net", keyPair: "no-key", publicKey: "" } }),
    );
    const t0 = Date.now();
    const r = bad.pulumi(["preview"], { allowFail: true });
    console.log(`preview with 3 failing lookups: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    assertBridgedOpenstack(out);
    const noResults = "Your query returned no results. Please change your search criteria and try again.";
    expect(out).toContain(`openstack.flavor: "m1.nope" was not found in cloud "lab-demo" (${noResults})`);
    expect(out).toContain(`openstack.network: "no-such-net" was not found in cloud "lab-demo" (${noResults})`);
    expect(out).toMatch(
      /openstack\.keyPair: "no-key" was not found in cloud "lab-demo" \(Error retrieving openstack_compute_keypair_v2 no-key: .*404/,
    );
    expect(ours(state())).toEqual(NOTHING);
  });

  it("a cloud missing from clouds.yaml is reported as that, not as a missing flavor", () => {
    bad.writeConfig(BASE_CONFIG({ openstack: { cloud: "lab-nope" } }));
    const r = bad.pulumi(["preview"], { allowFail: true });
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain(
      `openstack.cloud: "lab-nope" is not a cloud in ${path.join(LAB, "clouds.yaml")} (it has: lab, lab-demo)`,
    );
    expect(out).not.toMatch(/openstack\.flavor/);
    expect(ours(state())).toEqual(NOTHING);
  });
});

describe("faults: the real provider against a lab service that goes away", () => {
  let fault: Stack;
  let bigImage: string;
  const glanceStore = path.join(LAB, "data/glance/images");
  /** bytes in Glance's file store, per file (a failed upload can leave a partial file behind there) */
  const stored = () =>
    new Map(
      (fs.existsSync(glanceStore) ? fs.readdirSync(glanceStore) : []).map((f) => [
        f,
        fs.statSync(path.join(glanceStore, f), { throwIfNoEntry: false })?.size ?? 0,
      ]),
    );
  const novaInstances = () =>
    sh("mariadb", [`--defaults-file=${LAB}/etc/my.cnf`, "-N", "-e", "select uuid from nova.instances where deleted=0"])
      .stdout.split("\n")
      .filter(Boolean);
  /** one deployment without a data volume, and nothing else */
  const ONE_SERVER = { ...NOTHING, images: 1, servers: 1, ports: 1, securityGroups: 1, floatingIps: 1, keypairs: 1 };
  /** nothing orphaned: every image and server the lab holds is in the stack's state (so up/destroy manage it) */
  const tracked = (when: string) => {
    const exported = fault.pulumi(["stack", "export"]).stdout;
    const s = state();
    for (const id of [...s.images.map((i) => i.id), ...s.servers.map((x) => x.id)])
      expect({ when, id, tracked: exported.includes(id) }).toEqual({ when, id, tracked: true });
  };
  /** what the lab holds, for the log: the note of each case lists it */
  const holds = (when: string) => console.log(`lab after ${when}: ${JSON.stringify(ours(state()))}`);

  beforeAll(() => {
    expect(ours(state())).toEqual(NOTHING);
    // big enough that the upload is still running when Glance is stopped
    bigImage = path.join(work, "big.qcow2");
    sh("dd", ["if=/dev/urandom", `of=${bigImage}`, "bs=1M", "count=400", "status=none"]);
    fault = new Stack("e2e-lab-fault", env);
    fault.writeConfig(
      BASE_CONFIG({ image: { file: bigImage }, openstack: { serverName: "hub-fault", dataVolumeSizeGb: 0 } }),
    );
    fault.pulumi(["stack", "init"]);
    fault.pulumi(["config", "set", "--secret", "adminPassword"], { input: ADMIN_PW });
  });

  afterAll(() => {
    if (fault) fault.remove();
  });

  it("Glance stopped during the upload: up fails with a clear message; after a restart, up succeeds with one image", async () => {
    const before = stored();
    const r = await during(fault.pulumiAsync(["up", "--yes", "--skip-preview"]), async () => {
      // the upload has begun when Glance's file store holds a new file with bytes in it
      await until("the upload to start", 300, () =>
        [...stored()].some(([f, size]) => !before.has(f) && size > 0) ? true : undefined,
      );
      labService("kill", "glance-api", env); // a crash, mid-upload
    });
    const out = r.stdout + r.stderr;
    console.log(
      `up with Glance stopped: exit ${r.status}\n${out
        .split("\n")
        .filter((l) => /error/i.test(l))
        .slice(0, 12)
        .join("\n")}`,
    );
    expect(r.status).not.toBe(0);
    expect(out).toMatch(/glance-image \*\*creating failed\*\*/);
    expect(out).toMatch(/Error while uploading file "[^"]+big\.qcow2"/); // the upload was cut, and it says so
    labService("start", "glance-api", env);
    holds("the failed upload");
    tracked("the failed upload");

    fault.pulumi(["up", "--yes", "--skip-preview"]);
    const s = state();
    holds("the second up");
    expect(s.images).toHaveLength(1);
    expect(s.images[0].status).toBe("active");
    expect(s.images[0].name).toBe(`jupyterhub-${sha256(bigImage).slice(0, 12)}`);
    expect(ours(s)).toEqual(ONE_SERVER);
    expect(fault.previewSteps()).toEqual([]);
  });

  it("Nova's API down (killed, back after 5 s) while the server is created: the next up converges, nothing orphaned", async () => {
    const old = deployment(state()).server.id;
    fault.writeConfig(
      BASE_CONFIG({
        image: { file: bigImage },
        hub: { hostname: "hub-fault-2" },
        openstack: { serverName: "hub-fault", dataVolumeSizeGb: 0 },
      }),
    );
    const r = await during(fault.pulumiAsync(["up", "--yes", "--skip-preview"]), async () => {
      await until("the new server to be created", 300, () =>
        novaInstances().some((id) => id !== old) ? true : undefined,
      );
      labService("kill", "nova-api", env); // a crash while the provider waits for the server, 5 s down
      await new Promise((res) => setTimeout(res, 5000));
      labService("start", "nova-api", env);
    });
    const errors = (r.stdout + r.stderr).split("\n").filter((l) => /error/i.test(l));
    console.log(`up with nova-api restarted: exit ${r.status}\n${errors.slice(0, 8).join("\n")}`);
    holds("the up during the restart");
    tracked("the up during the restart");

    fault.pulumi(["up", "--yes", "--skip-preview"]);
    holds("the converging up");
    fault.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    const s = state();
    const now = deployment(s);
    expect(now.server.id).not.toBe(old);
    expect(now.server.status).toBe("ACTIVE");
    expect((yaml.load(now.server.user_data) as any).hostname).toBe("hub-fault-2");
    expect(novaInstances()).toEqual([now.server.id]);
    expect(now.fip.port_id).toBe(now.port.id);
    expect(ours(s)).toEqual(ONE_SERVER);
  });

  it("destroy leaves nothing", () => {
    fault.pulumi(["destroy", "--yes", "--skip-preview"]);
    expect(ours(state())).toEqual(NOTHING);
    expect(novaInstances()).toEqual([]);
  });
});
