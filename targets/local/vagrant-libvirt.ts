/**
 * The `vagrant-libvirt` runner of the local-vm stage (driver.ts dispatches here): Vagrant with the
 * vagrant-libvirt plugin runs the final image.
 *
 * create (all files in <buildDir>/local-vm/<name>/, mode 0700):
 *  1. a per-VM box `jupyterhub-vm-<name>-<sha12>`: metadata.json (libvirt, qcow2) + the cached final image, packed
 *     as a tar and `vagrant box add`ed (the tar is removed again; the box lives in VAGRANT_HOME);
 *  2. a per-VM login: an ed25519 key pair made here (`ssh-keygen`, private key 0600, never leaves this directory
 *     and never enters the Pulumi state); the public key reaches the guest only through the NoCloud seed's
 *     vendor-data, which cloud-init turns into the user `jhvm-local` (key only, locked password, sudo), so the
 *     image itself carries no login at all;
 *  3. the seed ISO (user-data = the stack's first-boot #cloud-config, vendor-data = the login, meta-data),
 *     attached as a CD-ROM;
 *  4. a Vagrantfile (every value a Ruby string literal): box, the per-VM key, domain named <name> on
 *     `libvirtUri`, domain type qemu/kvm from the accelerator, memory/cpus, `private_network` with `ip` when set,
 *     forwarded ports on 127.0.0.1 (httpPort -> 80, forwardPorts), `dataDir` as a 9p synced folder at /srv/data,
 *     the default /vagrant folder off;
 *  5. `vagrant up --provider=libvirt`; then `vagrant ssh-config` gives the address for the `localIp` output.
 *  A failed create tears down what it made (VM, box, box volume) before it reports the failure.
 * delete: `vagrant destroy -f`, `vagrant box remove`, the box's volume(s) in the storage pool (vagrant-libvirt
 *  leaves them), a domain of this VM that Vagrant lost track of (only when its description names this VM
 *  directory), then the directory. Idempotent.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stage, StageError, StageResult, StageSettingsBase, sha256File, tail } from "../../stages/driver";
import { CONSOLE_LOG, VmSettings } from "./settings";

/** What this runner uses of a stage: its log and its tool runner. */
type Runner = Pick<Stage<StageSettingsBase>, "log" | "run" | "logFile">;

/** The settings this runner reads (settings.ts; the qemu runner's own fields are not used here). */
export type VagrantVmSettings = Omit<
  VmSettings,
  "provider" | "restrictNetwork" | "stopTimeoutSec" | "stage" | "cacheDir" | "keepCache"
>;

/** The guest account cloud-init creates from the seed's vendor-data: the only login into a local Vagrant VM. */
export const LOGIN_USER = "jhvm-local";
const VAGRANT = process.env.JHVM_VAGRANT ?? "vagrant";
const VIRSH = process.env.JHVM_VIRSH ?? "virsh";
const POOL = "default";
const FILES = {
  vagrantfile: "Vagrantfile",
  key: "id_ed25519",
  seed: "seed.iso",
  info: "vagrant-vm.json",
  boxTar: "box.tar",
};

interface VagrantInfo {
  readonly box: string;
  readonly domain: string;
  readonly libvirtUri: string;
}

export function boxNameOf(name: string, sha256: string): string {
  return `jupyterhub-vm-${name}-${sha256.slice(0, 12)}`;
}

/** A Ruby single-quoted string literal: no interpolation; only \\ and ' need escaping. */
export function rubyString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export function vendorData(publicKey: string): string {
  return [
    "#cloud-config",
    "# jupyterhub-vm local VM (vagrant-libvirt): the per-VM login Vagrant uses. It comes from this VM's seed only;",
    "# the image has no login of its own.",
    "users:",
    "  - default",
    `  - name: ${LOGIN_USER}`,
    "    gecos: jupyterhub-vm local VM login (per-VM key)",
    "    shell: /bin/bash",
    '    sudo: "ALL=(ALL) NOPASSWD:ALL"',
    "    lock_passwd: true",
    "    ssh_authorized_keys:",
    `      - ${JSON.stringify(publicKey.trim())}`,
    "",
  ].join("\n");
}

