/**
 * The resource graph the program builds for several stack configs, its dependency chain, trigger stability and
 * secrecy, all under Pulumi mocks.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import bcrypt from "bcryptjs";
import { MOCK_SALT, Registered, RunResult, SECRET_SIG, runProgram, tempDir } from "./harness";
import { REPO, program } from "./program";

const ADMIN_PW = "correct-horse-battery-staple";

/** The `jupyterhub-vm:` config of a committed stack file, keys without the prefix. */
function stackFile(stack: string): Record<string, unknown> {
  const doc = yaml.load(fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(doc.config)
      .filter(([k]) => k.startsWith("jupyterhub-vm:"))
      .map(([k, v]) => [k.slice("jupyterhub-vm:".length), v]),
  );
}

function dirs(): Record<string, string> {
  const d = tempDir();
  return { buildDir: path.join(d, "build"), cacheDir: path.join(d, "cache") };
}

/** the build-stage commands (the ready-wait command has no stage) */
function commands(r: RunResult): Registered[] {
  return r.ofType("command:local:Command").filter((c) => c.inputs.environment?.JHVM_STAGE);
}

function stageOf(c: Registered): string {
  return c.inputs.environment.JHVM_STAGE;
}

function cmdOf(r: RunResult, stage: string): Registered {
  const c = commands(r).find((x) => stageOf(x) === stage);
  if (!c) throw new Error(`no command for stage ${stage}`);
  return c;
}

async function genostack(overrides: Record<string, unknown> = {}, stack = "genostack"): Promise<RunResult> {
  const base = stackFile("genostack");
  const config: Record<string, unknown> = { ...base, ...dirs(), adminPassword: ADMIN_PW };
  for (const [k, v] of Object.entries(overrides)) {
    const [section, name] = k.split(".");
    if (name) config[section] = { ...(config[section] as object), [name]: v };
    else config[k] = v;
  }
  return runProgram(program, { config, secrets: ["adminPassword"], stack });
}

