/**
 * What the hub tests check through a hub's login form and API (tests/hub/hub-boot.test.ts, tests/e2e/local-hub.test.ts).
 */
import { Browser } from "./browser";

/** The login page's error text, if any (JupyterHub renders the authenticator's refusal in the form). */
export const loginError = (body: string) => /<p class="login_error">\s*([^<]*?)\s*<\/p>/.exec(body)?.[1] ?? "";

/** How each login form says no: JupyterHub's own (403) or NativeAuthenticator's (its page again, 200). */
export const REFUSAL: Record<string, [number, string]> = {
  jupyterhub: [403, "Invalid username or password"],
  native: [200, "Invalid username or password."],
  "native-unapproved": [200, "User mallory has not been authorized by an administrator yet."],
};

/** A login refused by the authenticator (its message in the form), not by anything else (a bad _xsrf is a 403 too). */
export async function expectLoginRefused(hubUrl: string, user: string, password: string, form = "jupyterhub") {
  const url = new URL(hubUrl);
  const page = await new Browser(url.origin).login(url.pathname, user, password);
  expect([user, page.status, loginError(page.body)]).toEqual([user, ...REFUSAL[form]]);
}

/** The admin logged in with `password`: the browser holds its session. */
export async function loggedInAdmin(hubUrl: string, password: string): Promise<Browser> {
  const url = new URL(hubUrl);
  const b = new Browser(url.origin);
  const page = await b.login(url.pathname, "admin", password);
  if (page.status !== 302)
    throw new Error(`admin login: HTTP ${page.status} "${loginError(page.body)}"\n${page.body.slice(0, 3000)}`);
  // to the spawn page, or to the server once it runs
  expect(page.location).toMatch(/\/hub\/(spawn|home)?$|\/user\/admin\/$/);
  const me = await b.api<{ name: string; admin: boolean }>(url.pathname, "user");
  expect(me).toEqual({ status: 200, body: expect.objectContaining({ name: "admin", admin: true }) });
  return b;
}

/**
 * Starts the admin's server and waits until the hub reports it ready. Under TCG a first start can still miss
 * JupyterHub's timeouts: the spawn is asked again, at most 3 times, as a user would press "Start My Server" again.
 * Returns the states seen (for the log); throws when it never became ready.
 */
export async function startAdminServer(b: Browser, base: string, timeoutMs = 12 * 60_000): Promise<string[]> {
  const t0 = Date.now();
  const states: string[] = [];
  let ready = false;
  let spawns = 0;
  let last = "";
  while (!ready && Date.now() - t0 < timeoutMs) {
    const u = await b.api<{ servers?: Record<string, { ready: boolean; pending: string | null }> }>(
      base,
      "users/admin",
    );
    const server = u.body?.servers?.[""];
    ready = Boolean(server?.ready);
    const state = ready ? "ready" : server ? `pending ${server.pending}` : "no server";
    if (state !== last) states.push(`${((Date.now() - t0) / 1000).toFixed(0)} s: ${state}`);
    last = state;
    if (!server && spawns < 3) {
      spawns++;
      const spawn = await b.request(`${base}hub/spawn`);
      states.push(`spawn request ${spawns}: HTTP ${spawn.status} ${spawn.location}`);
    }
    if (!ready) await new Promise((r) => setTimeout(r, 5000));
  }
  if (!ready) throw new Error(`the admin's server did not start: ${states.join("; ")}`);
  return states;
}
