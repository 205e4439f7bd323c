/**
 * Renders the server's #cloud-config from the stack's hub settings. The admin password never appears in it: only a
 * bcrypt hash, with the stack's own random salt kept in its state (targets/password-salt.ts), so the same inputs
 * give byte-identical user-data (no spurious server replacement) while every stack gets its own hash.
 */
import * as fs from "fs";
import * as path from "path";
import bcrypt from "bcryptjs";
import * as yaml from "js-yaml";
import type { HubConfig } from "../config";

export const FIRST_BOOT_SCRIPT = path.join(__dirname, "first-boot.sh");
/** Saves (on every change) and restores (at a new server's first boot) the hub users' accounts on the data volume. */
export const IDENTITY_SCRIPT = path.join(__dirname, "identity.sh");
/** Where the data volume is mounted; /home, /srv/data and the hub's user records live on it. */
export const DATA_VOLUME_DIR = "/srv/jhvm-data";

/** What runs the identity script's save when the account files change (a burst of useradd/gpasswd is one save). */
const IDENTITY_UNITS = {
  "/etc/systemd/system/jupyterhub-vm-identity.service": `[Unit]
Description=Save the hub users' accounts to the data volume (jupyterhub-vm)
RequiresMountsFor=${DATA_VOLUME_DIR}

[Service]
Type=oneshot
ExecStartPre=/bin/sleep 2
ExecStart=/usr/local/sbin/jupyterhub-vm-identity save
`,
  "/etc/systemd/system/jupyterhub-vm-identity.path": `[Unit]
Description=Save the hub users' accounts to the data volume when they change (jupyterhub-vm)

[Path]
PathChanged=/etc/passwd
PathChanged=/etc/group
PathChanged=/etc/shadow
PathChanged=/etc/gshadow

[Install]
WantedBy=paths.target
`,
};

/**
 * Every boot, before the hub starts: only root may reach the instance metadata service (it serves the user-data,
 * with the admin's password hash, and hub users have shells and kernels), on its IPv4 and its IPv6 address. The hub
 * requires this unit: when a rule cannot be made the hub does not start, and the console says why.
 */
export const METADATA_GUARD = {
  script: "/usr/local/sbin/jupyterhub-vm-metadata-guard",
  unit: "/etc/systemd/system/jupyterhub-vm-metadata-guard.service",
  addresses: { iptables: "169.254.169.254", ip6tables: "fe80::a9fe:a9fe" },
};
const METADATA_GUARD_SCRIPT = `#!/bin/bash
# jupyterhub-vm: keep every user but root from the instance metadata service (written by cloud-init, run at every
# boot by jupyterhub-vm-metadata-guard.service, which jupyterhub.service requires).
set -uo pipefail
say() { echo "jupyterhub-vm metadata guard: $*"; echo "jupyterhub-vm metadata guard: $*" >/dev/console 2>/dev/null || true; }
rc=0
for rule in ${Object.entries(METADATA_GUARD.addresses)
  .map(([tool, addr]) => `"${tool} ${addr}"`)
  .join(" ")}; do
  tool=\${rule% *} addr=\${rule#* }
  if [ "$tool" = ip6tables ] && [ ! -e /proc/net/if_inet6 ]; then
    say "IPv6 is off in this kernel: no $addr to guard"
    continue
  fi
  args=(OUTPUT -d "$addr" -m owner ! --uid-owner 0 -j REJECT)
  if ! command -v "$tool" >/dev/null; then
    say "FAILED: $tool is not installed: hub users could read the metadata service ($addr)"
    rc=1
  elif "$tool" -w 30 -C "\${args[@]}" 2>/dev/null || "$tool" -w 30 -I "\${args[@]}"; then
    say "only root reaches $addr"
  else
    say "FAILED: cannot add the $tool rule for $addr: hub users could read the metadata service"
    rc=1
  fi
done
exit "$rc"
`;
const METADATA_GUARD_UNIT = `[Unit]
Description=Only root reaches the instance metadata service (jupyterhub-vm)
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target jupyterhub.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${METADATA_GUARD.script}

[Install]
WantedBy=multi-user.target
RequiredBy=jupyterhub.service
`;

/** How long a boot waits for the data volume's disk to appear before it says so on the console and gives up. */
export const DATA_VOLUME_WAIT_SECONDS = 300;

