/**
 * What a server replacement must keep (issue "Image updates keep every user"), checked through a hub as its users
 * see it: before (v1) users alice and bob sign in, their servers start (TLJH creates jupyter-alice and jupyter-bob)
 * and each writes a file; the admin leaves a file of a deleted user (the next free UID) on the data volume. After the
 * replacement (v2, a new image on the same volume): alice and bob log in with their old passwords and own their old
 * files (same UIDs, stat checked), neither can read the other's home, a new visitor cannot claim "alice", a new user
 * gets a UID no old file carries, and the admin's password is the stack's (v2's). Run whole by
 * tests/e2e/local-hub.test.ts (firstuse, `pulumi up` of the local target with a data disk); its parts (newUser, login,
 * see) by tests/e2e/openstack-boot.test.ts (a server of the booting test OpenStack with a Cinder volume) for what is
 * native's own (its records and passwords in the hub's database on the volume), where the identity checks above, the
 * same whatever the authenticator, are not run twice.
 */
import { randomBytes } from "crypto";
import { Browser } from "./browser";
import { expectLoginRefused, loginError, runPython, startServer } from "./checks";

export type Auth = "firstuse" | "native";

/** What a user's kernel sees of its identity: its IDs, its home's file (read or written), the peer's home. */
export interface Seen {
  uid: number;
  gid: number;
  fileOwner: number;
  text: string;
  peer: string;
}

const seeCode = (write: string | undefined, peer: string) => `
import json, os, pathlib
p = pathlib.Path.home() / "work.txt"
${write ? `p.write_text(${JSON.stringify(write)})` : ""}
try:
    os.listdir(${JSON.stringify(`/home/jupyter-${peer}`)})
    peer = "listed"
except PermissionError:
    peer = "denied"
except FileNotFoundError:
    peer = "absent"
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "fileOwner": p.stat().st_uid, "text": p.read_text(), "peer": peer}))
`;

export async function login(hubUrl: string, name: string, password: string): Promise<Browser> {
  const url = new URL(hubUrl);
  const b = new Browser(url.origin);
  const page = await b.login(url.pathname, name, password);
  if (page.status !== 302) throw new Error(`${name} login: HTTP ${page.status} "${loginError(page.body)}"`);
  return b;
}

/**
 * A new hub user's first sign-in: firstuse (create_users off) — the admin adds the name, its first login sets the
 * password; native (open_signup off) — it signs up and the admin authorizes it. Returns its logged-in browser.
 */
