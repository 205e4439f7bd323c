/**
 * How long a `pulumi preview` takes when one cloud lookup fails, against the test OpenStack (testbed/openstack-lab),
 * compared with one where every lookup passes, and where the time goes. One command from a clean clone (after
 * `.ci/run`'s tool builds, or with pulumi and the OpenStack provider on PATH):
 *
 *   npx tsx bench/preview-lookups.ts [--runs 3]
 *
 * Starts the lab when it is not up (and stops it after), deploys nothing: each case is one stack previewed --runs
 * times. Prints a Markdown table: median/min/max wall time per case, the ratio to "all found", and the preflight's own
 * lookup times (the program logs each lookup's time with JHVM_TIMING=1), so the rest is the engine, the language host
 * and the provider's start. Never fails on timing.
 */
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LAB, REPO, arg, binDir as bin, median } from "./lib";

const RUNS = Number(arg("runs", "3"));

function main(): number {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "jhvm-bench-lookups-"));
  const up = spawnSync("bash", [path.join(REPO, "testbed/openstack-lab/up.sh"), "--check"], { encoding: "utf8" });
  const startedLab = up.status !== 0;
  const t0 = Date.now();
  if (startedLab) execFileSync("bash", [path.join(REPO, "testbed/openstack-lab/up.sh")], { stdio: "inherit" });
  const labSecs = (Date.now() - t0) / 1000;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [bin("install-pulumi.sh"), bin("install-openstack-provider.sh"), process.env.PATH].join(":"),
    PULUMI_BACKEND_URL: `file://${work}/state`,
    PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(12).toString("hex"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    OS_CLIENT_CONFIG_FILE: path.join(LAB, "clouds.yaml"),
    JHVM_TIMING: "1",
  };
  fs.mkdirSync(path.join(work, "state"));
  const image = path.join(work, "hub.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", image, "1G"]);
  const cases: [string, Record<string, unknown>][] = [
    ["all found", {}],
    ["missing flavor", { flavor: "m1.nope" }],
    ["missing network", { network: "no-such-net" }],
    ["missing key pair", { keyPair: "no-key", publicKey: "" }],
  ];
  const rows: string[] = [];
  let base = 0;
  try {
    for (const [name, over] of cases) {
      const stack = `bench-${name.replace(/\W+/g, "-")}`;
      const config = {
        "jupyterhub-vm:target": "openstack",
        "jupyterhub-vm:buildDir": path.join(work, "build"),
        "jupyterhub-vm:cacheDir": path.join(work, "cache"),
        "jupyterhub-vm:image": { source: "file", file: image, diskSizeGb: 8 },
        "jupyterhub-vm:openstack": {
          cloud: "lab-demo",
          flavor: "m1.small",
          network: "lab-net",
          floatingIpPool: "public",
          publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbench bench@example",
          minRamMb: 256,
          waitForHub: false,
          ...over,
        },
      };
      fs.writeFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), yaml.dump({ config }));
      try {
        spawnSync("pulumi", ["stack", "init", stack, "--non-interactive"], { cwd: REPO, env });
        spawnSync("pulumi", ["config", "set", "--secret", "adminPassword", "--stack", stack], {
          cwd: REPO,
          env,
          input: "bench-admin-password-1",
        });
        const secs: number[] = [];
        const lookupMs: number[] = [];
        let outcome = "";
        for (let i = 0; i < RUNS; i++) {
          const t = Date.now();
          const r = spawnSync("pulumi", ["preview", "--stack", stack, "--non-interactive"], {
            cwd: REPO,
            env,
            encoding: "utf8",
          });
          secs.push((Date.now() - t) / 1000);
          const out = `${r.stdout}${r.stderr}`;
          const times = [...out.matchAll(/preflight lookup \S+: (\d+) ms/g)].map((m) => Number(m[1]));
          lookupMs.push(times.length ? Math.max(...times) : NaN);
          outcome = r.status === 0 ? "preview ok" : /was not found/.test(out) ? "refused: not found" : "failed";
        }
        const m = median(secs);
        if (!base) base = m;
        rows.push(
          `| ${name} | ${outcome} | ${m.toFixed(1)} | ${Math.min(...secs).toFixed(1)} | ${Math.max(...secs).toFixed(1)} | ${(m / base).toFixed(2)}× | ${(median(lookupMs) / 1000).toFixed(2)} |`,
        );
      } finally {
        spawnSync("pulumi", ["stack", "rm", stack, "--yes", "--force", "--non-interactive"], { cwd: REPO, env });
        fs.rmSync(path.join(REPO, `Pulumi.${stack}.yaml`), { force: true });
      }
    }
  } finally {
    if (startedLab) spawnSync("bash", [path.join(REPO, "testbed/openstack-lab/down.sh")], { stdio: "inherit" });
    fs.rmSync(work, { recursive: true, force: true });
  }
  const pulumiVersion = spawnSync("pulumi", ["version"], { env, encoding: "utf8" }).stdout.trim();
  console.log(
    `\npulumi preview against the test OpenStack (${RUNS} runs each; ${new Date().toISOString().slice(0, 10)}, ` +
      `${os.cpus().length} cores, pulumi ${pulumiVersion}, node ${process.version}` +
      `${startedLab ? `; lab started in ${labSecs.toFixed(0)} s` : ""})\n`,
  );
  console.log("| case | outcome | median s | min s | max s | vs all found | slowest lookup s (median) |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  return 0;
}

process.exit(main());
