/**
 * What `pulumi up` re-runs, and how long it takes when nothing changed: one `target: openstack` stack of the whole
 * program (ISO → base box → final image → Glance image → server) against the test OpenStack (testbed/openstack-lab),
 * with the real engine and the real OpenStack provider. One command from a clean clone (as root, after `.ci/run`'s
 * tool builds):
 *
 *   npx tsx bench/up-stages.ts [--runs 3]
 *
 * Cases, each run --runs times: `pulumi preview` of the fresh stack and of the deployed one; `pulumi up` with no
 * change; `up` after one Ansible variable changed (`hub.idleTimeoutSeconds`, a new value each run); `up` after a
 * server-only key changed (`openstack.publicKey`, a new key each run). For each: wall time and the resources the engine did
 * not leave `same` (from its event log): which build stages ran and what else changed. Stand-ins, because no OS
 * installer can finish here (shared/notes/image-tools.md): Packer is testbed/standin-packer (it records its calls and
 * writes a small clean disk holding the sha256 of its Ansible variables; so the ISO is a 1 MiB file:// download, and
 * the export and the hygiene check run for real on that disk);
 * `pulumi-resource-command` is testbed/standin-command-provider (pulumi-command's module is not served here). So the
 * times are the program's and the engine's own, not a real build's: what a user waits for on top of the tools.
 * Never fails on timing; exits 1 when a case ran other stages than the README promises.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
  REPO,
  arg,
  benchStack,
  engineEnv,
  ensureLab,
  labOpenstack,
  machineLine,
  median,
  publicKey,
  scratch,
  table,
} from "./lib";

const RUNS = Number(arg("runs", "3"));
const STACK = "bench-up-stages";
const STAGES = ["iso-image", "base-box", "final-image"];
/** The stage commands' resource names (each stage component.ts) and their stages. */
const STAGE_OF: Record<string, string> = {
  "iso-fetch": "iso-image",
  "base-packer": "base-box",
  "final-provision": "final-image",
};

interface Changes {
  stages: string[];
  others: string[];
}