describe("local stack with a data disk (qemu runner)", () => {
  let r: RunResult;
  let d: Record<string, string>;
  const run = (local: Record<string, unknown>) =>
    runProgram(program, {
      config: { ...stackFile("dev"), ...d, adminPassword: ADMIN_PW, local: { provider: "qemu", ...local } },
      secrets: ["adminPassword"],
      stack: "dev",
    });
  const settingsOf = (c: Registered) =>
    JSON.parse(fs.readFileSync(path.resolve(c.inputs.environment.JHVM_SETTINGS), "utf8"));
  beforeAll(async () => {
    d = dirs();
    r = await run({ dataDiskGb: 10 });
  });

  it("makes the disk its own resource, outside the VM directory, which the VM attaches and depends on", () => {
    expect(r.ofType("jupyterhub-vm:local:LocalDataDisk")).toHaveLength(1);
    const disk = cmdOf(r, "local-data-disk");
    expect(disk.inputs.create).toBe("node node_modules/tsx/dist/cli.mjs targets/local/data-disk-driver.ts create");
    expect(settingsOf(disk)).toMatchObject({
      path: path.join(d.buildDir, "local-data", "jupyterhub-dev.qcow2"),
      sizeGb: 10,
      keep: true,
    });
    const vm = cmdOf(r, "local-vm");
    expect(vm.deps).toContain(disk.urn);
    expect(settingsOf(vm).dataDisk).toBe(`/cache/local-data-disk/${disk.inputs.environment.JHVM_KEY}/artifact`);
  });

  it("the first boot formats and mounts it by its serial, as the cloud volume (/home and /srv/data on it)", () => {
    const ud: string = settingsOf(cmdOf(r, "local-vm")).userData;
    // found by its serial at every boot (cloud-init/render.ts FIND_DATA_VOLUME_SCRIPT), formatted through the link
    expect(ud).toMatch(/- find-data-volume\n\s+- jhvm-data\n/);
    expect(ud).toContain("device: /dev/jhvm-data");
    expect(ud).toContain("LABEL=jhvm-data");
    expect(ud).toContain("mount --bind /srv/jhvm-data/home /home");
    expect(ud).not.toContain(ADMIN_PW);
  });

  it("hashes the admin password with the stack's own salt, a resource of its own (made once, kept in the state)", () => {
    const salt = r.byName("admin-password-salt");
    expect(salt.type).toBe("pulumi-nodejs:dynamic:Resource");
    const ud: string = settingsOf(cmdOf(r, "local-vm")).userData;
    // the harness's stand-in salt for stack "dev" (what the resource's create would have made)
    const hash = /ADMIN_PASSWORD_HASH='(\$2b\$12\$[./A-Za-z0-9]{53})'/.exec(ud)?.[1] ?? "";
    expect(hash.slice(7, 29)).toBe(MOCK_SALT("dev"));
    expect(bcrypt.compareSync(ADMIN_PW, hash)).toBe(true);
  });

  it("size and keep do not change the disk's key (a new key would make a new disk); the disk changes the VM's", async () => {
    const diskKey = (x: RunResult) => cmdOf(x, "local-data-disk").inputs.environment.JHVM_KEY;
    const vmKey = (x: RunResult) => cmdOf(x, "local-vm").inputs.environment.JHVM_KEY;
    const other = await run({ dataDiskGb: 20, keepDataDisk: false });
    expect(diskKey(other)).toBe(diskKey(r));
    expect(settingsOf(cmdOf(other, "local-data-disk"))).toMatchObject({ sizeGb: 20, keep: false });
    const none = await run({});
    expect(none.ofType("jupyterhub-vm:local:LocalDataDisk")).toEqual([]);
    expect(settingsOf(cmdOf(none, "local-vm")).dataDisk).toBeUndefined();
    expect(vmKey(none)).not.toBe(vmKey(r));
  });

  it("a new admin password or authenticator (the first boot's user-data) replaces the VM; the same inputs keep it", async () => {
    const vmKey = (x: RunResult) => cmdOf(x, "local-vm").inputs.environment.JHVM_KEY;
    const again = await run({ dataDiskGb: 10 });
    expect(vmKey(again)).toBe(vmKey(r));
    const password = await runProgram(program, {
      config: {
        ...stackFile("dev"),
        ...d,
        adminPassword: `${ADMIN_PW}-2`,
        local: { provider: "qemu", dataDiskGb: 10 },
      },
      secrets: ["adminPassword"],
      stack: "dev",
    });
    expect(vmKey(password)).not.toBe(vmKey(r));
    const auth = await runProgram(program, {
      config: {
        ...stackFile("dev"),
        ...d,
        adminPassword: ADMIN_PW,
        hub: { ...(stackFile("dev").hub as object), authenticator: "native" },
        local: { provider: "qemu", dataDiskGb: 10 },
      },
      secrets: ["adminPassword"],
      stack: "dev",
    });
    expect(vmKey(auth)).not.toBe(vmKey(r));
  });
});

