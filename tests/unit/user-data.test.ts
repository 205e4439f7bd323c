/** The rendered #cloud-config: snapshot, determinism, and what must never be in it. */
import * as yaml from "js-yaml";
import bcrypt from "bcryptjs";
import * as fs from "fs";
import * as path from "path";
import {
  adminPasswordHash,
  METADATA_GUARD,
  newPasswordSalt,
  renderUserData,
  UserDataArgs,
} from "../../cloud-init/render";
import { AUTHENTICATORS } from "../../config/schema";
import { firstBootAuthClasses } from "../support";

const BASE: UserDataArgs = {
  hostname: "jupyterhub",
  dnsName: "",
  letsencryptEmail: "",
  baseUrl: "/",
  authenticator: "firstuse",
  adminUser: "admin",
  adminPasswordHash: adminPasswordHash("correct-horse-battery-staple", "abcdefghijklmnopqrstuu"),
};

describe("user-data", () => {
  it("matches the snapshot (plain server)", () => {
    expect(renderUserData(BASE)).toMatchSnapshot();
  });

  it("matches the snapshot (HTTPS + data volume)", () => {
    expect(
      renderUserData({
        ...BASE,
        dnsName: "hub.example.org",
        letsencryptEmail: "ops@example.org",
        dataVolume: { serial: "0123456789abcdef0123456789abcdef0123" },
      }),
    ).toMatchSnapshot();
  });

  it("is a #cloud-config whose first-boot env carries the settings", () => {
    const text = renderUserData({ ...BASE, dnsName: "hub.example.org", letsencryptEmail: "ops@example.org" });
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = yaml.load(text) as any;
    const env = doc.write_files.find((f: any) => f.path === "/etc/jupyterhub-vm/first-boot.env");
    expect(env.permissions).toBe("0600");
    expect(env.content).toContain("DNS_NAME='hub.example.org'");
    expect(env.content).toContain("LETSENCRYPT_EMAIL='ops@example.org'");
    expect(doc.fqdn).toBe("hub.example.org");
    expect(doc.runcmd).toEqual([["/usr/local/sbin/jupyterhub-vm-first-boot"]]);
  });

  it("formats the data volume only when it has no file system", () => {
    const doc = yaml.load(renderUserData({ ...BASE, dataVolume: { serial: "jhvm-data" } })) as any;
    expect(doc.fs_setup).toEqual([
      { label: "jhvm-data", filesystem: "ext4", device: "/dev/jhvm-data", overwrite: false },
    ]);
    expect(doc.mounts[0][1]).toBe("/srv/jhvm-data");
  });

  it("with a data volume: the identity script and its save units, and DATA_VOLUME for the first boot", () => {
    const doc = yaml.load(renderUserData({ ...BASE, dataVolume: { serial: "jhvm-data" } })) as any;
    const files = Object.fromEntries(doc.write_files.map((f: any) => [f.path, f]));
    expect(files["/usr/local/sbin/jupyterhub-vm-identity"]).toMatchObject({ permissions: "0700", owner: "root:root" });
    expect(files["/etc/systemd/system/jupyterhub-vm-identity.path"].content).toContain("PathChanged=/etc/passwd");
    expect(files["/etc/systemd/system/jupyterhub-vm-identity.service"].content).toContain(
      "ExecStart=/usr/local/sbin/jupyterhub-vm-identity save",
    );
    expect(files["/etc/jupyterhub-vm/first-boot.env"].content).toContain("DATA_VOLUME='/srv/jhvm-data'");
    // without one, none of it: the hub keeps its records in TLJH's state folder
    const plain = yaml.load(renderUserData(BASE)) as any;
    expect(plain.write_files.map((f: any) => f.path)).toEqual([
      "/etc/jupyterhub-vm/first-boot.env",
      "/usr/local/sbin/jupyterhub-vm-first-boot",
      METADATA_GUARD.script,
      METADATA_GUARD.unit,
    ]);
    expect(plain.write_files[0].content).not.toContain("DATA_VOLUME");
  });

  it("stays under Nova's 64 KiB user_data limit (base64), with every option", () => {
    const text = renderUserData({
      ...BASE,
      dnsName: "hub.example.org",
      letsencryptEmail: "ops@example.org",
      dataVolume: { serial: "0123456789abcdef0123456789abcdef0123" },
    });
    expect(Buffer.from(text).toString("base64").length).toBeLessThan(65535);
  });

  it("hashes the admin password with the stack's salt: deterministic, verifiable, never in clear", () => {
    const salt = newPasswordSalt();
    expect(salt).toMatch(/^[./A-Za-z0-9]{22}$/);
    expect(newPasswordSalt()).not.toBe(salt);
    const a = adminPasswordHash("pw-one-is-long", salt);
    expect(a.startsWith(`$2b$12$${salt}`)).toBe(true);
    expect(adminPasswordHash("pw-one-is-long", salt)).toBe(a);
    expect(adminPasswordHash("pw-one-is-long", newPasswordSalt())).not.toBe(a);
    expect(bcrypt.compareSync("pw-one-is-long", a)).toBe(true);
    expect(bcrypt.compareSync("pw-two-is-long", a)).toBe(false);
    expect(renderUserData({ ...BASE, adminPasswordHash: a })).not.toContain("pw-one-is-long");
    expect(() => adminPasswordHash("pw-one-is-long", "jupyterhub-vm/stack")).toThrow("not 22 bcrypt characters");
  });

  it("the first boot sets every hub.authenticator's class, the one the image's config.yaml has settings for", () => {
    // the tljh role bakes each class's settings (and its default class) from this table; the first boot picks one
    const role = yaml.load(fs.readFileSync(path.join(__dirname, "../../ansible/roles/tljh/vars/main.yml"), "utf8")) as {
      tljh_authenticator_classes: Record<string, string>;
    };
    expect(firstBootAuthClasses()).toEqual(role.tljh_authenticator_classes);
    expect(Object.keys(firstBootAuthClasses()).sort()).toEqual([...AUTHENTICATORS].sort());
  });
});
