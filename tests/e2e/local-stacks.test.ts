/**
 * Build once, deploy many, with the real engine: two `target: local` stacks with the same build inputs share one
 * cache. The whole local pipeline runs (ISO download from a file:// URL and verification → base box → final image
 * (real qemu-img export and the real hygiene gate) → a real QEMU VM per stack); only Packer is a stand-in
 * (testbed/standin-packer: records its calls, writes a small clean disk; no OS install can run here). Checks: the second stack's stages
 * are cache hits (Packer called only by the first), each stack gets its own VM on 127.0.0.1, and `pulumi destroy`
 * leaves no VM process or VM directory while the shared cache stays.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { engineEnv } from "./engine";
import { REPO, qemuProcessesIn, tempDir } from "../support";

// a and b: build once, deploy twice; nohub: the same image, but `up` waits for a hub that the disk does not have
const STANDIN_PACKER = path.join(REPO, "testbed/standin-packer/packer");
const STACKS = ["e2e-local-a", "e2e-local-b", "e2e-local-nohub"];
const PORTS = [18080 + (process.pid % 500), 18580 + (process.pid % 500), 19080 + (process.pid % 500)];

jest.setTimeout(20 * 60_000);

let work: string;
let env: NodeJS.ProcessEnv;

function pulumi(stack: string, args: string[], allowFail = false): SpawnSyncReturns<string> {
  const r = spawnSync("pulumi", [...args, "--stack", stack, "--non-interactive"], {
    cwd: REPO,
    env,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0 && !allowFail)
    throw new Error(`pulumi ${args.join(" ")} (${stack}) failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

const packerCalls = () =>
  fs.existsSync(path.join(work, "packer-calls"))
    ? fs.readFileSync(path.join(work, "packer-calls"), "utf8").trim().split("\n")
    : [];

beforeAll(() => {
  work = tempDir("jhvm-local-");

  const iso = path.join(work, "installer.iso");
  fs.writeFileSync(iso, crypto.randomBytes(1 << 20));
  const isoSha = crypto.createHash("sha256").update(fs.readFileSync(iso)).digest("hex");

  // nohub runs the local-VM test image: a Debian that boots (its console shows it) and serves a test page, no hub
  const img = spawnSync("bash", [path.join(REPO, "tests/images/local-vm-test-image.sh")], { encoding: "utf8" });
  if (img.status !== 0) throw new Error(`local-vm-test-image.sh failed:\n${img.stderr}`);
  const noHubImage = img.stdout.trim().split("\n").pop() as string;

  // the stand-in Packer (testbed/standin-packer) records its calls in work/packer-calls
  env = engineEnv(work, { JHVM_PACKER: STANDIN_PACKER, JHVM_STANDIN_PACKER_DIR: work });
  STACKS.forEach((stack, i) => {
    const config = {
      "jupyterhub-vm:target": "local",
      "jupyterhub-vm:buildDir": path.join(work, `build-${stack}`),
      "jupyterhub-vm:cacheDir": path.join(work, "cache"),
      "jupyterhub-vm:image": stack.endsWith("nohub")
        ? { source: "file", file: noHubImage, accelerator: "tcg" }
        : { os: "debian-12", accelerator: "tcg", isoUrl: `file://${iso}`, isoSha256: isoSha, diskSizeGb: 8 },
      // the stand-in Packer's disk boots no OS: no hub to wait for (nohub waits for one, and must fail)
      "jupyterhub-vm:local": {
        provider: "qemu",
        httpPort: PORTS[i],
        memoryMb: 512,
        cpus: 1,
        ...(stack.endsWith("nohub") ? { waitForHub: true, readyTimeoutSeconds: 30 } : { waitForHub: false }),
      },
    };
    fs.writeFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), yaml.dump({ config }));
    pulumi(stack, ["stack", "init"]);
  });
});

afterAll(() => {
  if (!env) return;
  for (const stack of STACKS) {
    pulumi(stack, ["destroy", "--yes", "--skip-preview"], true);
    pulumi(stack, ["stack", "rm", "--yes", "--force"], true);
    fs.rmSync(path.join(REPO, `Pulumi.${stack}.yaml`), { force: true });
  }
  for (const pid of qemuProcessesIn(work)) process.kill(pid, "SIGKILL");
});

describe("two local stacks with the same build inputs", () => {
  it("the first stack builds every stage and starts its VM", () => {
    pulumi(STACKS[0], ["up", "--yes", "--skip-preview"]);
    expect(packerCalls()).toEqual(["qemu.base base-debian-12", "final final"]);
    const out = JSON.parse(pulumi(STACKS[0], ["stack", "output", "--json"]).stdout);
    expect(out.hubUrl).toBe(`http://127.0.0.1:${PORTS[0]}/`);
    expect(qemuProcessesIn(path.join(work, `build-${STACKS[0]}`))).toHaveLength(1);
  });

  it("the second stack reuses every artifact: no build stage runs again", () => {
    pulumi(STACKS[1], ["up", "--yes", "--skip-preview"]);
    expect(packerCalls()).toHaveLength(2);
    for (const stage of ["iso-image", "base-box", "final-image"]) {
      const log = fs.readFileSync(path.join(work, `build-${STACKS[1]}`, "logs", `${stage}.log`), "utf8");
      expect(log).toContain("cache hit");
    }
    const a = JSON.parse(pulumi(STACKS[0], ["stack", "output", "--json"]).stdout);
    const b = JSON.parse(pulumi(STACKS[1], ["stack", "output", "--json"]).stdout);
    expect(b.imageSha256).toBe(a.imageSha256);
    expect(b.imagePath).toBe(a.imagePath);
    expect(b.hubUrl).toBe(`http://127.0.0.1:${PORTS[1]}/`);
    expect(qemuProcessesIn(path.join(work, `build-${STACKS[1]}`))).toHaveLength(1);
  });

  it("a second up of a stack changes nothing", () => {
    const r = pulumi(STACKS[1], ["preview", "--expect-no-changes"]);
    expect(r.status).toBe(0);
  });

  it("waiting for a hub that never answers fails `up` with the console's tail, and leaves no VM", () => {
    const stack = STACKS[2];
    const r = pulumi(stack, ["up", "--yes", "--skip-preview"], true);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status).not.toBe(0);
    expect(out).toContain(`the hub did not answer on http://127.0.0.1:${PORTS[2]}/hub/api within 30 s`);
    const kept = path.join(work, `build-${stack}`, "logs", "local-vm-console.log");
    expect(out).toContain(`The VM's console is in ${kept}; its last lines:`);
    // the console's own text (the guest's boot messages) is in the error
    const lines = fs
      .readFileSync(kept, "utf8")
      .split("\n")
      .slice(-30)
      .map((l) => l.trim())
      .filter((l) => /^[\x20-\x7e]{12,}$/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => out.includes(l)).length).toBeGreaterThan(0);
    expect(qemuProcessesIn(path.join(work, `build-${stack}`))).toEqual([]);
    expect(fs.readdirSync(path.join(work, `build-${stack}`, "local-vm"))).toEqual([]);
    // no hubUrl: the VM never became an output
    const outputs = JSON.parse(pulumi(stack, ["stack", "output", "--json"]).stdout);
    expect(outputs.hubUrl).toBeUndefined();
  });

  it("destroy removes each stack's VM and VM directory, and keeps the shared cache", () => {
    for (const stack of STACKS) {
      pulumi(stack, ["destroy", "--yes", "--skip-preview"]);
      expect(qemuProcessesIn(path.join(work, `build-${stack}`))).toEqual([]);
      expect(
        fs.existsSync(path.join(work, `build-${stack}`, "local-vm"))
          ? fs.readdirSync(path.join(work, `build-${stack}`, "local-vm"))
          : [],
      ).toEqual([]);
    }
    const entries = ["iso-image", "base-box", "final-image"].map((s) =>
      fs.readdirSync(path.join(work, "cache", s)).filter((n) => /^[0-9a-f]{64}$/.test(n)),
    );
    expect(entries.map((e) => e.length)).toEqual([1, 1, 1]);
  });
});
