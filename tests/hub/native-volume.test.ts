// A hub with a data volume, the way an OpenStack server has one, for real: the hub test image (the one every hub test
// boots, tests/hub/hub-image.ts) booted by the local target's driver with the OpenStack target's user-data for a
// server with a data volume (a Cinder volume's by-id device) and a blank qcow2 attached as a virtio disk whose serial
// is the "volume's" ID (tests/hub/boot.ts). The authenticator is native (the first boot sets it and seeds the admin
// in the hub's database on the volume). Through traefik on the forwarded port 80: the admin logs in with the stack's
// password; signing up as the admin is refused and a new sign-up cannot log in before an admin approves it
// (open_signup off). Users alice and bob sign up and are approved, alice's server starts and writes a file; the server
// is replaced by a new image (an Ansible variable changed: SECOND_IMAGE) with a new admin password on the same
// volume: the admin's password is the new one, nobody claims alice by signing up again, alice and bob log in with
// their passwords (NativeAuthenticator's records in the hub's database on the volume), and alice's kernel sees her
// UID and file again. What does not depend on the authenticator (two users' UIDs and homes, a deleted user's UID, a
// new user's) is checked once, on local-hub's replacement (tests/hub/replacement.ts). On a failed check the guest's
// first-boot log and journal are printed.
// Needs root, QEMU, xorriso, ansible-playbook, Debian's mirror and PyPI (first image builds ~3 min; then cached).
import { randomBytes } from "crypto";
import { Browser } from "./browser";
import { expectLoginRefused, loggedInAdmin } from "./checks";
import { FIRSTUSE, SECOND_IMAGE } from "./hub-image";
import { Hub, base, blankVolume, bootHub, check, finish, markFailing } from "./boot";
import { Seen, login, newUser, see } from "./replacement";

jest.setTimeout(40 * 60_000);

const PASSWORD = `Hub-${randomBytes(9).toString("base64url")}`;
const PASSWORD_V2 = `Hub2-${randomBytes(9).toString("base64url")}`;

describe("native, with a data volume: admin login; nobody else claims or signs up; a replacement keeps every user", () => {
  /** the data volume (a blank qcow2, as a new Cinder volume is blank) */
  let volume = "";
  let hub: Hub;
  let v2: Hub | undefined;
  beforeAll(async () => {
    volume = blankVolume();
    hub = await (await bootHub("native", { ...FIRSTUSE, authenticator: "native" }, { password: PASSWORD, volume })).up;
  });
  afterAll(() => {
    finish(hub);
    finish(v2);
  });

  check(
    "the admin logs in; a wrong password is refused",
    () => hub,
    async () => {
      await loggedInAdmin(hub.url, PASSWORD);
      await expectLoginRefused(hub.url, "admin", `${PASSWORD}-wrong`, "native");
    },
  );

  check(
    "signing up as the admin is refused; a new sign-up cannot log in (sign-up needs approval)",
    () => hub,
    async () => {
      const b = new Browser(new URL(hub.url).origin);
      await b.request(`${base(hub)}hub/signup`);
      await b.request(`${base(hub)}hub/signup`, {
        form: {
          username: "admin",
          signup_password: "Claimed-first-2024!",
          signup_password_confirmation: "Claimed-first-2024!",
        },
      });
      await expectLoginRefused(hub.url, "admin", "Claimed-first-2024!", "native");
      await b.request(`${base(hub)}hub/signup`, {
        form: {
          username: "mallory",
          signup_password: "Mallory-password-123",
          signup_password_confirmation: "Mallory-password-123",
        },
      });
      await expectLoginRefused(hub.url, "mallory", "Mallory-password-123", "native-unapproved");
    },
  );

  const passwords = { alice: `Alice-${randomBytes(6).toString("hex")}`, bob: `Bob-${randomBytes(6).toString("hex")}` };
  let aliceSeen: Seen | undefined;
  check(
    "with the data volume: alice and bob sign up and are approved; alice's server starts and writes a file",
    () => hub,
    async () => {
      const admin = await loggedInAdmin(hub.url, PASSWORD);
      const alice = await newUser(hub.url, admin, "native", "alice", passwords.alice);
      await newUser(hub.url, admin, "native", "bob", passwords.bob);
      aliceSeen = await see(alice, hub.url, "alice", "bob", `alice's work ${randomBytes(4).toString("hex")}`);
      expect([aliceSeen.fileOwner, aliceSeen.peer]).toEqual([aliceSeen.uid, "absent"]); // bob never started a server
    },
  );

  it("replaced by a new image (an Ansible variable changed) with a new admin password, on the same volume: the hub's records and passwords are kept", async () => {
    if (!aliceSeen) throw new Error("the users' step before the replacement failed");
    finish(hub);
    v2 = await (
      await bootHub("native-v2", { ...SECOND_IMAGE, authenticator: "native" }, { password: PASSWORD_V2, volume })
    ).up;
    try {
      // the accounts came from the save on the volume (not from the home directories' owners, the fallback)
      expect(v2.console()).toMatch(/jupyterhub-vm identity: restored \d+ accounts and \d+ groups/);
      expect(v2.console()).not.toContain("recovered account");
      // the admin's password is the stack's new one, not the one the volume's records held
      await loggedInAdmin(v2.url, PASSWORD_V2);
      await expectLoginRefused(v2.url, "admin", PASSWORD, "native");
      // nobody claims alice: a sign-up as her, then a login with that password
      const v = new Browser(new URL(v2.url).origin);
      await v.request(`${base(v2)}hub/signup`);
      await v.request(`${base(v2)}hub/signup`, {
        form: { username: "alice", signup_password: "Mallory-123456", signup_password_confirmation: "Mallory-123456" },
      });
      await expectLoginRefused(v2.url, "alice", "Mallory-123456", "native");
      // alice and bob with their passwords; alice's server sees her UID and her file again
      await login(v2.url, "bob", passwords.bob);
      const again = await see(await login(v2.url, "alice", passwords.alice), v2.url, "alice", "bob");
      expect(again).toEqual(aliceSeen);
    } catch (e) {
      markFailing(v2);
      throw e;
    }
  });
});
