/**
 * What the hub tests check through a hub's login form and API (tests/hub/, tests/e2e/local-hub.test.ts).
 */
import { randomUUID } from "crypto";
import WebSocket from "ws";
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
 * Starts the server of `user` (logged in in `b`) and waits until the hub reports it ready. Under TCG a first start
 * can still miss JupyterHub's timeouts: the spawn is asked again, at most 3 times, as a user would press "Start My
 * Server" again. Returns the states seen (for the log); throws when it never became ready.
 */
export async function startServer(b: Browser, base: string, user: string, timeoutMs = 12 * 60_000): Promise<string[]> {
  const t0 = Date.now();
  const states: string[] = [];
  let ready = false;
  let spawns = 0;
  let last = "";
  while (!ready && Date.now() - t0 < timeoutMs) {
    const u = await b.api<{ servers?: Record<string, { ready: boolean; pending: string | null }> }>(
      base,
      `users/${user}`,
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
  if (!ready) throw new Error(`${user}'s server did not start: ${states.join("; ")}`);
  return states;
}

/**
 * Runs Python in a new kernel of a user's server (`serverPath`, e.g. /user/admin/), as JupyterLab does: the kernels
 * REST API, then an execute_request on the kernel's WebSocket (the server's default JSON protocol), with the
 * browser's cookies. Returns what the code printed; throws with the traceback on an error. The kernel is removed.
 */
export async function runPython(b: Browser, serverPath: string, code: string, timeoutMs = 5 * 60_000): Promise<string> {
  const created = await b.request(`${serverPath}api/kernels`, { jsonBody: { name: "python3" } });
  if (created.status !== 201)
    throw new Error(`starting a kernel: HTTP ${created.status} ${created.body.slice(0, 500)}`);
  const kernel = (JSON.parse(created.body) as { id: string }).id;
  try {
    const ws = new WebSocket(`${b.origin.replace(/^http/, "ws")}${serverPath}api/kernels/${kernel}/channels`, {
      headers: { cookie: b.cookieHeader() },
    });
    const msgId = randomUUID();
    return await new Promise<string>((resolve, reject) => {
      let out = "";
      let error = "";
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no reply from the kernel in ${timeoutMs / 1000} s; printed so far: ${out}`));
      }, timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        ws.close();
        f();
      };
      ws.on("error", (e) => done(() => reject(e)));
      ws.on("open", () =>
        ws.send(
          JSON.stringify({
            channel: "shell",
            header: {
              msg_id: msgId,
              msg_type: "execute_request",
              session: randomUUID(),
              username: "",
              version: "5.3",
              date: new Date().toISOString(),
            },
            parent_header: {},
            metadata: {},
            content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false },
          }),
        ),
      );
      ws.on("message", (data) => {
        const msg = JSON.parse(data.toString()) as {
          channel: string;
          msg_type: string;
          parent_header: { msg_id?: string };
          content: {
            name?: string;
            text?: string;
            execution_state?: string;
            ename?: string;
            evalue?: string;
            traceback?: string[];
          };
        };
        if (msg.parent_header.msg_id !== msgId) return;
        const c = msg.content;
        // outputs come on iopub; its "idle" status for this request comes after all of them
        if (msg.msg_type === "stream" && c.name === "stdout") out += c.text ?? "";
        if (msg.msg_type === "error") error = `${c.ename}: ${c.evalue}\n${(c.traceback ?? []).join("\n")}`;
        if (msg.msg_type === "status" && c.execution_state === "idle")
          done(() => (error ? reject(new Error(error)) : resolve(out)));
      });
    });
  } finally {
    await b.request(`${serverPath}api/kernels/${kernel}`, { method: "DELETE" });
  }
}