export function vagrantfile(
  s: VagrantVmSettings,
  files: { dir: string; key: string; seed: string; box: string },
): string {
  const r = rubyString;
  const forwards: Array<[number, number]> = [
    [s.httpPort, 80],
    ...(s.forwardPorts ?? []).map((p) => p.split(":").map(Number) as [number, number]),
  ];
  const lines = [
    "# Written by jupyterhub-vm (targets/local/vagrant-libvirt.ts) for the local VM " +
      s.name +
      "; `pulumi up` rewrites it.",
    "# From this directory: `vagrant ssh` logs in with this VM's own key; `vagrant status`, `vagrant halt`, ...",
    'Vagrant.configure("2") do |config|',
    `  config.vm.define ${r(s.name)} do |vm|`,
    `    vm.vm.box = ${r(files.box)}`,
    "    vm.vm.box_check_update = false",
    "    vm.vm.boot_timeout = 900",
    `    vm.ssh.username = ${r(LOGIN_USER)}`,
    `    vm.ssh.private_key_path = [${r(files.key)}]`,
    "    vm.ssh.insert_key = false",
    '    vm.vm.synced_folder ".", "/vagrant", disabled: true',
  ];
  if (s.dataDir)
    lines.push(
      `    vm.vm.synced_folder ${r(path.resolve(s.dataDir))}, "/srv/data", type: "9p", accessmode: "mapped", create: false`,
    );
  if (s.ip) lines.push(`    vm.vm.network :private_network, ip: ${r(s.ip)}`);
  for (const [host, guest] of forwards)
    lines.push(
      `    vm.vm.network :forwarded_port, guest: ${guest}, host: ${host}, host_ip: "127.0.0.1", id: "jhvm-${host}"`,
    );
  lines.push(
    "    vm.vm.provider :libvirt do |lv|",
    `      lv.uri = ${r(s.libvirtUri || "qemu:///system")}`,
    `      lv.driver = ${r(s.accelerator === "kvm" ? "kvm" : "qemu")}`,
    // TCG cannot run host-passthrough; qemu64 works under both
    ...(s.accelerator === "kvm"
      ? ['      lv.cpu_mode = "host-passthrough"']
      : ['      lv.cpu_mode = "custom"', '      lv.cpu_model = "qemu64"']),
    `      lv.memory = ${s.memoryMb}`,
    `      lv.cpus = ${s.cpus}`,
    '      lv.default_prefix = ""',
    `      lv.description = ${r(`jupyterhub-vm local VM ${s.name} (${files.dir})`)}`,
    `      lv.storage_pool_name = ${r(POOL)}`,
    `      lv.storage :file, device: :cdrom, path: ${r(files.seed)}`,
    // the serial console into the VM directory, as the qemu runner does (shown when the hub never answers)
    `      lv.serial :type => "file", :source => { :path => ${r(path.join(files.dir, CONSOLE_LOG))} }`,
    "    end",
    "  end",
    "end",
    "",
  );
  return lines.join("\n");
}

function readInfo(dir: string): VagrantInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, FILES.info), "utf8")) as VagrantInfo;
  } catch {
    return undefined;
  }
}

