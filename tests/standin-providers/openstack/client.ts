/**
 * A small OpenStack client for the STAND-IN openstack provider (test infrastructure only: ../README.md):
 * clouds.yaml lookup as os-client-config/gophercloud do it, Keystone v3 password auth, endpoints from the token's
 * catalog, JSON requests with Node's fetch, polling helpers.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Ctx, debug } from "../lib/server";
import { Props, sleep } from "../lib/values";

export type Service = "compute" | "image" | "network" | "volume";

export class OpenStackError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
  }
}

export const isNotFound = (e: unknown) => e instanceof OpenStackError && e.status === 404;

interface CloudConfig {
  auth: Record<string, string>;
  region_name?: string;
  interface?: string;
  endpoint_type?: string;
}

function cloudsFiles(): string[] {
  const files: string[] = [];
  if (process.env.OS_CLIENT_CONFIG_FILE) files.push(process.env.OS_CLIENT_CONFIG_FILE);
  files.push(
    path.join(process.cwd(), "clouds.yaml"),
    path.join(os.homedir(), ".config", "openstack", "clouds.yaml"),
    "/etc/openstack/clouds.yaml",
  );
  return files;
}

export function loadCloud(name: string): CloudConfig {
  for (const f of cloudsFiles()) {
    if (!fs.existsSync(f)) continue;
    const doc = yaml.load(fs.readFileSync(f, "utf8")) as { clouds?: Record<string, CloudConfig> } | undefined;
    const c = doc?.clouds?.[name];
    if (c) return c;
  }
  throw new Error(
    `cloud ${JSON.stringify(name)} was not found in any clouds.yaml (looked in: ${cloudsFiles().join(", ")})`,
  );
}

interface Endpoint {
  interface: string;
  region?: string;
  region_id?: string;
  url: string;
}

export class OpenStack {
  private token?: string;
  private expires = 0;
  private catalog: { type: string; endpoints: Endpoint[] }[] = [];
  projectId = "";
  userId = "";
  readonly region: string;
  private readonly iface: string;

  constructor(
    private readonly cloud: CloudConfig,
    region: string | undefined,
    private readonly passwordOverride?: string,
  ) {
    this.region = region || cloud.region_name || "";
    this.iface = (cloud.interface || cloud.endpoint_type || "public").replace(/URL$/, "");
  }

  private async authenticate(): Promise<void> {
    const a = this.cloud.auth ?? {};
    const authUrl = (a.auth_url ?? "").replace(/\/+$/, "");
    if (!authUrl) throw new Error("clouds.yaml: auth.auth_url is missing");
    const base = /\/v3$/.test(authUrl) ? authUrl : `${authUrl}/v3`;
    const userDomain = a.user_domain_id
      ? { id: a.user_domain_id }
      : { name: a.user_domain_name ?? a.domain_name ?? "Default" };
    const projDomain = a.project_domain_id
      ? { id: a.project_domain_id }
      : { name: a.project_domain_name ?? a.domain_name ?? "Default" };
    const user = a.user_id ? { id: a.user_id, password: "" } : { name: a.username, domain: userDomain, password: "" };
    user.password = this.passwordOverride || a.password || "";
    const scope = a.project_id
      ? { project: { id: a.project_id } }
      : a.project_name
        ? { project: { name: a.project_name, domain: projDomain } }
        : undefined;
    const body = { auth: { identity: { methods: ["password"], password: { user } }, ...(scope ? { scope } : {}) } };
    const r = await fetch(`${base}/auth/tokens`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status !== 201)
      throw new OpenStackError(
        `Keystone authentication failed (HTTP ${r.status}): ${text.slice(0, 500)}`,
        r.status,
        text,
      );
    this.token = r.headers.get("x-subject-token") ?? undefined;
    const tok = JSON.parse(text).token;
    this.expires = Date.parse(tok.expires_at) - 60_000;
    this.catalog = tok.catalog ?? [];
    this.projectId = tok.project?.id ?? "";
    this.userId = tok.user?.id ?? "";
  }

  async endpoint(service: Service): Promise<string> {
    await this.ensureToken();
    const types: Record<Service, string[]> = {
      compute: ["compute"],
      image: ["image"],
      network: ["network"],
      volume: ["block-storage", "volumev3", "volume"],
    };
    for (const t of types[service]) {
      const svc = this.catalog.find((s) => s.type === t);
      if (!svc) continue;
      const eps = svc.endpoints.filter((e) => e.interface === this.iface);
      const ep =
        eps.find((e) => !this.region || e.region === this.region || e.region_id === this.region) ??
        (this.region ? undefined : eps[0]);
      if (!ep) continue;
      let url = ep.url.replace(/\/+$/, "");
      if (service === "network" && !/\/v2\.0$/.test(url)) url += "/v2.0";
      if (service === "image" && !/\/v2$/.test(url)) url += "/v2";
      return url;
    }
    throw new Error(
      `No suitable endpoint could be found in the service catalog for ${service} (interface ${this.iface}, region ${JSON.stringify(this.region)})`,
    );
  }

  private async ensureToken() {
    if (!this.token || Date.now() > this.expires) await this.authenticate();
  }

  /**
   * One API call. `ok` lists the accepted statuses (default: any 2xx). Returns the parsed JSON body (or {}).
   */
  async request(
    service: Service,
    method: string,
    p: string,
    opts: {
      json?: unknown;
      body?: unknown;
      headers?: Record<string, string>;
      ok?: number[];
    } = {},
  ): Promise<{ status: number; json: Props; headers: Headers }> {
    for (let attempt = 0; ; attempt++) {
      await this.ensureToken();
      const url = `${await this.endpoint(service)}${p}`;
      const headers: Record<string, string> = {
        "X-Auth-Token": this.token!,
        Accept: "application/json",
        ...opts.headers,
      };
      let body: unknown = opts.body;
      if (opts.json !== undefined) {
        body = JSON.stringify(opts.json);
        headers["Content-Type"] ??= "application/json";
      }
      debug(`${method} ${url}`);
      const init: RequestInit & { duplex?: string } = { method, headers, body: body as RequestInit["body"] };
      if (body && typeof body === "object" && Symbol.asyncIterator in (body as object)) init.duplex = "half";
      let r: Response;
      try {
        r = await fetch(url, init);
      } catch (e) {
        // undici says only "fetch failed": the reason is in `cause` (refused connection, unreadable body, ...)
        const cause = (e as { cause?: Error }).cause;
        throw new Error(`${method} ${url}: ${(e as Error).message}${cause ? `: ${cause.message}` : ""}`);
      }
      const text = await r.text();
      if (r.status === 401 && attempt === 0 && !opts.body) {
        this.token = undefined;
        continue;
      }
      const good = opts.ok ? opts.ok.includes(r.status) : r.status >= 200 && r.status < 300;
      if (!good) {
        throw new OpenStackError(
          `${method} ${url}: HTTP ${r.status}${r.status === 404 ? " (Resource not found)" : ""}: ${text.slice(0, 1000)}`,
          r.status,
          text,
        );
      }
      let json: Props = {};
      if (text && (r.headers.get("content-type") ?? "").includes("json")) json = JSON.parse(text) as Props;
      return { status: r.status, json, headers: r.headers };
    }
  }

  get = (s: Service, p: string) => this.request(s, "GET", p).then((r) => r.json);
  post = (s: Service, p: string, json: unknown, ok?: number[]) =>
    this.request(s, "POST", p, { json, ok }).then((r) => r.json);
  put = (s: Service, p: string, json: unknown) => this.request(s, "PUT", p, { json }).then((r) => r.json);
  /** DELETE; a 404 counts as done */
  async del(s: Service, p: string): Promise<void> {
    try {
      await this.request(s, "DELETE", p);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

/**
 * Polls `probe` until it returns a value other than undefined. Timeout: the operation's customTimeouts if set,
 * else `defaultSec`.
 */
export async function waitFor<T>(
  ctx: Ctx,
  what: string,
  defaultSec: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 1000,
): Promise<T> {
  const limit = (ctx.timeoutSec > 0 ? ctx.timeoutSec : defaultSec) * 1000;
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (ctx.cancelled()) throw new Error(`cancelled while waiting for ${what}`);
    if (Date.now() - t0 > limit) throw new Error(`timeout while waiting for ${what} (${Math.round(limit / 1000)} s)`);
    await sleep(Math.min(intervalMs * (1 + Math.floor((Date.now() - t0) / 20_000)), 5000));
  }
}
