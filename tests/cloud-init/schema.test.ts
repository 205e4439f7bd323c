/**
 * The rendered user-data against the real cloud-init (Debian's 22.4): `cloud-init schema` must accept every
 * variant the program renders, and must reject a broken one (so the check itself is shown to work). The first-boot
 * script is checked with `bash -n`.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { FIRST_BOOT_SCRIPT, adminPasswordHash, renderUserData, UserDataArgs } from "../../cloud-init/render";
import { tempDir } from "../support";

const CLOUD_INIT = "/usr/bin/cloud-init";

const BASE: UserDataArgs = {
  hostname: "jupyterhub",
  dnsName: "",
  letsencryptEmail: "",
  baseUrl: "/",
  authenticator: "firstuse",
  adminUser: "admin",
  adminPasswordHash: adminPasswordHash("correct-horse-battery-staple", "abcdefghijklmnopqrstuu"),
};

function schema(text: string): { status: number | null; out: string } {
  const dir = tempDir("jhvm-ud-");
  const file = path.join(dir, "user-data");
  fs.writeFileSync(file, text);
  // Debian's cloud-init runs on Debian's python (the pyenv python on PATH lacks its libraries)
  const r = spawnSync("/usr/bin/python3", [CLOUD_INIT, "schema", "--config-file", file], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("cloud-init schema", () => {
  beforeAll(() => {
    if (!fs.existsSync(CLOUD_INIT))
      throw new Error("cloud-init is not installed: apt-get install cloud-init (.ci/run does)");
  });

  it.each<[string, Partial<UserDataArgs>]>([
    ["plain", {}],
    ["https", { dnsName: "hub.example.org", letsencryptEmail: "ops@example.org" }],
    ["data volume", { dataVolume: { serial: "0123456789abcdef0123456789abcdef0123" } }],
    ["native authenticator, base url", { authenticator: "native", baseUrl: "/hub/" }],
    ["local data share", { localDataShare: true }],
  ])("accepts the %s variant", (_name, extra) => {
    const r = schema(renderUserData({ ...BASE, ...extra }));
    expect(r.out).toMatch(/Valid cloud-config/);
    expect(r.status).toBe(0);
  });

  it("rejects a broken cloud-config (the check can fail)", () => {
    const broken = renderUserData(BASE).replace("preserve_hostname: false", "preserve_hostname: maybe");
    const r = schema(broken);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/preserve_hostname/);
  });

  it("ships a first-boot script that bash parses", () => {
    execFileSync("bash", ["-n", FIRST_BOOT_SCRIPT]);
  });
});
