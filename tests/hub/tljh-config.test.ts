// The hub settings we document (README "What the hub gets") checked against TLJH 2.0.0's own code, without booting:
// for each row, the stack settings go through the program's Ansible variable table (stages/final-image/ansible-vars.ts)
// and the real `tljh` role (ansible-playbook, local connection, --tags tljh, into a scratch prefix whose hub/ is
// TLJH's hub environment from testbed/hub-image/hub-env.sh), which renders config.yaml and runs its build-time check
// (ansible/roles/tljh/files/check-config.py: TLJH's schema, then TLJH's configurer); then the first boot's own
// authenticator step (cloud-init/first-boot.sh: `tljh-config set auth.type <class>` for hub.authenticator, the class
// read from first-boot.sh's mapping) is run with TLJH's tljh-config, and the JupyterHub settings the check prints
// are compared with the row. A config.yaml TLJH refuses fails that play (the image build), not a first boot. Needs
// ansible-playbook, python3-venv, PyPI (first run of hub-env.sh) and ../shared/vendor.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { KeySpec, SCHEMA } from "../../config/schema";
import type { HubConfig, ImageConfig } from "../../config";
import { ansibleVars } from "../../stages/final-image/ansible-vars";
import { REPO, firstBootAuthClasses, tempDir } from "../support";

jest.setTimeout(10 * 60_000);

const README = fs.readFileSync(path.join(REPO, "README.md"), "utf8");

/** The README's rows: stack settings → documented JupyterHub settings, each a `key: value` YAML item. */
function rows(): { stack: Record<string, unknown>; hub: [string, unknown][] }[] {
  const m = /<!-- hub-settings:start -->([\s\S]*?)<!-- hub-settings:end -->/.exec(README);
  if (!m) throw new Error("README.md has no hub-settings table");
  const items = (cell: string) =>
    [...cell.matchAll(/`([^`]+)`/g)].map((x) => {
      const i = x[1].indexOf(": ");
      return [x[1].slice(0, i), yaml.load(x[1].slice(i + 2))] as [string, unknown];
    });
  return m[1]
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .map((l) => {
      const [, stack, hub] = l.split("|").map((c) => c.trim());
      return { stack: Object.fromEntries(items(stack)), hub: items(hub) };
    });
}

function defaults(section: KeySpec["section"]): Record<string, unknown> {
  return Object.fromEntries(SCHEMA.filter((k) => k.section === section).map((k) => [k.name, k.default]));
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
}

let hubEnv = "";
let work = "";

beforeAll(() => {
  const env = sh("bash", [path.join(REPO, "testbed/hub-image/hub-env.sh")]);
  if (env.code !== 0) throw new Error(`hub-env.sh failed:\n${env.out}`);
  hubEnv = env.stdout.trim().split("\n").pop() as string;
  work = tempDir("jhvm-tljh-config-");
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Renders config.yaml with the real role into <work>/<name>/opt/tljh; returns the play's result and the file. */
function renderWithRole(name: string, vars: Record<string, unknown>) {
  const prefix = path.join(work, name, "opt", "tljh");
  fs.mkdirSync(prefix, { recursive: true });
  fs.symlinkSync(hubEnv, path.join(prefix, "hub"));
  const varsFile = path.join(work, `${name}.json`);
  fs.writeFileSync(
    varsFile,
    JSON.stringify({ ...vars, tljh_prefix: prefix, tljh_install: false, tljh_firstboot_secrets: false }),
  );
  const play = sh(
    "ansible-playbook",
    [
      path.join(REPO, "ansible/playbook.yml"),
      "-i",
      "localhost,",
      "-c",
      "local",
      "--tags",
      "tljh",
      "-e",
      `@${varsFile}`,
    ],
    { ANSIBLE_CONFIG: path.join(REPO, "ansible/ansible.cfg"), ANSIBLE_NOCOLOR: "1" },
  );
  return { play, config: path.join(prefix, "config", "config.yaml") };
}

describe("TLJH 2.0.0 applies our config.yaml as the README documents", () => {
  const table = rows();

  it("the README has a row for every authenticator", () => {
    expect(table.map((r) => r.stack["hub.authenticator"]).sort()).toEqual(["firstuse", "native", "pam", "tmp"]);
  });

  it.each(table.map((r, i) => [String(r.stack["hub.authenticator"]), i] as const))("%s", (_name, i) => {
    const row = table[i];
    const hub = { ...defaults("hub") } as Record<string, unknown>;
    for (const [k, v] of Object.entries(row.stack)) hub[k.replace(/^hub\./, "")] = v;
    const vars = ansibleVars({ image: defaults("image") as unknown as ImageConfig, hub: hub as unknown as HubConfig });
    const { play, config } = renderWithRole(`row${i}`, vars);
    if (play.code !== 0) throw new Error(`the tljh role failed:\n${play.out.slice(-4000)}`);
    // the first boot's authenticator step, as first-boot.sh runs it (TLJH's tljh-config validates the result)
    const authClass = firstBootAuthClasses()[String(hub.authenticator)];
    expect(authClass).toBeDefined();
    const set = sh(path.join(hubEnv, "bin", "tljh-config"), ["--config-path", config, "set", "auth.type", authClass], {
      TLJH_INSTALL_PREFIX: path.dirname(path.dirname(config)),
    });
    expect([set.code, set.out]).toEqual([0, expect.any(String)]);
    // the role ran TLJH's check itself (the build-time check), and it passed
    expect(play.out).toMatch(
      /TASK \[tljh : TLJH \| check config.yaml with TLJH's own schema and configurer\] \**\n(.*\d\d:\d\d:\d\d.*\n)?ok: \[localhost\]/,
    );

    const check = sh(path.join(hubEnv, "bin", "python3"), [
      path.join(REPO, "ansible/roles/tljh/files/check-config.py"),
      config,
    ]);
    expect(check.code).toBe(0);
    const settings = JSON.parse(check.stdout) as Record<string, unknown>;
    for (const [key, want] of row.hub) {
      if (key === "idle culler") {
        const services = settings["JupyterHub.services"] as { name: string; command: string[] }[];
        const cull = services.find((s) => s.name === "cull-idle");
        expect(cull?.command).toContain(String(want));
        expect(cull?.command.slice(1, 3)).toEqual(["-m", "jupyterhub_idle_culler"]);
      } else {
        expect([key, settings[key]]).toEqual([key, Array.isArray(want) ? [...want].sort() : want]);
      }
    }
  });

  it("a config.yaml TLJH's schema refuses fails the build (the role's check), naming TLJH's reason", () => {
    const vars = {
      ...ansibleVars({
        image: defaults("image") as unknown as ImageConfig,
        hub: defaults("hub") as unknown as HubConfig,
      }),
      // what a user might put into tljh_extra_config: TLJH wants a list of admins
      tljh_extra_config: { users: { admin: "alice" } },
    };
    const { play } = renderWithRole("refused", vars);
    expect(play.code).not.toBe(0);
    expect(play.out).toContain("TLJH's schema rejects it: 'alice' is not of type 'array' (at users.admin)");
  });
});