describe("dev stack (local target)", () => {
  let r: RunResult;
  beforeAll(async () => {
    r = await runProgram(program, { config: { ...stackFile("dev"), ...dirs() }, stack: "dev" });
  });

  it("builds ISO → base box → final image → local VM and nothing in a cloud", () => {
    const types = r.resources.map((x) => x.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "jupyterhub-vm:build:IsoImage",
        "jupyterhub-vm:build:BaseBox",
        "jupyterhub-vm:build:FinalImage",
        "jupyterhub-vm:local:LocalVm",
      ]),
    );
    expect(types.filter((t) => t.startsWith("openstack:"))).toEqual([]);
    // the dev stack keeps users' data on a disk of its own (local.dataDiskGb)
    expect(commands(r).map(stageOf).sort()).toEqual([
      "base-box",
      "final-image",
      "iso-image",
      "local-data-disk",
      "local-vm",
    ]);
    expect(r.outputs.hubUrl).toBe("http://127.0.0.1:8080/");
  });

  it("parents every stage command to its component", () => {
    const parentType = (c: Registered) => r.resources.find((x) => x.urn === c.parent)?.type;
    expect(parentType(cmdOf(r, "iso-image"))).toBe("jupyterhub-vm:build:IsoImage");
    expect(parentType(cmdOf(r, "base-box"))).toBe("jupyterhub-vm:build:BaseBox");
    expect(parentType(cmdOf(r, "final-image"))).toBe("jupyterhub-vm:build:FinalImage");
    expect(parentType(cmdOf(r, "local-vm"))).toBe("jupyterhub-vm:local:LocalVm");
  });

  it("chains the stages: each command depends on the one before", () => {
    const iso = cmdOf(r, "iso-image");
    const base = cmdOf(r, "base-box");
    const final = cmdOf(r, "final-image");
    const vm = cmdOf(r, "local-vm");
    expect(base.deps).toContain(iso.urn);
    expect(final.deps).toContain(base.urn);
    expect(vm.deps).toContain(final.urn);
  });

  it("runs each stage through its driver with a fixed command line and the content key as its only trigger", () => {
    for (const c of commands(r)) {
      const stage = stageOf(c);
      const driver =
        stage === "local-vm"
          ? "targets/local/driver.ts"
          : stage === "local-data-disk"
            ? "targets/local/data-disk-driver.ts"
            : `stages/${stage}/driver.ts`;
      expect(c.inputs.create).toBe(`node node_modules/tsx/dist/cli.mjs ${driver} create`);
      expect(c.inputs.delete).toBe(`node node_modules/tsx/dist/cli.mjs ${driver} delete`);
      expect(c.inputs.triggers).toEqual([c.inputs.environment.JHVM_KEY]);
      expect(c.inputs.environment.JHVM_KEY).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("writes each stage's settings file with the upstream artifact", () => {
    const final = cmdOf(r, "final-image");
    const settings = JSON.parse(fs.readFileSync(path.resolve(final.inputs.environment.JHVM_SETTINGS), "utf8"));
    const baseKey = cmdOf(r, "base-box").inputs.environment.JHVM_KEY;
    expect(settings.basePath).toBe(`/cache/base-box/${baseKey}/artifact`);
    expect(settings.stage).toBe("final-image");
    expect(settings.ansibleVars.tljh_admin_users).toEqual(["admin"]);
    // everything the driver reads is there (it sizes the build VM's disk from diskSizeGb)
    expect(settings).toMatchObject({
      baseSha256: expect.any(String),
      baseFormat: expect.any(String),
      diskSizeGb: 20,
      exportFormat: "qcow2",
    });
    // image.accelerator auto: without the host checks (mocks) it is tcg; preview probes KVM (host/accelerator.ts)
    expect(settings.runVars).toEqual({ memoryMb: 4096, cpus: 2, headless: true, accelerator: "tcg" });
  });
});

describe("genostack stack (OpenStack target)", () => {
  let r: RunResult;
  beforeAll(async () => {
    r = await genostack();
  });

  it("uploads the final image to Glance and boots a server with security group, rules and a data volume", () => {
    const img = r.byName("glance-image");
    expect(img.type).toBe("openstack:images/image:Image");
    expect(img.inputs.diskFormat).toBe("qcow2");
    expect(img.inputs.containerFormat).toBe("bare");
    expect(img.inputs.visibility).toBe("private");
    expect(img.inputs.minDiskGb).toBe(20);
    expect(img.inputs.properties).toMatchObject({ os_distro: "ubuntu", os_version: "22.04" });
    const finalKey = cmdOf(r, "final-image").inputs.environment.JHVM_KEY;
    expect(img.inputs.localFilePath).toBe(`/cache/final-image/${finalKey}/artifact`);
    expect(img.inputs.name).toMatch(/^jupyterhub-[0-9a-f]{12}$/);
    // new bytes mean a new name, and a new name must mean a new upload (the provider would only rename)
    expect(img.options.replaceOnChanges).toEqual(["name"]);

    const server = r.byName("hub-server");
    expect(server.inputs.flavorName).toBe("m1.large");
    expect(server.inputs.imageId).toBe("glance-image-id");
    expect(server.inputs.networks).toEqual([{ name: "public" }]);
    const rules = r
      .ofType("openstack:networking/secGroupRule:SecGroupRule")
      .map((x) => [x.inputs.portRangeMin, x.inputs.remoteIpPrefix]);
    expect(rules).toEqual(
      expect.arrayContaining([
        [80, "0.0.0.0/0"],
        [443, "0.0.0.0/0"],
        [22, "192.0.2.0/24"],
      ]),
    );
    expect(rules).toHaveLength(3);
    expect(r.byName("hub-data").inputs.size).toBe(50);
    // the data volume is one of the server's block devices (attached before the guest starts, kept on delete), the
    // boot disk the image's; no attachment of its own that a replacement would detach from a running server
    expect(server.inputs.blockDevices).toEqual([
      {
        uuid: "glance-image-id",
        sourceType: "image",
        destinationType: "local",
        bootIndex: 0,
        deleteOnTermination: true,
      },
      {
        uuid: "hub-data-id",
        sourceType: "volume",
        destinationType: "volume",
        bootIndex: -1,
        deleteOnTermination: false,
      },
    ]);
    expect(server.deps).toContain(r.byName("hub-data").urn);
    expect(r.ofType("openstack:compute/volumeAttach:VolumeAttach")).toHaveLength(0);
    // stopped (a clean shutdown) before Nova deletes it and detaches the volume
    expect(server.inputs.stopBeforeDestroy).toBe(true);
    expect(server.options.deleteBeforeReplace).toBe(true);
  });

  it("chains ISO → base → final → Glance → server", () => {
    expect(cmdOf(r, "base-box").deps).toContain(cmdOf(r, "iso-image").urn);
    expect(cmdOf(r, "final-image").deps).toContain(cmdOf(r, "base-box").urn);
    expect(r.byName("glance-image").deps).toContain(cmdOf(r, "final-image").urn);
    expect(r.byName("hub-server").deps).toContain(r.byName("glance-image").urn);
  });

  it("waits for the hub after the server exists, re-waiting only for a new server", async () => {
    const ready = r.byName("hub-ready");
    expect(ready.deps).toContain(r.byName("hub-server").urn);
    expect(ready.inputs.triggers).toEqual(["hub-server-id"]);
    expect(ready.inputs.environment.JHVM_HUB_API).toBe("http://198.51.100.10/hub/api");
    expect(ready.inputs.environment.JHVM_TIMEOUT).toBe("900");
    const r2 = await genostack({ "openstack.waitForHub": false });
    expect(r2.resources.find((x) => x.name === "hub-ready")).toBeUndefined();
  });

  it("uses one explicit OpenStack provider for every OpenStack resource", () => {
    const provider = r.ofType("pulumi:providers:openstack");
    expect(provider).toHaveLength(1);
    expect(provider[0].inputs.cloud).toBe("genostack");
  });

  it("looks up the flavor and network at preview, before any build", () => {
    const tokens = r.invokes.map((i) => i.token);
    expect(tokens).toEqual(
      expect.arrayContaining(["openstack:compute/getFlavor:getFlavor", "openstack:networking/getNetwork:getNetwork"]),
    );
  });

  it("keeps the admin password secret: user-data is secret and carries only a bcrypt hash", () => {
    const server = r.byName("hub-server");
    expect(server.wire.userData[SECRET_SIG]).toBeDefined();
    const ud: string = server.inputs.userData;
    expect(ud.startsWith("#cloud-config\n")).toBe(true);
    expect(ud).not.toContain(ADMIN_PW);
    expect(ud).toMatch(/ADMIN_PASSWORD_HASH='\$2b\$12\$[./A-Za-z0-9]{53}'/);
    // the stack's own salt (targets/password-salt.ts), not one derived from the stack's name
    expect(ud).toContain(`ADMIN_PASSWORD_HASH='$2b$12$${MOCK_SALT("genostack")}`);
    expect(r.byName("admin-password-salt").type).toBe("pulumi-nodejs:dynamic:Resource");
    for (const x of r.resources) expect(JSON.stringify(x.inputs)).not.toContain(ADMIN_PW);
    expect(JSON.stringify(r.outputs)).not.toContain(ADMIN_PW);
  });

  it("replaces the server (delete first) when the image or user-data changes", () => {
    const server = r.byName("hub-server");
    expect(server.options.replaceOnChanges).toEqual(expect.arrayContaining(["imageId", "userData"]));
    expect(server.options.deleteBeforeReplace).toBe(true);
  });

  it("deletes a replaced or destroyed Glance image by default, and leaves it with keepOldImages", async () => {
    const d = tempDir();
    const file = path.join(d, "hub.qcow2");
    fs.writeFileSync(file, "image bytes");
    const r1 = await genostack({ "image.source": "file", "image.file": file });
    expect(r1.byName("glance-image").options.retainOnDelete).toBe(false);
    const r2 = await genostack({ "image.source": "file", "image.file": file, "openstack.keepOldImages": true });
    expect(r2.byName("glance-image").options.retainOnDelete).toBe(true);
  });

  it("keeps the data volume on destroy by default (retainOnDelete), and not when keepDataVolume is false", async () => {
    expect(r.byName("hub-data").options.retainOnDelete).toBe(true);
    const r2 = await genostack({ "openstack.keepDataVolume": false });
    expect(r2.byName("hub-data").options.retainOnDelete).toBe(false);
  });
});

describe("deploying an existing image file (no build)", () => {
  it("registers no build stage and uploads the file with its format", async () => {
    const d = tempDir();
    const file = path.join(d, "ready.qcow2");
    fs.writeFileSync(file, "not really a qcow2 but bytes to hash");
    const r = await genostack({ "image.source": "file", "image.file": file });
    expect(commands(r)).toHaveLength(0);
    const img = r.byName("glance-image");
    expect(img.inputs.localFilePath).toBe(file);
    expect(img.inputs.diskFormat).toBe("qcow2");
    const sha = require("crypto").createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    expect(img.inputs.name).toBe(`jupyterhub-${sha.slice(0, 12)}`);
    expect(img.inputs.properties.jupyterhub_vm_sha256).toBe(sha);
  });

  it("uses an existing Glance image by name, looked up at preview", async () => {
    const r = await genostack({ "openstack.existingImage": "ubuntu-tljh" });
    expect(r.ofType("openstack:images/image:Image")).toHaveLength(0);
    expect(commands(r)).toHaveLength(0);
    expect(r.invokes.map((i) => i.token)).toContain("openstack:images/getImage:getImage");
    expect(r.byName("hub-server").inputs.imageId).toBe("existing-image-id");
  });
});

describe("triggers", () => {
  const keys = async (overrides: Record<string, unknown> = {}) => {
    const r = await genostack(overrides);
    return Object.fromEntries(commands(r).map((c) => [stageOf(c), c.inputs.triggers[0] as string]));
  };

  it("are stable: the same inputs give the same triggers", async () => {
    expect(await keys()).toEqual(await keys());
  });

  it("an Ansible variable changes the final image's trigger, not the base box's or the ISO's", async () => {
    const a = await keys();
    const b = await keys({ "hub.pythonPackages": ["numpy==2.1.3"] });
    expect(b["iso-image"]).toBe(a["iso-image"]);
    expect(b["base-box"]).toBe(a["base-box"]);
    expect(b["final-image"]).not.toBe(a["final-image"]);
  });

  it("an image variable (locale) changes the base box's trigger and so the final image's", async () => {
    const a = await keys();
    const b = await keys({ "image.locale": "fr_FR.UTF-8" });
    expect(b["iso-image"]).toBe(a["iso-image"]);
    expect(b["base-box"]).not.toBe(a["base-box"]);
    expect(b["final-image"]).not.toBe(a["final-image"]);
  });

  it("build speed settings (memory, CPUs, accelerator) change no trigger", async () => {
    const a = await keys();
    const b = await keys({ "image.memoryMb": 8192, "image.cpus": 4, "image.accelerator": "tcg" });
    expect(b).toEqual(a);
  });

  it("the export format changes the final image only", async () => {
    const a = await keys();
    const b = await keys({ "image.exportFormat": "raw" });
    expect(b["base-box"]).toBe(a["base-box"]);
    expect(b["final-image"]).not.toBe(a["final-image"]);
  });

  it("a different ISO checksum changes every build trigger", async () => {
    const a = await keys();
    const b = await keys({ "image.isoUrl": "https://example.org/other.iso", "image.isoSha256": "a".repeat(64) });
    expect(b["iso-image"]).not.toBe(a["iso-image"]);
    expect(b["base-box"]).not.toBe(a["base-box"]);
    expect(b["final-image"]).not.toBe(a["final-image"]);
  });

  it("the same inputs in another stack give the same build keys (artifacts are shared)", async () => {
    const a = await keys();
    const r = await genostack({}, "other-stack");
    const b = Object.fromEntries(commands(r).map((c) => [stageOf(c), c.inputs.triggers[0] as string]));
    expect(b).toEqual(a);
  });
});
