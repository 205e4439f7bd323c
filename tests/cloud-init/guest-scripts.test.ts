/**
 * The two scripts the user-data runs at every boot, run for real here (root, as cloud-init and systemd run them):
 *
 * - the data volume's lookup (cloud-init/render.ts FIND_DATA_VOLUME_SCRIPT), in a private mount namespace whose /dev
 *   is a tmpfs holding the /dev/disk/by-id links udev makes for a disk with a serial: `virtio-<first 20>` on
 *   virtio-blk (virtio's serial field is 20 bytes) and `scsi-0QEMU_QEMU_HARDDISK_<serial>` on virtio-scsi (udev's
 *   scsi_id of a QEMU scsi-hd, vendor QEMU, model QEMU HARDDISK), plus their `-partN` links. Nova gives a volume's
 *   disk the volume's ID as serial, on the image's hw_disk_bus when the mapping names none
 *   (nova/virt/libvirt/blockinfo.py): our Glance image says scsi, so a volume is the scsi-… link.
 * - the metadata guard (METADATA_GUARD), in a network namespace made for the test with a listener on
 *   169.254.169.254:80: root connects, another user is refused, on every run one rule per address family.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  DATA_VOLUME_LINK,
  DATA_VOLUME_WAIT_SECONDS,
  FIND_DATA_VOLUME_SCRIPT,
  METADATA_GUARD,
  renderUserData,
  adminPasswordHash,
  UserDataArgs,
} from "../../cloud-init/render";
import { tempDir } from "../support";

/** a plain server's settings (the user-data's other keys do not matter here) */
const BASE: UserDataArgs = {
  hostname: "h",
  dnsName: "",
  letsencryptEmail: "",
  baseUrl: "/",
  authenticator: "firstuse",
  adminUser: "admin",
  adminPasswordHash: adminPasswordHash("correct-horse-battery-staple", "abcdefghijklmnopqrstuu"),
};
const VOLUME = "4f2a9c1e-7b3d-4e8a-9c6f-0d1e2f3a4b5c";
const OTHER = "4f2a9c1e-7b3d-4e8a-ffff-000000000000"; // same first 20 characters: must not count as ours

/** Runs the lookup in a private /dev with these by-id links (name -> device file); returns its exit, output, link. */
function findVolume(links: Record<string, string>, serial: string, waitS: number) {
  const dir = tempDir("jhvm-find-volume-");
  fs.writeFileSync(path.join(dir, "find.sh"), FIND_DATA_VOLUME_SCRIPT);
  const setup = Object.entries(links)
    .map(([name, dev]) => `touch /dev/${dev}; ln -s ../../${dev} /dev/disk/by-id/${name};`)
    .join(" ");
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      // a tmpfs /dev: nothing of the host's /dev is seen or changed; /dev/null for the script's redirections
      `mount -t tmpfs jhvm-dev /dev && mknod -m 666 /dev/null c 1 3 && mkdir -p /dev/disk/by-id && ${setup}
       sh "$0" "$1" "$2"; rc=$?; echo "LINK=$(readlink ${DATA_VOLUME_LINK})"; exit $rc`,
      path.join(dir, "find.sh"),
      serial,
      String(waitS),
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  const link = /LINK=(.*)/.exec(r.stdout)?.[1] ?? "";
  return { status: r.status, out: r.stdout + r.stderr, link };
}