/**
 * Run by cloud-init's bootcmd at every boot, before disk_setup and mounts: waits (bounded) for the disk whose serial is
 * $1, on whatever bus the hypervisor put it, and links it as /dev/jhvm-data for fs_setup. The serial is what the
 * hypervisor reports: Nova sets the libvirt disk's <serial> to the volume's ID, and the bus is the block device
 * mapping's, else the image's hw_disk_bus (nova/virt/libvirt/blockinfo.py, get_disk_bus_for_device_type): with
 * hw_disk_bus=scsi the volume is udev's scsi-0QEMU_QEMU_HARDDISK_<ID>, on virtio-blk virtio-<first 20 characters>
 * (virtio's serial field is 20 bytes; SATA and NVMe cut theirs to 20 too). So a by-id name ending in "-" or "_"
 * followed by the serial or its first 20 characters, partitions excluded. The serial is an argument, never code.
 */
export const FIND_DATA_VOLUME_SCRIPT = `set -u
s=$1; wait_s=$2; s20=$(printf %.20s "$s"); t0=$(date +%s)
say() { echo "jupyterhub-vm: $*"; echo "jupyterhub-vm: $*" >/dev/console 2>/dev/null || true; }
say "waiting up to $wait_s s for the data volume: the disk with serial $s (/dev/disk/by-id/*-$s20 or *_$s, any bus)"
while :; do
  for l in /dev/disk/by-id/*; do
    n=\${l##*/}
    case $n in
      *-part[0-9]*) ;;
      *[-_]"$s" | *[-_]"$s20")
        dev=$(readlink -f "$l")
        ln -sfn "$dev" /dev/jhvm-data
        say "data volume found after $(($(date +%s) - t0)) s: $n -> $dev"
        exit 0 ;;
    esac
  done
  [ $(($(date +%s) - t0)) -lt "$wait_s" ] || break
  sleep 1
done
say "FAILED: no disk with serial $s after $wait_s s (disks by id: $(ls /dev/disk/by-id 2>/dev/null | tr '\\n' ' '))"
exit 1
`;

/** Where the found data volume is linked (FIND_DATA_VOLUME_SCRIPT), for cloud-init's fs_setup. */
export const DATA_VOLUME_LINK = "/dev/jhvm-data";

export interface UserDataArgs {
  readonly hostname: string;
  readonly dnsName: string;
  readonly letsencryptEmail: string;
  readonly baseUrl: string;
  readonly authenticator: HubConfig["authenticator"];
  readonly adminUser: string;
  /** bcrypt hash (see `adminPasswordHash`) */
  readonly adminPasswordHash: string;
  /**
   * persistent data volume, mounted on /srv/jhvm-data: /home and /srv/data inside, and the users' identity (the hub's
   * database, the FirstUse passwords, the accounts TLJH creates) so that a replaced server keeps them. `serial`: the
   * disk's serial as the guest sees it (a cloud volume's ID; the local data disk's DATA_DISK_SERIAL), found on any bus
   */
  readonly dataVolume?: { readonly serial: string };
  /** local target: the host folder shared by QEMU as 9p tag `jhvm-data`, mounted on /srv/data */
  readonly localDataShare?: boolean;
}

/** A new bcrypt salt: 16 random bytes as bcrypt's 22 base64 characters (targets/password-salt.ts keeps one per stack). */
export function newPasswordSalt(): string {
  return bcrypt.genSaltSync(12).slice(-22);
}

/** bcrypt (cost 12) of the password with the stack's salt (22 characters, `newPasswordSalt`). */
export function adminPasswordHash(password: string, salt: string): string {
  if (!/^[./A-Za-z0-9]{22}$/.test(salt)) throw new Error("the admin password's salt is not 22 bcrypt characters");
  return bcrypt.hashSync(password, `$2b$12$${salt}`);
}

function shellValue(v: string): string {
  if (v.includes("'")) throw new Error(`value for the first-boot environment contains a quote: ${v}`);
  return `'${v}'`;
}

