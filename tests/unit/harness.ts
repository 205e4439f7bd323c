/**
 * Runs the real program (config loading + pipeline) under `pulumi.runtime.setMocks` and records, for every resource
 * registration: type, name, inputs (also in their serialized form, to see secrets), parent and dependencies.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { tempDir } from "../support";

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** The salt the mocked targets/password-salt.ts resource "makes" for a stack (fixed, so runs compare). */
export const MOCK_SALT = (stack: string) =>
  crypto.createHash("sha256").update(stack).digest("base64").replace(/[+=]/g, ".").slice(0, 21) + "u";

export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly inputs: Record<string, any>;
  /** inputs as sent on the wire: secrets are wrapped with SECRET_SIG */
  readonly wire: Record<string, any>;
  readonly parent: string;
  readonly deps: readonly string[];
  readonly options: {
    readonly replaceOnChanges: string[];
    readonly deleteBeforeReplace: boolean;
    readonly retainOnDelete: boolean;
  };
}

export interface Invoke {
  readonly token: string;
  readonly inputs: Record<string, any>;
}

export interface RunResult {
  readonly resources: Registered[];
  readonly invokes: Invoke[];
  readonly outputs: Record<string, unknown>;
  byName(name: string): Registered;
  ofType(type: string): Registered[];
}

export interface RunOptions {
  readonly stack?: string;
  readonly preview?: boolean;
  /** config values by key without the project prefix; objects are JSON-encoded */
  readonly config: Record<string, unknown>;
  /** keys (without prefix) stored as secrets */
  readonly secrets?: readonly string[];
  /**
   * invoke tokens that fail (e.g. "openstack:compute/getFlavor:getFlavor"), with the error text the bridged
   * provider gives (reason on its own line); a value of "" fails with "Your query returned no results…"
   */
  readonly failingInvokes?: readonly string[] | Readonly<Record<string, string>>;
  /**
   * clouds.yaml for the run (OS_CLIENT_CONFIG_FILE): its text, or null for none at all; by default one that
   * holds the config's `openstack.cloud`
   */
  readonly cloudsYaml?: string | null;
}

/** An invoke error as the bridged OpenStack provider words it: the reason is on the second line. */
export function bridgedInvokeError(token: string, reason: string): string {
  return `invocation of ${token} returned an error: invoking ${token}: 1 error occurred:\n\t* ${reason}\n\n`;
}
export const NO_RESULTS = "Your query returned no results. Please change your search criteria and try again.";

/** What the mocked build drivers "produce": deterministic per stage and key. */
export function mockStageResult(
  stage: string,
  key: string,
): { path: string; sha256: string; size: number; [k: string]: unknown } {
  const sha256 = crypto.createHash("sha256").update(`${stage}:${key}`).digest("hex");
  const extra = stage === "local-vm" ? { hubUrl: "http://127.0.0.1:8080/", vmName: "jupyterhub-test" } : {};
  return { path: `/cache/${stage}/${key}/artifact`, sha256, size: 1234, ...extra };
}

export { tempDir } from "../support";

