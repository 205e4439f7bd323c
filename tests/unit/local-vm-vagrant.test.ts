/**
 * The vagrant-libvirt runner's generated files and the local target's preflight, without Vagrant: the Vagrantfile
 * (snapshot + the settings that must reach it), Ruby string quoting, the per-VM login's vendor-data, and the
 * preview-time checks with a stand-in for the probed tools. The same files run for real in
 * tests/e2e/vagrant-stack.test.ts; `ruby -c` and `cloud-init schema` check them in tests/images/vagrantfile.test.ts.
 */
import * as yaml from "js-yaml";
import { LocalStackConfig } from "../../config";
import {
  LOGIN_USER,
  VagrantVmSettings,
  boxNameOf,
  rubyString,
  vagrantfile,
  vendorData,
} from "../../targets/local/vagrant-libvirt";
import { localNeeds, localPreflight } from "../../targets/local/preflight";
import { toolProblems } from "../../host";
import type { Runner } from "../../host/tools";

const S: VagrantVmSettings = {
  buildDir: "/b",
  imagePath: "/cache/final-image/k/artifact",
  imageSha256: "ab".repeat(32),
  imageFormat: "qcow2",
  userData: "#cloud-config\n",
  accelerator: "tcg",
  ip: "192.168.56.10",
  libvirtUri: "qemu:///system?socket=/tmp/l/libvirt-sock",
  httpPort: 8080,
  forwardPorts: ["8443:443", "2222:22"],
  dataDir: "/home/u/data",
  memoryMb: 2048,
  cpus: 2,
  name: "jupyterhub-dev",
};
const FILES = {
  dir: "/b/local-vm/jupyterhub-dev",
  key: "/b/local-vm/jupyterhub-dev/id_ed25519",
  seed: "/b/local-vm/jupyterhub-dev/seed.iso",
  box: "jupyterhub-vm-jupyterhub-dev-abababababab",
};

describe("Vagrantfile", () => {
  const text = vagrantfile(S, FILES);

  it("matches the snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("carries every setting the VM depends on", () => {
    expect(text).toContain(`vm.vm.box = '${FILES.box}'`);
    expect(text).toContain(`vm.ssh.username = '${LOGIN_USER}'`);
    expect(text).toContain(`vm.ssh.private_key_path = ['${FILES.key}']`);
    expect(text).toContain("vm.ssh.insert_key = false");
    expect(text).toContain(`vm.vm.network :private_network, ip: '192.168.56.10'`);
    for (const [h, g] of [
      [8080, 80],
      [8443, 443],
      [2222, 22],
    ])
      expect(text).toContain(`:forwarded_port, guest: ${g}, host: ${h}, host_ip: "127.0.0.1"`);
    expect(text).toContain(`vm.vm.synced_folder '/home/u/data', "/srv/data", type: "9p"`);
    expect(text).toContain(`lv.uri = '${S.libvirtUri}'`);
    expect(text).toContain(`lv.driver = 'qemu'`);
    expect(text).toContain(`lv.cpu_model = "qemu64"`);
    expect(text).toContain("lv.memory = 2048");
    expect(text).toContain("lv.cpus = 2");
    expect(text).toContain(`lv.storage :file, device: :cdrom, path: '${FILES.seed}'`);
    // the default /vagrant share would expose the VM directory (with the key) to the guest
    expect(text).toContain(`vm.vm.synced_folder ".", "/vagrant", disabled: true`);
  });

  it("has no private network without ip, no data folder without dataDir, and uses kvm when asked", () => {
    const t = vagrantfile({ ...S, ip: "", dataDir: "", forwardPorts: [], accelerator: "kvm" }, FILES);
    expect(t).not.toContain("private_network");
    expect(t).not.toContain("/srv/data");
    expect(t.match(/:forwarded_port/g)).toHaveLength(1);
    expect(t).toContain("lv.driver = 'kvm'");
    expect(t).toContain(`lv.cpu_mode = "host-passthrough"`);
  });

  it("quotes values as Ruby single-quoted strings (no interpolation)", () => {
    expect(rubyString(`a'b\\c#{system("x")}`)).toBe(`'a\\'b\\\\c#{system("x")}'`);
    const t = vagrantfile({ ...S, dataDir: "/data/it's #{here}" }, FILES);
    expect(t).toContain(`synced_folder '/data/it\\'s #{here}'`);
  });

  it("names the box after the VM and the image", () => {
    expect(boxNameOf("jupyterhub-dev", "0123456789abcdef".repeat(4))).toBe("jupyterhub-vm-jupyterhub-dev-0123456789ab");
  });
});

describe("vendor-data (the per-VM login)", () => {
  const key =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0wZ8xgk1T0m8oA6Qf2yJ2m6b7f0Q2Yc6b2m3n4p5q6 jhvm-local@jupyterhub-dev";
  const doc = yaml.load(vendorData(key + "\n")) as { users: Array<string | Record<string, unknown>> };

  it("is #cloud-config adding the default user and a key-only login with the given key", () => {
    expect(vendorData(key).startsWith("#cloud-config\n")).toBe(true);
    expect(doc.users[0]).toBe("default");
    expect(doc.users[1]).toMatchObject({
      name: LOGIN_USER,
      lock_passwd: true,
      sudo: "ALL=(ALL) NOPASSWD:ALL",
      ssh_authorized_keys: [key],
    });
    expect(Object.keys(doc.users[1] as object)).not.toContain("passwd");
    expect(Object.keys(doc.users[1] as object)).not.toContain("plain_text_passwd");
  });
});

