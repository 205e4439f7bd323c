/**
 * cloud-init/identity.sh (the hub users' accounts on the data volume) run for real with Debian's shadow tools
 * (useradd, groupadd, gpasswd, chpasswd) in a chroot of tests/ansible/make-rootfs.sh's Debian 12, the volume a
 * bind-mounted folder and /home on it as on a server: a save, then a "new server" (the accounts gone, as on a fresh
 * image) restored from it: same names, UIDs, GIDs, password hashes and group members; an account the save missed
 * recovered from its home directory's owner; new accounts above every ID a file on the volume carries; and a conflict
 * (the image gave a saved UID to someone else) refused with the names. The real boots are
 * tests/hub/hub-replace.test.ts. Needs root (chroot, mount namespace).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { IDENTITY_SCRIPT } from "../../cloud-init/render";
import { REPO, sh, tempDir } from "../support";

jest.setTimeout(5 * 60_000);

let rootfsTar = "";

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("this test needs root (chroot)");
  const r = sh("bash", [path.join(REPO, "tests/ansible/make-rootfs.sh")]);
  if (r.code !== 0) throw new Error(`make-rootfs.sh failed:\n${r.stderr}`);
  rootfsTar = r.stdout.trim().split("\n").pop() as string;
});

/** Runs `script` (bash) in a new chroot of the rootfs with identity.sh installed and the volume mounted. */
function inChroot(script: string): { code: number; out: string } {
  const root = tempDir("jhvm-identity-");
  const x = sh("tar", ["-C", root, "-xzf", rootfsTar]);
  if (x.code !== 0) throw new Error(`tar: ${x.stderr}`);
  fs.copyFileSync(IDENTITY_SCRIPT, path.join(root, "usr/local/sbin/jupyterhub-vm-identity"));
  fs.chmodSync(path.join(root, "usr/local/sbin/jupyterhub-vm-identity"), 0o700);
  fs.mkdirSync(path.join(root, "srv/jhvm-data/home"), { recursive: true });
  const setup = [
    "set -e",
    "mount -t proc proc /proc",
    "mount --bind /srv/jhvm-data /srv/jhvm-data",
    "mount --bind /srv/jhvm-data/home /home",
  ].join("\n");
  const r = spawnSync("unshare", ["-m", "chroot", root, "/bin/bash", "-c", `${setup}\n${script}`], {
    encoding: "utf8",
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** TLJH's steps for a user's first server start (tljh/user.py): useradd --create-home, chmod o-rwx, the group. */
const tljhUser = (name: string) =>
  `useradd --create-home ${name}; chmod o-rwx /home/${name}; groupadd --force jupyterhub-users; gpasswd --add ${name} jupyterhub-users >/dev/null`;

/** What a "new server" starts from: the image's accounts, none of the hub users'. */
const newServer = `for u in jupyter-alice jupyter-bob jupyter-carl; do userdel "$u" 2>/dev/null || true; done
groupdel jupyterhub-users`;

const ids = (u: string) =>
  `echo "${u}: $(id -u ${u}) $(id -g ${u}) $(id -nG ${u} | tr ' ' ,) $(getent shadow ${u} | cut -d: -f2)"`;

describe("identity.sh save / restore (Debian 12's shadow tools, in a chroot)", () => {
  it("a new server gets every saved account back as it was; a missed one from its home; new IDs above the volume's", () => {
    const r = inChroot(`
${tljhUser("jupyter-alice")}
${tljhUser("jupyter-bob")}
echo 'jupyter-alice:$6$salt$alicehash' | chpasswd -e
jupyterhub-vm-identity save
# a member the new image will not have (a system account of the old one)
useradd --system oldsvc && gpasswd --add oldsvc jupyterhub-users >/dev/null && jupyterhub-vm-identity save && userdel oldsvc
# carl is created after the last save (a server killed right after his first start)
${tljhUser("jupyter-carl")}
# a file of a deleted user on the volume, with the next free UID
touch /srv/jhvm-data/orphan && chown 1009:1009 /srv/jhvm-data/orphan
echo "--- before"; ${ids("jupyter-alice")}; ${ids("jupyter-bob")}; ${ids("jupyter-carl")}
${newServer}
jupyterhub-vm-identity restore
echo "--- after"; ${ids("jupyter-alice")}; ${ids("jupyter-bob")}; ${ids("jupyter-carl")}
useradd --create-home jupyter-dave
echo "dave: $(id -u jupyter-dave) $(id -g jupyter-dave)"
`);
    expect(r.code).toBe(0);
    const [before, after] = r.out
      .split("--- before\n")[1]
      .split("--- after\n")
      .map((s) => s.split("\n").filter((l) => l.startsWith("jupyter-")));
    expect(before).toHaveLength(3);
    // alice and bob exactly as before (UID, GID, groups, password hash)
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(before[0]).toBe("jupyter-alice: 1000 1000 jupyter-alice,jupyterhub-users $6$salt$alicehash");
    // carl: same UID and GID from his home directory (locked password; TLJH adds the group at his next start)
    expect(after[2]).toMatch(/^jupyter-carl: 1002 1003 jupyter-carl /);
    expect(r.out).toContain("recovered account jupyter-carl (UID 1002) from its home directory's owner");
    // the orphaned file's 1009 is never given again
    expect(r.out).toContain("dave: 1010 1010");
    expect(r.out).toContain("WARNING: group jupyterhub-users: member oldsvc has no account here");
  });

  it("a saved UID the image gave to someone else stops the restore, naming both", () => {
    const r = inChroot(`
${tljhUser("jupyter-alice")}
jupyterhub-vm-identity save
${newServer}
useradd --create-home imageuser
jupyterhub-vm-identity restore
`);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("ERROR: group jupyter-alice has GID 1000 on the data volume, which is imageuser's");
  });

  it("refuses to run without the volume mounted", () => {
    const r = inChroot("umount /home; umount /srv/jhvm-data; jupyterhub-vm-identity save");
    expect(r.code).toBe(1);
    expect(r.out).toContain("the data volume is not mounted on /srv/jhvm-data");
  });
});