export function renderUserData(a: UserDataArgs): string {
  const env = [
    `ADMIN_USER=${shellValue(a.adminUser)}`,
    `ADMIN_PASSWORD_HASH=${shellValue(a.adminPasswordHash)}`,
    `AUTHENTICATOR=${shellValue(a.authenticator)}`,
    `DNS_NAME=${shellValue(a.dnsName)}`,
    `LETSENCRYPT_EMAIL=${shellValue(a.letsencryptEmail)}`,
    `BASE_URL=${shellValue(a.baseUrl)}`,
    ...(a.dataVolume ? [`DATA_VOLUME=${shellValue(DATA_VOLUME_DIR)}`] : []),
  ].join("\n");
  const config: Record<string, unknown> = {
    hostname: a.hostname,
    ...(a.dnsName ? { fqdn: a.dnsName } : {}),
    preserve_hostname: false,
    manage_etc_hosts: true,
    write_files: [
      { path: "/etc/jupyterhub-vm/first-boot.env", permissions: "0600", owner: "root:root", content: env + "\n" },
      {
        path: "/usr/local/sbin/jupyterhub-vm-first-boot",
        permissions: "0700",
        owner: "root:root",
        content: fs.readFileSync(FIRST_BOOT_SCRIPT, "utf8"),
      },
      { path: METADATA_GUARD.script, permissions: "0700", owner: "root:root", content: METADATA_GUARD_SCRIPT },
      { path: METADATA_GUARD.unit, permissions: "0644", owner: "root:root", content: METADATA_GUARD_UNIT },
    ],
    runcmd: [["/usr/local/sbin/jupyterhub-vm-first-boot"]],
  };
  if (a.localDataShare) {
    config.bootcmd = [["mkdir", "-p", "/srv/data"]];
    config.mounts = [["jhvm-data", "/srv/data", "9p", "trans=virtio,version=9p2000.L,msize=262144,nofail", "0", "0"]];
  }
  if (a.dataVolume) {
    // Formatted only when it has no file system (overwrite: false): an existing volume keeps its data.
    config.fs_setup = [{ label: "jhvm-data", filesystem: "ext4", device: DATA_VOLUME_LINK, overwrite: false }];
    (config.write_files as unknown[]).push(
      {
        path: "/usr/local/sbin/jupyterhub-vm-identity",
        permissions: "0700",
        owner: "root:root",
        content: fs.readFileSync(IDENTITY_SCRIPT, "utf8"),
      },
      ...Object.entries(IDENTITY_UNITS).map(([p, content]) => ({
        path: p,
        permissions: "0644",
        owner: "root:root",
        content,
      })),
    );
    config.mounts = [
      ["LABEL=jhvm-data", DATA_VOLUME_DIR, "ext4", "defaults,nofail,x-systemd.device-timeout=60", "0", "2"],
    ];
    config.bootcmd = [
      ["sh", "-c", FIND_DATA_VOLUME_SCRIPT, "find-data-volume", a.dataVolume.serial, String(DATA_VOLUME_WAIT_SECONDS)],
      ["mkdir", "-p", "/srv/jhvm-data"],
    ];
    (config.runcmd as unknown[]).unshift([
      "sh",
      "-c",
      "set -e; mountpoint -q /srv/jhvm-data; for d in home data; do mkdir -p /srv/jhvm-data/$d; done; " +
        '[ -z "$(ls -A /srv/jhvm-data/home)" ] && cp -a /home/. /srv/jhvm-data/home/ || true; ' +
        "mkdir -p /srv/data; mount --bind /srv/jhvm-data/home /home; mount --bind /srv/jhvm-data/data /srv/data; " +
        "grep -q jhvm-data/home /etc/fstab || printf '/srv/jhvm-data/home /home none bind,nofail 0 0\\n/srv/jhvm-data/data /srv/data none bind,nofail 0 0\\n' >> /etc/fstab",
    ]);
  }
  return "#cloud-config\n" + yaml.dump(config, { lineWidth: -1, noRefs: true });
}

/** The stack's hub settings the first boot takes: keys of the `hub` config section, named as there. */
export type HubUserData = Pick<
  HubConfig,
  "hostname" | "dnsName" | "letsencryptEmail" | "baseUrl" | "authenticator" | "admins"
>;

/** Where users' files live: the cloud's data volume, or the host folder the local VM shares. */
export type DataStorage = Pick<UserDataArgs, "dataVolume" | "localDataShare">;

/**
 * The one mapping from a stack's settings to its first-boot user-data, for both targets: the first of `hub.admins`
 * is the admin and gets `password` (as a bcrypt hash with the stack's `salt`).
 */
export function stackUserData(hub: HubUserData, password: string, salt: string, storage: DataStorage = {}): string {
  return renderUserData({
    hostname: hub.hostname,
    dnsName: hub.dnsName,
    letsencryptEmail: hub.letsencryptEmail,
    baseUrl: hub.baseUrl,
    authenticator: hub.authenticator,
    adminUser: hub.admins[0],
    adminPasswordHash: adminPasswordHash(password, salt),
    ...storage,
  });
}