/** The resources an engine event log shows as created, updated, replaced or deleted (not `same`). */
function changes(events: string): Changes {
  const ran = new Set<string>();
  for (const line of fs.readFileSync(events, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { resOutputsEvent?: { metadata: { urn: string; type: string; op: string } } };
    const m = e.resOutputsEvent?.metadata;
    if (!m || m.op === "same" || m.type.startsWith("jupyterhub-vm:") || m.type.startsWith("pulumi:")) continue;
    ran.add(`${m.type}|${m.urn.split("::").pop()}`);
  }
  const stages: string[] = [];
  const others: string[] = [];
  for (const r of ran) {
    const [type, name] = r.split("|");
    const stage = STAGE_OF[name];
    if (type === "command:local:Command" && stage) stages.push(stage);
    else others.push(name);
  }
  return { stages: [...new Set(stages)].sort((a, b) => STAGES.indexOf(a) - STAGES.indexOf(b)), others: others.sort() };
}

function main(): number {
  const work = scratch("jhvm-bench-up-");
  const env = {
    ...engineEnv(work.dir, { standinCommand: true }),
    JHVM_PACKER: path.join(REPO, "testbed/standin-packer/packer"),
    JHVM_STANDIN_PACKER_DIR: work.dir,
  };
  const lab = ensureLab();
  const iso = path.join(work.dir, "installer.iso");
  fs.writeFileSync(iso, crypto.randomBytes(1 << 20));
  const isoSha = crypto.createHash("sha256").update(fs.readFileSync(iso)).digest("hex");
  const config = {
    "jupyterhub-vm:target": "openstack",
    "jupyterhub-vm:buildDir": path.join(work.dir, "build"),
    "jupyterhub-vm:cacheDir": path.join(work.dir, "cache"),
    "jupyterhub-vm:image": {
      os: "debian-12",
      accelerator: "tcg",
      isoUrl: `file://${iso}`,
      isoSha256: isoSha,
      diskSizeGb: 8,
    },
    "jupyterhub-vm:openstack": labOpenstack(work.dir, "bench-up-stages"),
  };
  let stack: ReturnType<typeof benchStack> | undefined;
  const pulumi = (args: string[]) => {
    if (!stack) throw new Error("no stack");
    return stack.run(args);
  };
  const rows: string[][] = [];
  let broken = false;
  const timed = (name: string, args: string[], before: () => void, promise: (c: Changes) => boolean) => {
    const secs: number[] = [];
    const seen: Changes[] = [];
    for (let i = 0; i < RUNS; i++) {
      before();
      const events = path.join(work.dir, `events-${rows.length}-${i}.jsonl`);
      const t0 = Date.now();
      pulumi([...args, "--event-log", events]);
      secs.push((Date.now() - t0) / 1000);
      seen.push(changes(events));
      console.error(`${name} ${i + 1}/${RUNS}: ${secs[i].toFixed(1)} s, ${JSON.stringify(seen[i])}`);
    }
    const kept = seen.every(promise);
    if (!kept) broken = true;
    const show = (xs: string[]) => (xs.length ? xs.join(", ") : "none");
    const distinct = [...new Set(seen.map((c) => `${show(c.stages)} / ${show(c.others)}`))];
    rows.push([
      name,
      median(secs).toFixed(1),
      Math.min(...secs).toFixed(1),
      Math.max(...secs).toFixed(1),
      distinct.join("; "),
      kept ? "yes" : "**no**",
    ]);
  };
  try {
    stack = benchStack(env, STACK, config);
    timed(
      "preview, nothing deployed",
      ["preview"],
      () => undefined,
      () => true,
    );
    const t0 = Date.now();
    const first = path.join(work.dir, "events-first.jsonl");
    pulumi(["up", "--yes", "--event-log", first]);
    const firstSecs = (Date.now() - t0) / 1000;
    const all = changes(first);
    rows.push([
      "first up (everything built and made)",
      firstSecs.toFixed(1),
      "—",
      "—",
      `${all.stages.join(", ")} / ${all.others.length} cloud resources`,
      all.stages.length === 3 ? "yes" : "**no**",
    ]);
    timed(
      "preview, no change",
      ["preview"],
      () => undefined,
      (c) => !c.stages.length,
    );
    timed(
      "up, no change",
      ["up", "--yes"],
      () => undefined,
      (c) => !c.stages.length && !c.others.length,
    );
    let timeout = 1700;
    timed(
      "up after an Ansible variable (hub.idleTimeoutSeconds)",
      ["up", "--yes"],
      () => void pulumi(["config", "set", "--path", "hub.idleTimeoutSeconds", String(timeout++)]),
      (c) => c.stages.join() === "final-image" && c.others.some((o) => o.includes("server")),
    );
    let n = 0;
    timed(
      "up after a server-only key (openstack.publicKey)",
      ["up", "--yes"],
      () => void pulumi(["config", "set", "--path", "openstack.publicKey", publicKey(work.dir, `key-${n++}`)]),
      (c) => !c.stages.length && c.others.includes("hub-server") && !c.others.includes("glance-image"),
    );
  } finally {
    stack?.remove();
    lab.stop();
    work.remove();
  }
  console.log(
    `\n\`pulumi up\` and \`preview\` of the whole program (target openstack, the test OpenStack; ${RUNS} runs each; ` +
      `Packer and pulumi-resource-command are stand-ins, see bench/up-stages.ts)\n` +
      `${machineLine([["pulumi", ["version"]]], env)}${lab.startedSecs ? `; lab started in ${lab.startedSecs.toFixed(0)} s` : ""}\n`,
  );
  console.log(
    table(["case", "median s", "min s", "max s", "build stages run / other resources changed", "as promised"], rows),
  );
  return broken ? 1 : 0;
}

process.exit(main());
