/**
 * A minimal browser for the hub tests: a cookie jar (one host, paths ignored), form posts with JupyterHub's `_xsrf`,
 * redirects followed by hand (each hop visible to the test). Talks only to the 127.0.0.1 forward of a test VM.
 * Node's http, not fetch: fetch sends `Sec-Fetch-Mode: cors`, and JupyterHub 5 sets no `_xsrf` cookie for such
 * (non-navigation) requests, so a fetch-based login can never succeed.
 */
import * as http from "http";
export interface Page {
  readonly status: number;
  readonly url: string;
  readonly location: string;
  readonly body: string;
}

export class Browser {
  private readonly jar = new Map<string, string>();

  constructor(readonly origin: string) {}

  cookie(name: string): string | undefined {
    return this.jar.get(name);
  }

  /** The Cookie header this browser sends (for a WebSocket opened on its behalf). */
  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private remember(setCookie: string[] | undefined): void {
    for (const c of setCookie ?? []) {
      const [pair, ...attrs] = c.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=.*1970/i.test(a) || /^\s*max-age=0/i.test(a));
      if (expired || value === '""' || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** One request; no redirect followed. */
  async request(
    path: string,
    init: { method?: string; form?: Record<string, string>; json?: boolean; jsonBody?: unknown } = {},
  ): Promise<Page> {
    const url = path.startsWith("http") ? path : `${this.origin}${path}`;
    const headers: Record<string, string> = {};
    if (this.jar.size) headers.cookie = this.cookieHeader();
    const xsrf = this.jar.get("_xsrf");
    if (xsrf) headers["x-xsrftoken"] = xsrf;
    let body: string | undefined;
    if (init.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams({ ...init.form, ...(xsrf ? { _xsrf: xsrf } : {}) }).toString();
    }
    if (init.jsonBody !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.jsonBody);
    }
    if (init.json) headers.accept = "application/json";
    if (body) headers["content-length"] = String(Buffer.byteLength(body));
    return new Promise<Page>((resolve, reject) => {
      const req = http.request(
        url,
        // a new connection per request: a kept-alive one can outlive the VM it went to (a replaced server's)
        { method: init.method ?? (body ? "POST" : "GET"), headers, timeout: 60_000, agent: false },
        (res) => {
          this.remember(res.headers["set-cookie"]);
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, url, location: res.headers.location ?? "", body: text }),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** GET, following redirects (at most 10) on the same origin; returns the last page and the hops. */
  async follow(path: string): Promise<Page & { hops: string[] }> {
    const hops: string[] = [];
    let page = await this.request(path);
    while (page.status >= 300 && page.status < 400 && page.location && hops.length < 10) {
      const next = new URL(page.location, page.url).toString();
      hops.push(next);
      page = await this.request(next);
    }
    return { ...page, hops };
  }

  /** JupyterHub's login form: GET /hub/login for the _xsrf cookie, then POST the form. */
  async login(base: string, username: string, password: string): Promise<Page> {
    await this.request(`${base}hub/login`);
    return this.request(`${base}hub/login`, { form: { username, password } });
  }

  /** GET a hub API path as JSON (cookie auth with the _xsrf header, as the hub's own pages do). */
  async api<T>(base: string, apiPath: string): Promise<{ status: number; body: T }> {
    const page = await this.request(`${base}hub/api/${apiPath}`, { json: true });
    return { status: page.status, body: (page.body ? JSON.parse(page.body) : undefined) as T };
  }
}
