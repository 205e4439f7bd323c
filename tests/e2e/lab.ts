/**
 * What the lab end-to-end tests share: the test OpenStack (testbed/openstack-lab) seen through its APIs (lab_inspect.py), the
 * lab's own services for fault injection (testbed/openstack-lab/service.sh), and a Pulumi stack of this program driven by the
 * real CLI, synchronously or in the background.
 */
import { spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { REPO } from "./engine";

export const LAB = process.env.LAB ?? "/tmp/jhvm-lab";

export interface LabState {
  images: any[];
  servers: any[];
  security_groups: any[];
  floating_ips: any[];
  keypairs: any[];
  volumes: any[];
  ports: any[];
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; throws with the output's tail when it fails, unless allowFail. */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { input?: string; allowFail?: boolean } = {},
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: REPO, env, input: opts.input, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`,
    );
  }
  return r;
}

export function inspect(env: NodeJS.ProcessEnv): LabState {
  return JSON.parse(run("/usr/bin/python3", [path.join(__dirname, "lab_inspect.py")], env).stdout) as LabState;
}

/** Ports of servers (Nova's), and ports nobody owns: what a server leaves behind when it is not cleaned up. */
const serverPort = (p: { device_owner: string }) => p.device_owner === "" || p.device_owner.startsWith("compute:");

/** Our resources only: everything the demo project holds except Neutron's default group and the router's ports. */
export function ours(s: LabState) {
  return {
    images: s.images.length,
    servers: s.servers.length,
    ports: s.ports.filter(serverPort).length,
    securityGroups: s.security_groups.filter((g) => g.name !== "default").length,
    floatingIps: s.floating_ips.length,
    keypairs: s.keypairs.length,
    volumes: s.volumes.length,
  };
}

export const NOTHING = { images: 0, servers: 0, ports: 0, securityGroups: 0, floatingIps: 0, keypairs: 0, volumes: 0 };

/** stop | kill | start | restart one lab service (glance-api, nova-api, ...), see testbed/openstack-lab/service.sh */
export function labService(action: "stop" | "kill" | "start" | "restart", name: string, env: NodeJS.ProcessEnv) {
  return run("bash", [path.join(REPO, "testbed/openstack-lab/service.sh"), action, name], env);
}

/** Polls `check` every 100 ms until it returns a value, or fails after `seconds`. */
export async function until<T>(what: string, seconds: number, check: () => T | undefined): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `act` while a background command runs, then waits for the command; its result (also when `act` fails). */
export async function during(bg: { done: Promise<Run> }, act: () => Promise<void>): Promise<Run> {
  try {
    await act();
  } catch (e) {
    await bg.done;
    throw e;
  }
  return bg.done;
}

/** A stack of this program in the repo directory, driven by the real CLI with `env`. */
export class Stack {
  constructor(
    readonly name: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  pulumi(args: string[], opts: { input?: string; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
    return run("pulumi", [...args, "--stack", this.name, "--non-interactive"], this.env, opts);
  }

  /** `pulumi <args>` in the background: resolves with its status and output when it ends. */
  pulumiAsync(args: string[]): { done: Promise<Run>; output: () => string } {
    const child = spawn("pulumi", [...args, "--stack", this.name, "--non-interactive"], {
      cwd: REPO,
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const done = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
    return { done, output: () => stdout + stderr };
  }

  /** The steps a preview would take, without the unchanged ones. */
  previewSteps(): { op: string; urn: string }[] {
    const out = JSON.parse(this.pulumi(["preview", "--json", "--diff"]).stdout) as {
      steps?: { op: string; urn: string }[];
    };
    return (out.steps ?? []).filter((s) => s.op !== "same");
  }

  get configFile(): string {
    return path.join(REPO, `Pulumi.${this.name}.yaml`);
  }

  /** Rewrites the stack's config file, keeping what `pulumi` put there (encryption salt, secure values). */
  writeConfig(config: Record<string, unknown>) {
    const old = fs.existsSync(this.configFile)
      ? ((yaml.load(fs.readFileSync(this.configFile, "utf8")) as any) ?? {})
      : {};
    const kept = Object.fromEntries(
      Object.entries<any>(old.config ?? {}).filter(([, v]) => v && typeof v === "object" && "secure" in v),
    );
    const doc = {
      ...old,
      config: { ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`jupyterhub-vm:${k}`, v])), ...kept },
    };
    fs.writeFileSync(this.configFile, yaml.dump(doc));
  }

  /** destroy (if anything is left), remove the stack and its config file; never throws */
  remove() {
    this.pulumi(["destroy", "--yes", "--skip-preview"], { allowFail: true });
    this.pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true });
    fs.rmSync(this.configFile, { force: true });
  }
}

/** resource name of an URN */
export const nameOf = (urn: string) => urn.split("::").pop()!;

/** the operations per resource name of a preview */
export function opsByName(steps: { op: string; urn: string }[]): Map<string, string[]> {
  const ops = new Map<string, string[]>();
  for (const s of steps) ops.set(nameOf(s.urn), [...(ops.get(nameOf(s.urn)) ?? []), s.op]);
  return ops;
}