describe("local preflight", () => {
  const cfg = (local: Partial<LocalStackConfig["local"]>) =>
    ({
      local: {
        provider: "vagrant-libvirt",
        ip: "",
        libvirtUri: "qemu:///system",
        httpPort: 8080,
        forwardPorts: [],
        dataDir: "",
        memoryMb: 2048,
        cpus: 2,
        ...local,
      },
    }) as unknown as LocalStackConfig;
  /** a stand-in for the probed tools: `present` maps "cmd args" prefixes to their output; others are not on PATH */
  const runner =
    (present: Record<string, string>): Runner =>
    (cmd, args) => {
      const line = [cmd, ...args].join(" ");
      const hit = Object.keys(present).find((k) => line.startsWith(k));
      return hit === undefined
        ? { status: null, out: "", error: `spawnSync ${cmd} ENOENT` }
        : { status: 0, out: present[hit] };
    };
  const probeOf = (present: Record<string, string>) => (cmd: string, args: string[]) => {
    const r = runner(present)(cmd, args);
    return r.status === 0 ? r.out : undefined;
  };
  const ALL = {
    "vagrant --version": "Vagrant 2.3.4",
    "vagrant plugin list": "vagrant-libvirt (0.11.2, system)\n",
    "virsh --version": "9.0.0",
    "virsh -c qemu:///system uri": "qemu:///system",
    "ssh-keygen -l": "/dev/null is not a public key file.",
    "xorriso -version": "xorriso 1.5.4",
    "qemu-system-x86_64 --version": "QEMU emulator version 7.2.22",
    "qemu-img --version": "qemu-img version 7.2.22",
  };
  const problems = (c: LocalStackConfig, present: Record<string, string>) => [
    ...toolProblems(localNeeds(c), runner(present)),
    ...localPreflight(c, probeOf(present)),
  ];

  it("passes when every tool answers", () => {
    expect(problems(cfg({}), ALL)).toEqual([]);
    expect(problems(cfg({ provider: "qemu" }), ALL)).toEqual([]);
  });

  it("reports every missing piece at once, each naming what needs it and how to install it", () => {
    const p = problems(cfg({}), {});
    expect(p).toHaveLength(6);
    expect(p[0]).toBe(
      "vagrant: `vagrant` not found on PATH; needed by the local VM (local.provider: vagrant-libvirt); install: " +
        "Debian/Ubuntu: sudo apt install vagrant vagrant-libvirt; macOS: brew install --cask vagrant (vagrant-libvirt " +
        "needs Linux: use local.provider qemu); Windows: run this project inside WSL2 (Ubuntu) and use the " +
        "Debian/Ubuntu command",
    );
    expect(p[1]).toMatch(/^vagrant-libvirt plugin: `vagrant` not found on PATH; needed by/);
    expect(p[2]).toMatch(/^virsh \(libvirt clients\): `virsh` not found on PATH; .*sudo apt install libvirt-clients/);
    expect(p[3]).toMatch(/^ssh-keygen: `ssh-keygen` not found on PATH; .*sudo apt install openssh-client/);
    expect(p[4]).toMatch(
      /^qemu-img: `qemu-img` not found on PATH; .*sudo apt install qemu-utils; macOS: brew install qemu/,
    );
    expect(p[5]).toMatch(/^xorriso \(or genisoimage\): `xorriso` not found on PATH; .*sudo apt install xorriso/);
  });

  it("names the plugin when Vagrant has no vagrant-libvirt", () => {
    const p = problems(cfg({}), { ...ALL, "vagrant plugin list": "No plugins installed.\n" });
    expect(p).toEqual([
      expect.stringMatching(/^vagrant-libvirt plugin: Vagrant does not list the vagrant-libvirt plugin; needed by/),
    ]);
  });

  it("names local.libvirtUri when libvirt cannot be reached, with the command that switches to QEMU", () => {
    const p = problems(cfg({ libvirtUri: "qemu:///session" }), ALL);
    expect(p).toEqual([
      expect.stringMatching(
        /local\.libvirtUri: "qemu:\/\/\/session" cannot be reached .*start libvirtd.*`pulumi config set --path 'local\.provider' qemu`/,
      ),
    ]);
  });

  it("checks QEMU, not Vagrant, for the qemu runner", () => {
    const { "qemu-system-x86_64 --version": _q, ...noQemu } = ALL;
    expect(problems(cfg({ provider: "qemu" }), noQemu)).toEqual([
      expect.stringMatching(
        /^qemu-system-x86_64: `qemu-system-x86_64` not found on PATH; needed by the local VM \(local\.provider: qemu\); install: Debian\/Ubuntu: sudo apt install qemu-system-x86/,
      ),
    ]);
    const { "vagrant --version": _v, ...noVagrant } = ALL;
    expect(problems(cfg({ provider: "qemu" }), noVagrant)).toEqual([]);
  });
});