function virsh(uri: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(VIRSH, ["-c", uri, ...args], { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** Box volumes vagrant-libvirt uploaded for this box (it names them `<box>_vagrant_box_image_<version>_...`). */
function boxVolumes(uri: string, box: string): string[] {
  const r = virsh(uri, ["vol-list", POOL]);
  if (!r.ok) return [];
  const prefix = `${box.replace(/\//g, "-VAGRANTSLASH-")}_vagrant_box_image_`;
  // libvirt 9's vol-list has no --name: the first column of the table (names have no blanks here)
  return r.out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n.startsWith(prefix));
}

/** Everything this VM made outside its directory: the domain, the box and the box's volumes. */
export async function vagrantTeardown(stage: Runner, dir: string): Promise<void> {
  const info = readInfo(dir);
  const env = { VAGRANT_CWD: dir };
  const hasVagrantfile = fs.existsSync(path.join(dir, FILES.vagrantfile));
  if (!info && !hasVagrantfile) return; // not a Vagrant VM (or nothing was made)
  if (hasVagrantfile) {
    stage.log(`vagrant destroy in ${dir}`);
    await stage.run(VAGRANT, ["destroy", "--force", "--no-color"], { cwd: dir, env });
  }
  if (!info) {
    stage.log("no vagrant-vm.json: no box or domain was recorded");
    return;
  }
  // a domain Vagrant lost track of (its .vagrant directory gone): removed only when it is ours by description
  const desc = virsh(info.libvirtUri, ["desc", info.domain]);
  if (desc.ok && desc.out.includes(`(${dir})`)) {
    stage.log(`domain ${info.domain} still defined: destroying and undefining it`);
    virsh(info.libvirtUri, ["destroy", info.domain]);
    const u = virsh(info.libvirtUri, ["undefine", info.domain, "--remove-all-storage", "--nvram"]);
    if (!u.ok) throw new StageError(`cannot undefine domain ${info.domain}: ${u.out.trim()}`);
  }
  const boxes = spawnSync(VAGRANT, ["box", "list", "--no-color"], { encoding: "utf8" });
  // a box that cannot be listed cannot be shown gone: fail rather than leave it behind silently
  if (boxes.status !== 0)
    throw new StageError(
      `vagrant box list failed (${boxes.error?.message ?? `exit ${boxes.status}`}): box ${info.box} may remain`,
    );
  if (boxes.stdout.split("\n").some((l) => l.split(/\s+/)[0] === info.box)) {
    stage.log(`removing box ${info.box}`);
    await stage.run(VAGRANT, ["box", "remove", "--force", "--all", "--no-color", info.box], { cwd: dir, env });
  }
  for (const vol of boxVolumes(info.libvirtUri, info.box)) {
    stage.log(`removing box volume ${vol} from pool ${POOL}`);
    const r = virsh(info.libvirtUri, ["vol-delete", "--pool", POOL, vol]);
    if (!r.ok) throw new StageError(`cannot delete volume ${vol} from pool ${POOL}: ${r.out.trim()}`);
  }
}

function sshKeygen(stage: Runner, file: string, comment: string): Promise<string> {
  return stage.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
}

/** True when Vagrant reports this directory's VM as running. */
export async function vagrantRunning(stage: Runner, dir: string): Promise<boolean> {
  if (!fs.existsSync(path.join(dir, FILES.vagrantfile))) return false;
  try {
    const out = await stage.run(VAGRANT, ["status", "--machine-readable"], {
      cwd: dir,
      env: { VAGRANT_CWD: dir },
      quiet: true,
    });
    return out.split("\n").some((l) => l.split(",")[2] === "state" && l.split(",")[3] === "running");
  } catch {
    return false;
  }
}

/** `vagrant ssh-config` HostName: the address Vagrant reaches the VM on (the DHCP lease, or ip when set). */
async function vmAddress(stage: Runner, dir: string): Promise<string> {
  const out = await stage.run(VAGRANT, ["ssh-config", "--no-color"], {
    cwd: dir,
    env: { VAGRANT_CWD: dir },
    quiet: true,
  });
  return /^\s*HostName\s+(\S+)/m.exec(out)?.[1] ?? "";
}

export async function vagrantCreate(
  stage: Runner,
  s: VagrantVmSettings,
  dir: string,
  makeSeed: (vendor: string) => Promise<string>,
): Promise<StageResult> {
  const image = path.resolve(s.imagePath);
  stage.log(`checking ${image}`);
  const sha = await sha256File(image);
  if (sha !== s.imageSha256) throw new StageError(`${image} has sha256 ${sha}, expected ${s.imageSha256}`);
  const box = boxNameOf(s.name, s.imageSha256);
  const uri = s.libvirtUri || "qemu:///system";
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(
    path.join(dir, FILES.info),
    JSON.stringify({ box, domain: s.name, libvirtUri: uri } satisfies VagrantInfo) + "\n",
  );
  try {
    // 1. the box: the cached image is linked into it, tar reads through the link
    const boxDir = path.join(dir, "box");
    fs.mkdirSync(boxDir, { mode: 0o700 });
    const info = JSON.parse(await stage.run("qemu-img", ["info", "--output=json", image], { quiet: true })) as {
      "virtual-size": number;
    };
    const virtualGb = Math.ceil(info["virtual-size"] / 2 ** 30);
    fs.writeFileSync(
      path.join(boxDir, "metadata.json"),
      JSON.stringify({ provider: "libvirt", format: "qcow2", virtual_size: virtualGb }) + "\n",
    );
    fs.symlinkSync(image, path.join(boxDir, "box.img"));
    const tar = path.join(dir, FILES.boxTar);
    await stage.run("tar", ["--dereference", "-cf", tar, "-C", boxDir, "metadata.json", "box.img"]);
    fs.rmSync(boxDir, { recursive: true, force: true });
    stage.log(`adding box ${box}`);
    await stage.run(VAGRANT, ["box", "add", "--force", "--no-color", "--name", box, tar], { cwd: dir });
    fs.rmSync(tar, { force: true });

    // 2. + 3. the per-VM login and the seed
    const key = path.join(dir, FILES.key);
    await sshKeygen(stage, key, `${LOGIN_USER}@${s.name}`);
    const seed = await makeSeed(vendorData(fs.readFileSync(`${key}.pub`, "utf8")));

    // 4. + 5.
    fs.writeFileSync(path.join(dir, FILES.vagrantfile), vagrantfile(s, { dir, key, seed, box }), { mode: 0o600 });
    stage.log(
      `vagrant up (libvirt ${uri}, ${s.accelerator}, ${s.memoryMb} MiB, ${s.cpus} CPU): http://127.0.0.1:${s.httpPort}/ -> guest :80` +
        (s.ip ? `, private IP ${s.ip}` : "") +
        (s.dataDir ? `, ${s.dataDir} at /srv/data` : ""),
    );
    await stage.run(VAGRANT, ["up", "--provider=libvirt", "--no-color"], { cwd: dir, env: { VAGRANT_CWD: dir } });
    const address = await vmAddress(stage, dir);
    stage.log(`VM ${s.name} up (${address}); log in with: cd ${dir} && vagrant ssh`);
    return {
      path: path.join(dir, FILES.vagrantfile),
      sha256: s.imageSha256,
      size: 0,
      provider: "vagrant-libvirt",
      hubUrl: `http://127.0.0.1:${s.httpPort}${s.hubPath ?? "/"}`,
      vmName: s.name,
      localIp: s.ip || address,
      box,
    };
  } catch (e) {
    const msg = (e as Error).message;
    stage.log(`create failed: removing what it made (${msg.split("\n")[0]})`);
    try {
      await vagrantTeardown(stage, dir);
    } catch (t) {
      stage.log(`teardown after the failure failed too: ${(t as Error).message.split("\n")[0]}`);
    }
    throw e instanceof StageError
      ? e
      : new StageError(`${msg}\nlast lines of ${stage.logFile}:\n${tail(stage.logFile)}`);
  }
}