describe("the data volume's lookup (every boot, before disk_setup)", () => {
  it("finds a volume Nova put on virtio-scsi (the image's hw_disk_bus=scsi)", () => {
    const r = findVolume(
      { [`scsi-0QEMU_QEMU_HARDDISK_${VOLUME}`]: "sdb", [`scsi-0QEMU_QEMU_HARDDISK_${VOLUME}-part1`]: "sdb1" },
      VOLUME,
      5,
    );
    expect(r.out).toContain(`data volume found after`);
    expect(r.status).toBe(0);
    expect(r.link).toBe("/dev/sdb");
  });

  it("finds a volume on virtio-blk (serial cut to 20 characters) and the local data disk", () => {
    expect(findVolume({ [`virtio-${VOLUME.slice(0, 20)}`]: "vdb" }, VOLUME, 5).link).toBe("/dev/vdb");
    expect(findVolume({ "virtio-jhvm-data": "vdc" }, "jhvm-data", 5).link).toBe("/dev/vdc");
  });

  it("never takes a partition, another volume or the boot disk; gives up after the bounded wait, saying so", () => {
    const t0 = Date.now();
    const r = findVolume(
      {
        [`scsi-0QEMU_QEMU_HARDDISK_${OTHER}`]: "sdc",
        [`scsi-0QEMU_QEMU_HARDDISK_${VOLUME}-part1`]: "sdb1",
        "scsi-0QEMU_QEMU_HARDDISK_drive-scsi0-0-0-0": "sda",
      },
      VOLUME,
      3,
    );
    expect(r.status).toBe(1);
    expect(r.link).toBe("");
    expect(r.out).toContain(`waiting up to 3 s for the data volume: the disk with serial ${VOLUME}`);
    expect(r.out).toContain(`FAILED: no disk with serial ${VOLUME} after 3 s`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
  });

  it("the user-data runs it at every boot (bootcmd) with the volume's ID as an argument, and formats the link", () => {
    const doc = yaml.load(renderUserData({ ...BASE, dataVolume: { serial: VOLUME } })) as {
      bootcmd: string[][];
      fs_setup: { device: string }[];
    };
    expect(doc.bootcmd[0]).toEqual([
      "sh",
      "-c",
      FIND_DATA_VOLUME_SCRIPT,
      "find-data-volume",
      VOLUME,
      String(DATA_VOLUME_WAIT_SECONDS),
    ]);
    expect(doc.fs_setup[0].device).toBe(DATA_VOLUME_LINK);
  });
});

describe("the metadata guard (every boot, before the hub)", () => {
  const guard = () => {
    const doc = yaml.load(renderUserData(BASE)) as { write_files: { path: string; content: string }[] };
    const file = (p: string) => doc.write_files.find((f) => f.path === p)?.content ?? "";
    return { script: file(METADATA_GUARD.script), unit: file(METADATA_GUARD.unit) };
  };

  it("the hub requires it and starts after it", () => {
    const { unit } = guard();
    expect(unit).toContain("RequiredBy=jupyterhub.service");
    expect(unit).toMatch(/^Before=.*jupyterhub\.service/m);
    expect(unit).toContain(`ExecStart=${METADATA_GUARD.script}`);
  });

  it("in a network namespace with a metadata listener: root gets through, a user is refused, IPv4 and IPv6", () => {
    const dir = tempDir("jhvm-guard-");
    fs.writeFileSync(path.join(dir, "guard.sh"), guard().script, { mode: 0o700 });
    const probe = `import socket,sys
s=socket.socket(); s.settimeout(5)
try:
    s.connect(("169.254.169.254", 80)); print("connected")
except OSError as e:
    print(type(e).__name__)`;
    const r = spawnSync(
      "unshare",
      [
        "--net",
        "bash",
        "-c",
        `set -e; ip link set lo up; ip addr add 169.254.169.254/32 dev lo
         /usr/bin/python3 -c 'import socket,time; s=socket.socket(); s.bind(("169.254.169.254",80)); s.listen(8); time.sleep(60)' &
         sleep 1
         echo "before: user $(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c "$PROBE")"
         bash "$0"; bash "$0"
         echo "root $(/usr/bin/python3 -c "$PROBE")"
         echo "user $(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c "$PROBE")"
         echo "v4 rules: $(iptables -S OUTPUT | grep -c 169.254.169.254)"
         echo "v6 rules: $(ip6tables -S OUTPUT | grep -c fe80::a9fe:a9fe)"
         kill %1`,
        path.join(dir, "guard.sh"),
      ],
      { encoding: "utf8", timeout: 90_000, env: { ...process.env, PROBE: probe } },
    );
    const out = r.stdout + r.stderr;
    // the listener answers a user when there is no guard: the refusal below is the guard's
    expect(out).toContain("before: user connected");
    expect(out).toContain("root connected");
    // REJECT answers with an ICMP port unreachable (a refusal on a real interface; on this namespace's loopback the
    // socket only times out): either way the user never connects
    expect(out).toMatch(/^user (ConnectionRefusedError|TimeoutError)$/m);
    expect(out).toContain("v4 rules: 1");
    expect(out).toContain("v6 rules: 1");
    expect(out).toContain("only root reaches 169.254.169.254");
    expect(out).toContain("only root reaches fe80::a9fe:a9fe");
  });

  it("fails, saying why, when it cannot make a rule (no iptables)", () => {
    const dir = tempDir("jhvm-guard-");
    fs.writeFileSync(path.join(dir, "guard.sh"), guard().script, { mode: 0o700 });
    // a PATH with bash's tools but no iptables
    const r = spawnSync("/usr/bin/unshare", ["--net", "/bin/bash", path.join(dir, "guard.sh")], {
      encoding: "utf8",
      env: { PATH: dir },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("FAILED: iptables is not installed");
  });
});