function unwrap(value: any): any {
  if (value && typeof value === "object") {
    if (value[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return unwrap(value.value);
    if (Array.isArray(value)) return value.map(unwrap);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

async function resolveDeep(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    return new Promise((resolve) => (value as pulumi.Output<unknown>).apply((v) => resolve(resolveDeep(v))));
  }
  if (value instanceof Promise) return resolveDeep(await value);
  if (Array.isArray(value)) return Promise.all(value.map(resolveDeep));
  if (value && typeof value === "object") {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveDeep(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/**
 * Runs `main` (which must load the config and build the program) with mocks and the given config. Rejections of
 * `main` propagate, with the resources registered so far attached as `error.registered`.
 */
export async function runProgram(main: () => Promise<Record<string, unknown>>, opts: RunOptions): Promise<RunResult> {
  const resources: Registered[] = [];
  const invokes: Invoke[] = [];
  const failing = new Map<string, string>(
    Array.isArray(opts.failingInvokes)
      ? opts.failingInvokes.map((t) => [t, NO_RESULTS])
      : Object.entries(opts.failingInvokes ?? {}).map(([t, r]) => [t, r || NO_RESULTS]),
  );
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, any> = { ...args.inputs };
        if (args.type === "command:local:Command") {
          const env = args.inputs.environment ?? {};
          state.stdout = JSON.stringify(mockStageResult(env.JHVM_STAGE, env.JHVM_KEY)) + "\n";
          state.stderr = "";
        }
        if (args.type === "openstack:compute/instance:Instance") {
          state.accessIpV4 = "198.51.100.10";
          state.networks = [{ name: "net", port: "" }];
        }
        if (args.type === "openstack:networking/floatingIp:FloatingIp") state.address = "203.0.113.5";
        if (args.type === "openstack:images/image:Image") state.name = args.inputs.name;
        // targets/password-salt.ts: what its create makes (a fixed salt per stack, so runs compare)
        if (args.type === "pulumi-nodejs:dynamic:Resource" && args.name === "admin-password-salt")
          state.salt = MOCK_SALT(opts.stack ?? "test");
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        invokes.push({ token: args.token, inputs: args.inputs });
        const reason = failing.get(args.token);
        if (reason !== undefined) {
          // the SDK reports a failed invoke as `new Error(grpcError.details)`
          const text = bridgedInvokeError(args.token, reason);
          throw Object.assign(new Error(text), { details: text });
        }
        if (args.token === "openstack:networking/getPort:getPort") return { id: "port-id" };
        if (args.token === "openstack:images/getImage:getImage")
          return { id: "existing-image-id", name: args.inputs.name };
        return { id: `${args.inputs.name ?? "x"}-id`, name: args.inputs.name };
      },
    },
    "jupyterhub-vm",
    opts.stack ?? "test",
    opts.preview ?? false,
  );
  // record dependencies and the wire form of inputs
  const monitor = pulumi.runtime.getMonitor() as any;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: any, res: any) => void) =>
    original(req, (err: any, res: any) => {
      if (!err) {
        const wire = req.getObject()?.toJavaScript() ?? {};
        resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          inputs: unwrap(wire),
          wire,
          parent: req.getParent(),
          deps: req.getDependenciesList(),
          options: {
            replaceOnChanges: req.getReplaceonchangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            retainOnDelete: req.getRetainondelete(),
          },
        });
      }
      callback(err, res);
    });

  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config))
    // a key with its namespace ("jupyter_vm:image") is set as given
    config[k.includes(":") ? k : `jupyterhub-vm:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(
    config,
    (opts.secrets ?? []).map((k) => `jupyterhub-vm:${k}`),
  );

  // the preflight reads clouds.yaml as the provider would: give it one naming the stack's cloud
  const cloud = (opts.config.openstack as { cloud?: string } | undefined)?.cloud ?? "";
  const cloudsFile = path.join(tempDir("jhvm-clouds-"), "clouds.yaml");
  const cloudsText =
    opts.cloudsYaml === undefined
      ? `clouds:\n  ${JSON.stringify(cloud || "none")}:\n    auth: {auth_url: "http://127.0.0.1:5000/v3"}\n`
      : opts.cloudsYaml;
  if (cloudsText !== null) fs.writeFileSync(cloudsFile, cloudsText);
  const savedClouds = process.env.OS_CLIENT_CONFIG_FILE;
  process.env.OS_CLIENT_CONFIG_FILE = cloudsFile;

  let outputs: Record<string, unknown> = {};
  try {
    const raw = await main();
    outputs = (await resolveDeep(raw)) as Record<string, unknown>;
  } catch (e) {
    await settle(resources);
    (e as any).registered = resources;
    throw e;
  } finally {
    if (savedClouds === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
    else process.env.OS_CLIENT_CONFIG_FILE = savedClouds;
  }
  await settle(resources);
  const byName = (name: string) => {
    const r = resources.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; have: ${resources.map((x) => x.name).join(", ")}`);
    return r;
  };
  return { resources, invokes, outputs, byName, ofType: (t) => resources.filter((r) => r.type === t) };
}

/** Waits until no new registrations arrive for a few ticks. */
async function settle(resources: readonly Registered[]): Promise<void> {
  let last = -1;
  let stable = 0;
  while (stable < 5) {
    await new Promise((r) => setTimeout(r, 20));
    if (resources.length === last) stable++;
    else {
      stable = 0;
      last = resources.length;
    }
  }
}
