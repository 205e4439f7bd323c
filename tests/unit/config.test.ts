/**
 * Config validation: every key rejects a bad value with a message naming the key, the value and the fix; all
 * problems are reported together; nothing is registered before the config is valid.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ConfigError } from "../../config";
import { SCHEMA, fullKey } from "../../config/schema";
import { runProgram, tempDir } from "./harness";
import { program } from "./program";

const GOOD_OPENSTACK = {
  target: "openstack",
  adminPassword: "a-long-enough-password",
  openstack: { cloud: "lab", flavor: "m1.small" },
};

function dirs() {
  const d = tempDir();
  return { buildDir: path.join(d, "build"), cacheDir: path.join(d, "cache") };
}

async function expectRejected(config: Record<string, unknown>, secrets: string[], ...fragments: (string | RegExp)[]) {
  let error: any;
  try {
    await runProgram(program, { config: { ...dirs(), ...config }, secrets });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  for (const f of fragments) expect(error.message).toMatch(f);
  // nothing was registered but, for OpenStack, the provider the preflight's lookups go through (it makes nothing in
  // the cloud): every problem is found in one run, and nothing is built or deployed
  expect(
    error.registered.map((r: { type: string }) => r.type).filter((t: string) => t !== "pulumi:providers:openstack"),
  ).toEqual([]);
  return error as ConfigError;
}

describe("a valid config", () => {
  it("is accepted with defaults for everything else", async () => {
    const r = await runProgram(program, { config: { ...dirs(), ...GOOD_OPENSTACK }, secrets: ["adminPassword"] });
    expect(r.resources.length).toBeGreaterThan(5);
  });
});

describe("every key validates its value", () => {
  const cases = SCHEMA.map((spec) => [fullKey(spec), spec] as const);
  it.each(cases)("%s rejects its bad example", async (key, spec) => {
    const config: Record<string, unknown> = { ...GOOD_OPENSTACK, openstack: { ...GOOD_OPENSTACK.openstack } };
    const secrets = ["adminPassword"];
    if (spec.section === "") {
      config[spec.name] = spec.badExample;
      if (spec.type.kind === "secret") secrets.push(spec.name);
    } else {
      config[spec.section] = { ...((config[spec.section] as object) ?? {}), [spec.name]: spec.badExample };
    }
    const err = await expectRejected(config, secrets, key);
    const line = err.problems.find((p) => p.startsWith(key))!;
    // names the bad value (secrets excepted) and says how to fix it
    const shown = Array.isArray(spec.badExample) ? spec.badExample[0] : spec.badExample;
    if (spec.type.kind !== "secret") expect(line).toContain(JSON.stringify(shown).slice(0, 20));
    expect(line).toMatch(/; (use|set|write|list|choose|give)/);
  });
});

describe("cross-key rules and special cases", () => {
  it("reports every problem at once", async () => {
    const err = await expectRejected(
      { target: "openstack", image: { diskSizeGb: 1, os: "beos" }, hub: { admins: [] }, openstack: {} },
      [],
      "openstack.cloud",
      "openstack.flavor",
      "adminPassword",
      "image.diskSizeGb",
      "image.os",
      "hub.admins",
    );
    expect(err.problems.length).toBeGreaterThanOrEqual(6);
  });

  it("rejects unknown keys with a suggestion", async () => {
    await expectRejected({ image: { diskSize: 20 } }, [], /image\.diskSize: unknown key; did you mean "diskSizeGb"\?/);
  });

  it("rejects unknown top-level keys", async () => {
    await expectRejected({ targt: "local" }, [], /- targt: unknown key; did you mean "target"\?/);
  });

  it("rejects an admin password stored in plain text", async () => {
    await expectRejected({ ...GOOD_OPENSTACK }, [], /adminPassword: is stored in plain text; set it as a secret/);
  });

  it("names a flat key set without --path, with the commands that nest it", async () => {
    const err = await expectRejected({ "local.provider": "qemu", "image.diskSize": 20 }, []);
    expect(err.problems).toEqual([
      "local.provider: is a flat key (set without --path), so it is not read as local.provider; nest it: " +
        "`pulumi config rm local.provider` then `pulumi config set --path 'local.provider' qemu`",
      'image.diskSize: unknown key (set without --path, and image has no key "diskSize"; did you mean "diskSizeGb"?); ' +
        "remove it: `pulumi config rm image.diskSize`",
    ]);
  });

  it("is a RunError: the runtime prints its message alone, without a stack trace or its fields", async () => {
    const err = await expectRejected({ targt: "local" }, []);
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect(Object.keys(err)).not.toContain("problems");
    expect(err.message).toBe(
      'Invalid stack configuration (1 problem):\n  - targt: unknown key; did you mean "target"?',
    );
  });

  it("rejects a section that is not a mapping", async () => {
    await expectRejected({ hub: ["admin"] }, [], /- hub: .* is not a mapping/);
  });

  it("requires image.file when image.source is file", async () => {
    await expectRejected({ image: { source: "file" } }, [], /image\.file: is empty but image\.source is file/);
  });

  it("rejects an image file that does not exist", async () => {
    await expectRejected(
      { image: { source: "file", file: "/nonexistent/x.qcow2" } },
      [],
      /image\.file: "\/nonexistent\/x\.qcow2" does not exist/,
    );
  });

  it("rejects letsencryptEmail without dnsName", async () => {
    await expectRejected(
      { hub: { letsencryptEmail: "ops@example.org" } },
      [],
      /hub\.letsencryptEmail: .* needs hub\.dnsName/,
    );
  });

  it("rejects a custom ISO URL without a checksum", async () => {
    await expectRejected(
      { image: { isoUrl: "https://example.org/x.iso" } },
      [],
      /image\.isoSha256: is empty for a custom image\.isoUrl/,
    );
  });

  it("rejects keyPair and publicKey together", async () => {
    await expectRejected(
      {
        ...GOOD_OPENSTACK,
        openstack: { ...GOOD_OPENSTACK.openstack, keyPair: "k", publicKey: "ssh-ed25519 AAAAC3Nz x@y" },
      },
      ["adminPassword"],
      /openstack\.publicKey: is set together with openstack\.keyPair/,
    );
  });

  it("rejects an existing Glance image with the local target", async () => {
    await expectRejected(
      { openstack: { existingImage: "img" } },
      [],
      /openstack\.existingImage: "img" is a Glance image but target is local/,
    );
  });

  it("rejects a forwarded host port used twice (httpPort included)", async () => {
    await expectRejected(
      { local: { httpPort: 8080, forwardPorts: ["8443:443", "8080:8000"] } },
      [],
      /local\.forwardPorts: \["8443:443","8080:8000"\] uses host port 8080 twice \(httpPort is 8080\)/,
    );
  });

  it("rejects a forwarded port outside 1-65535", async () => {
    await expectRejected({ local: { forwardPorts: ["99999:22"] } }, [], /local\.forwardPorts: .*outside 1-65535/);
  });

  it("rejects a data disk with the vagrant-libvirt runner", async () => {
    await expectRejected(
      { local: { provider: "vagrant-libvirt", dataDiskGb: 10 } },
      [],
      /local\.dataDiskGb: 10 needs local\.provider qemu \(the vagrant-libvirt runner has no data disk yet\); run `pulumi config set --path 'local\.provider' qemu`, or set local\.dataDiskGb to 0/,
    );
  });

  it("rejects a data disk together with a shared host folder (both would be /srv/data)", async () => {
    const dataDir = tempDir();
    await expectRejected(
      { local: { provider: "qemu", dataDiskGb: 10, dataDir } },
      [],
      /local\.dataDir: ".*" and local\.dataDiskGb \(10\) would both be \/srv\/data; keep users' data on the data disk \(remove dataDir\) or in the host folder \(dataDiskGb: 0\)/,
    );
  });

  it("rejects a vagrant-libvirt private IP in the management network", async () => {
    await expectRejected(
      { local: { provider: "vagrant-libvirt", ip: "192.168.121.7" } },
      [],
      /local\.ip: "192\.168\.121\.7" is in 192\.168\.121\.0\/24, vagrant-libvirt's management network; pick/,
    );
  });

  it("rejects a VirtualBox base box in the pipeline (its Vagrant path is not implemented)", async () => {
    await expectRejected({ image: { builder: "virtualbox" } }, [], /image\.builder: "virtualbox" makes a Vagrant box/);
  });

  it("rejects a content git URL without a ref", async () => {
    await expectRejected(
      { hub: { content: "https://example.org/course.git" } },
      [],
      /hub\.content: .* is a git URL without a ref/,
    );
  });

  it("rejects an unpinned Python package", async () => {
    await expectRejected(
      { hub: { pythonPackages: ["numpy==2.1.3", "pandas"] } },
      [],
      /hub\.pythonPackages\[1\]: "pandas" is not valid; use pinned requirements/,
    );
  });

  it("rejects a non-integer where a whole number is needed", async () => {
    await expectRejected({ image: { cpus: 1.5 } }, [], /image\.cpus: 1\.5 is not a whole number/);
  });

  it("accepts numbers and booleans given as strings (pulumi config set stores strings)", async () => {
    const r = await runProgram(program, { config: { ...dirs(), keepCache: "false", image: { diskSizeGb: "30" } } });
    expect(r.resources.length).toBeGreaterThan(0);
  });
});

describe("formats, existence and namespaces (one rejected example per class, exact message)", () => {
  const problemsOf = async (config: Record<string, unknown>, secrets: string[] = []) =>
    (await expectRejected(config, secrets)).problems;

  it.each([
    [
      "a CIDR octet above 255",
      { openstack: { sshAllowedCidrs: ["300.1.2.0/24"] } },
      'openstack.sshAllowedCidrs[0]: "300.1.2.0/24" is not an IPv4 address (four numbers 0-255); use a CIDR like 192.0.2.0/24 or 2001:db8::/32',
    ],
    [
      "an IPv4 prefix above 32",
      { openstack: { sshAllowedCidrs: ["10.0.0.0/33"] } },
      'openstack.sshAllowedCidrs[0]: "10.0.0.0/33" has an IPv4 prefix above 32; use a CIDR like 192.0.2.0/24 or 2001:db8::/32',
    ],
    [
      "an IPv6 prefix above 128",
      { openstack: { sshAllowedCidrs: ["2001:db8::/129"] } },
      'openstack.sshAllowedCidrs[0]: "2001:db8::/129" has an IPv6 prefix above 128; use a CIDR like 192.0.2.0/24 or 2001:db8::/32',
    ],
    [
      "an IPv4 address with an octet above 255",
      { local: { provider: "qemu", ip: "192.168.56.256" } },
      'local.ip: "192.168.56.256" is not an IPv4 address (four numbers 0-255); use one like 192.168.56.10',
    ],
    [
      "a proxy that is not http(s)",
      { image: { httpProxy: "file:///etc/proxy" } },
      'image.httpProxy: "file:///etc/proxy" is not valid; use an http(s):// URL',
    ],
    [
      "a locale glibc does not have",
      { image: { locale: "en_XX.UTF-8" } },
      'image.locale: "en_XX.UTF-8" is not a locale glibc supports (/usr/share/i18n/SUPPORTED); use one like en_US.UTF-8 or de_DE.UTF-8',
    ],
    [
      "a time zone not in the tz database",
      { image: { timezone: "Mars/Olympus_Mons" } },
      'image.timezone: "Mars/Olympus_Mons" is not in the tz database; use a name like Europe/Berlin or UTC (`timedatectl list-timezones`)',
    ],
    [
      "content over plain http",
      { hub: { content: "http://example.org/lessons.git#v1" } },
      'hub.content: "http://example.org/lessons.git#v1" is not an https or ssh git URL; use https://host/repo.git#ref or git@host:repo.git#ref',
    ],
    [
      "a content directory that does not exist",
      { hub: { content: "/nonexistent/lessons" } },
      'hub.content: "/nonexistent/lessons" is not a directory (resolved to /nonexistent/lessons); give a directory of notebooks, or a git URL pinned to a ref',
    ],
    [
      "an ISO path that does not exist",
      { image: { isoLocalPath: "/nonexistent/ubuntu.iso" } },
      'image.isoLocalPath: "/nonexistent/ubuntu.iso" does not exist; give the path of the downloaded ISO, or remove the key to download it',
    ],
    [
      "a dataDir that does not exist",
      { local: { provider: "qemu", dataDir: "/nonexistent/data" } },
      'local.dataDir: "/nonexistent/data" is not a directory; create it or change the key',
    ],
    [
      "a second forward to the hub's guest port 80",
      { local: { provider: "qemu", forwardPorts: ["8081:80"] } },
      `local.forwardPorts: ["8081:80"] forwards to guest port 80 twice (guest port 80 is the hub's, forwarded from local.httpPort); forward each guest port once`,
    ],
    [
      "a boot volume smaller than the image's disk",
      {
        ...GOOD_OPENSTACK,
        image: { diskSizeGb: 20 },
        openstack: { ...GOOD_OPENSTACK.openstack, bootVolumeSizeGb: 10 },
      },
      "openstack.bootVolumeSizeGb: 10 is smaller than image.diskSizeGb (20), the image's disk; set it to 20 or more, or 0 to boot from the flavor's disk",
    ],
    [
      "an existing Glance image and an image file together",
      {
        ...GOOD_OPENSTACK,
        image: { source: "file", file: "/dev/null" },
        openstack: { ...GOOD_OPENSTACK.openstack, existingImage: "ubuntu-tljh" },
      },
      'openstack.existingImage: "ubuntu-tljh" and image.source file ("/dev/null") both name the image to deploy; keep one: remove openstack.existingImage, or image.source and image.file',
    ],
    [
      "a second admin that a visitor could claim (firstuse)",
      { hub: { admins: ["admin", "alice"] } },
      'hub.admins: ["admin","alice"] with hub.authenticator firstuse: only "admin" gets adminPassword at first boot, so the first visitor to sign in as "alice" would set its password and be an admin; list only "admin" (make others admins on the hub\'s admin page once they signed in), or use hub.authenticator pam',
    ],
    [
      "a misspelled project namespace",
      { "jupyterhub_vm:target": "local" },
      "jupyterhub_vm:target: namespace \"jupyterhub_vm\" is not this project's (jupyterhub-vm), so nothing reads it; did you mean \"jupyterhub-vm\"? set it again with `pulumi config set target '<value>'` and remove this one: `pulumi config rm 'jupyterhub_vm:target'`",
    ],
  ])("%s", async (_name, config, message) => {
    // "/dev/null" is not a .qcow2 (a problem of its own); each case's own message is the one under test
    const problems = await problemsOf(config as Record<string, unknown>, ["adminPassword"]);
    expect(problems.filter((p) => !p.startsWith("image.file:"))).toEqual([message]);
  });

  it("never shows a URL's password, and a message about a short secret never holds the secret's value", async () => {
    const p = await problemsOf({ image: { httpProxy: "ftp://ops:Sup3r-Secret@proxy:21" } });
    expect(p).toEqual(['image.httpProxy: "ftp://ops:***@proxy:21" is not valid; use an http(s):// URL']);
    // "password" is a word of the short-password message: the engine would mask it there, so the terse form is used
    const short = await problemsOf({ ...GOOD_OPENSTACK, adminPassword: "password" }, ["adminPassword"]);
    expect(short).toEqual(["adminPassword: (secret) rule: 12+ chars; set a longer one"]);
    const other = await problemsOf({ ...GOOD_OPENSTACK, adminPassword: "hunter2" }, ["adminPassword"]);
    expect(other).toEqual(["adminPassword: (secret) is shorter than 12 characters; choose a longer password"]);
  });
});