export async function newUser(hubUrl: string, admin: Browser, auth: Auth, name: string, pw: string): Promise<Browser> {
  const base = new URL(hubUrl).pathname;
  if (auth === "firstuse") {
    await admin.request(`${base}hub/home`); // the _xsrf cookie the API wants with cookie auth
    const r = await admin.request(`${base}hub/api/users/${name}`, { method: "POST", jsonBody: {} });
    if (r.status !== 201) throw new Error(`adding ${name}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  } else {
    const b = new Browser(new URL(hubUrl).origin);
    await b.request(`${base}hub/signup`);
    await b.request(`${base}hub/signup`, {
      form: { username: name, signup_password: pw, signup_password_confirmation: pw },
    });
    const r = await admin.request(`${base}hub/authorize/${name}`);
    if (r.status !== 302) throw new Error(`authorizing ${name}: HTTP ${r.status}`);
  }
  return login(hubUrl, name, pw);
}

/** Starts `name`'s server and returns what its kernel sees (writing `write` to ~/work.txt first, when given). */
export async function see(b: Browser, hubUrl: string, name: string, peer: string, write?: string): Promise<Seen> {
  const base = new URL(hubUrl).pathname;
  const states = await startServer(b, base, name);
  console.log(`${name}'s server: ${states.join("; ")}`);
  // JupyterLab, as the user opens it: the server's OAuth login and its own _xsrf cookie (the kernels API wants it)
  const lab = await b.follow(`${base}user/${name}/lab`);
  if (lab.status !== 200) throw new Error(`${name}'s JupyterLab: HTTP ${lab.status} after ${lab.hops.join(" → ")}`);
  return JSON.parse(await runPython(b, `${base}user/${name}/`, seeCode(write, peer))) as Seen;
}

export interface Before {
  readonly passwords: Record<string, string>;
  readonly seen: Record<string, Seen>;
  /** the UID (and GID) of the deleted user's file the admin left on the volume */
  readonly orphanId: number;
}

/** v1: alice and bob sign in, start their servers and write files; the admin leaves a deleted user's file. */
export async function beforeReplacement(hubUrl: string, admin: Browser, auth: Auth): Promise<Before> {
  const passwords = { alice: `Alice-${randomBytes(6).toString("hex")}`, bob: `Bob-${randomBytes(6).toString("hex")}` };
  const alice = await newUser(hubUrl, admin, auth, "alice", passwords.alice);
  const bob = await newUser(hubUrl, admin, auth, "bob", passwords.bob);
  const base = new URL(hubUrl).pathname;
  // the two servers start side by side, as two users' would, and the admin's beside them (when not running yet)
  const [a, b] = await Promise.all([
    see(alice, hubUrl, "alice", "bob", `alice's work ${randomBytes(4).toString("hex")}`),
    see(bob, hubUrl, "bob", "alice", `bob's work ${randomBytes(4).toString("hex")}`),
    startServer(admin, base, "admin").then(() => admin.follow(`${base}user/admin/lab`)),
  ]);
  console.log(`v1: alice ${JSON.stringify(a)}, bob ${JSON.stringify(b)}`);
  expect(a.uid).not.toBe(b.uid);
  expect([a.fileOwner, a.peer, b.fileOwner, b.peer]).toEqual([a.uid, "denied", b.uid, "denied"]);
  // a user deleted from the system, whose file stays on the volume: the next UID useradd would give, once alice and
  // bob have theirs (sudo: TLJH's admins group)
  const orphanId = Number(
    await runPython(
      admin,
      `${base}user/admin/`,
      [
        "import pwd, subprocess",
        "n = max(p.pw_uid for p in pwd.getpwall() if 1000 <= p.pw_uid < 65534) + 1",
        "subprocess.run(['sudo', '-n', 'install', '-o', str(n), '-g', str(n), '-m', '600', '/dev/null', f'/srv/data/left-by-{n}'], check=True)",
        "print(n)",
      ].join("\n"),
    ),
  );
  expect(orphanId).toBeGreaterThan(Math.max(a.uid, b.uid));
  return { passwords, seen: { alice: a, bob: b }, orphanId };
}

/** v2 (same volume, new image): every check of the replacement. `adminPassword` is the stack's now. */
export async function afterReplacement(
  hubUrl: string,
  auth: Auth,
  before: Before,
  adminPassword: string,
  oldAdminPassword: string,
): Promise<void> {
  const form = auth === "native" ? "native" : "jupyterhub";
  // the admin's password is the stack's, not the one the volume's records held
  const admin = await login(hubUrl, "admin", adminPassword);
  await expectLoginRefused(hubUrl, "admin", oldAdminPassword, form);
  // nobody claims alice: neither her name with another password nor (native) a sign-up as her
  if (auth === "native") {
    const v = new Browser(new URL(hubUrl).origin);
    const base = new URL(hubUrl).pathname;
    await v.request(`${base}hub/signup`);
    await v.request(`${base}hub/signup`, {
      form: { username: "alice", signup_password: "Mallory-123456", signup_password_confirmation: "Mallory-123456" },
    });
  }
  await expectLoginRefused(hubUrl, "alice", "Mallory-123456", form);
  // alice and bob with their old passwords, their old files, their old UIDs, each other's homes closed; beside them
  // a new user, carol (the first boot restored alice's and bob's accounts: carol's IDs come after every saved one)
  const [alice, bob] = await Promise.all([
    login(hubUrl, "alice", before.passwords.alice),
    login(hubUrl, "bob", before.passwords.bob),
  ]);
  const [a, b, c] = await Promise.all([
    see(alice, hubUrl, "alice", "bob"),
    see(bob, hubUrl, "bob", "alice"),
    newUser(hubUrl, admin, auth, "carol", `Carol-${randomBytes(6).toString("hex")}`).then((carol) =>
      see(carol, hubUrl, "carol", "alice", "carol's work"),
    ),
  ]);
  console.log(`v2: alice ${JSON.stringify(a)}, bob ${JSON.stringify(b)}`);
  expect(a).toEqual(before.seen.alice);
  expect(b).toEqual(before.seen.bob);
  // carol: a UID and GID no file on the volume carries (the deleted user's included)
  console.log(`v2: carol ${JSON.stringify(c)} (deleted user's file: ${before.orphanId})`);
  expect(c.peer).toBe("denied");
  expect(c.uid).toBeGreaterThan(before.orphanId);
  expect(c.gid).toBeGreaterThan(before.orphanId);
}
