/**
 * Glance upload: our `pulumi up` of a stack that deploys an existing image file (`image.source: file`; the real
 * engine and the real OpenStack provider, `verifyChecksum` on) against the seeds' `openstack image create --file` of
 * the same file, into the same test OpenStack (testbed/openstack-lab: Glance's file store on this machine's disk).
 * One command from a clean clone (as root, after `.ci/run`'s tool builds):
 *
 *   npx tsx bench/glance-upload.ts [--runs 3] [--image disk.qcow2]
 *
 * The file: by default the hub test image (testbed/hub-image/build.sh, cached; > 1 GiB). Each run makes a new stack
 * (its own cache directory, so our sha256 of the file is counted every time, as on a first `up`), `pulumi up --yes`
 * (preview included, as a user runs it) and times it; the Glance image's own create (upload, wait for `active`,
 * checksum check) is read from the engine's event log; then the CLI uploads the same file and its wall time is taken.
 * The two alternate which goes first. Both images are checked to be `active` with the file's size and md5, then
 * deleted (`pulumi destroy`, `openstack image delete`). Prints a Markdown table: MB/s (file bytes / seconds) of each,
 * median/min/max, and ours against the CLI's. Never fails on timing.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  LAB,
  arg,
  benchStack,
  engineEnv,
  ensureLab,
  labOpenstack,
  machineLine,
  mb,
  median,
  scratch,
  table,
} from "./lib";
import { hubTestImage } from "./images";
import { sha256FileSync } from "../stages/file-hash";

const RUNS = Number(arg("runs", "3"));
const CLOUD = "lab-demo";

interface Sample {
  upSecs: number;
  imageSecs: number;
  cliSecs: number;
}

function md5(file: string): string {
  return execFileSync("md5sum", [file], { encoding: "utf8" }).split(" ")[0];
}

function main(): number {
  const work = scratch("jhvm-bench-glance-");
  const env = engineEnv(work.dir);
  const lab = ensureLab();
  const osEnv = { ...process.env, OS_CLIENT_CONFIG_FILE: path.join(LAB, "clouds.yaml") };
  const openstack = (args: string[]) =>
    execFileSync("/usr/bin/openstack", ["--os-cloud", CLOUD, ...args], { encoding: "utf8", env: osEnv });
  const checkImage = (id: string, who: string, file: string, sum: string) => {
    const img = JSON.parse(openstack(["image", "show", "-f", "json", id])) as {
      status: string;
      size: number;
      checksum: string;
    };
    if (img.status !== "active" || img.size !== fs.statSync(file).size || img.checksum !== sum)
      throw new Error(`${who}'s image ${id} is not the file: ${JSON.stringify(img)}`);
  };
  try {
    const file = arg("image", "") || hubTestImage(work.dir);
    const size = fs.statSync(file).size;
    const sum = md5(file);
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      const stack = `bench-glance-${i}`;
      const s: Partial<Sample> = {};
      const ours = () => {
        const config = {
          "jupyterhub-vm:target": "openstack",
          "jupyterhub-vm:buildDir": path.join(work.dir, `build-${i}`),
          "jupyterhub-vm:cacheDir": path.join(work.dir, `cache-${i}`),
          "jupyterhub-vm:image": { source: "file", file, diskSizeGb: 8 },
          "jupyterhub-vm:openstack": labOpenstack(work.dir, `bench-ours-${i}`),
        };
        const st = benchStack(env, stack, config);
        try {
          const events = path.join(work.dir, `events-${i}.jsonl`);
          const t0 = Date.now();
          st.run(["up", "--yes", "--event-log", events]);
          s.upSecs = (Date.now() - t0) / 1000;
          s.imageSecs = imageCreateSecs(events);
          checkImage(st.run(["stack", "output", "imageId"]).trim(), "pulumi up", file, sum);
        } finally {
          st.remove();
        }
      };
      const cli = () => {
        const t0 = Date.now();
        const out = openstack([
          "image",
          "create",
          "-f",
          "json",
          "--disk-format",
          "qcow2",
          "--container-format",
          "bare",
          "--file",
          file,
          `bench-cli-${i}`,
        ]);
        s.cliSecs = (Date.now() - t0) / 1000;
        const id = (JSON.parse(out) as { id: string }).id;
        try {
          checkImage(id, "openstack image create", file, sum);
        } finally {
          openstack(["image", "delete", id]);
        }
      };
      if (i % 2 === 0) {
        ours();
        cli();
      } else {
        cli();
        ours();
      }
      samples.push(s as Sample);
      console.error(
        `run ${i + 1}/${RUNS}: pulumi up ${s.upSecs?.toFixed(1)} s (image ${s.imageSecs?.toFixed(0)} s), ` +
          `openstack image create ${s.cliSecs?.toFixed(1)} s`,
      );
    }
    const rate = (xs: number[]) => xs.map((x) => size / 1e6 / x);
    const row = (name: string, xs: number[], base: number, note: string) => {
      const r = rate(xs);
      return [
        name,
        median(xs).toFixed(1),
        median(r).toFixed(1),
        Math.min(...r).toFixed(1),
        Math.max(...r).toFixed(1),
        `${(median(r) / base).toFixed(2)}×`,
        note,
      ];
    };
    const cliRate = median(rate(samples.map((s) => s.cliSecs)));
    console.log(
      `\nGlance upload of ${path.basename(file)} (${mb(size)} MB) into the test OpenStack (${RUNS} runs each)\n` +
        `${machineLine(
          [
            ["pulumi", ["version"]],
            ["pulumi-resource-openstack", ["-version"]],
            ["/usr/bin/openstack", ["--version"]],
          ],
          env,
        )}` +
        `${lab.startedSecs ? `; lab started in ${lab.startedSecs.toFixed(0)} s` : ""}\n`,
    );
    console.log(
      table(
        ["way", "median s", "median MB/s", "min MB/s", "max MB/s", "vs openstack CLI", "what is timed"],
        [
          row(
            "seeds: openstack image create --file",
            samples.map((s) => s.cliSecs),
            cliRate,
            "the command's wall time (upload, then the CLI waits for the image)",
          ),
          row(
            "ours: pulumi up (whole)",
            samples.map((s) => s.upSecs),
            cliRate,
            "`pulumi up --yes` wall time: preview, lookups, sha256 of the file, upload, md5 check, server",
          ),
          row(
            "ours: the Glance image resource",
            samples.map((s) => s.imageSecs),
            cliRate,
            "engine events: the image's create to its outputs (upload, wait for active, md5 check; whole seconds)",
          ),
        ],
      ),
    );
    // where the difference goes: the two whole-file reads ours adds before the upload
    let t = Date.now();
    md5(file);
    const md5Secs = (Date.now() - t) / 1000;
    t = Date.now();
    sha256FileSync(file);
    const shaSecs = (Date.now() - t) / 1000;
    console.log(
      `\nBefore uploading, the provider reads the whole file once for its md5 (\`md5sum\` of it here: ` +
        `${md5Secs.toFixed(1)} s), and the program hashes it once per file (sha256, remembered by path, size and mtime: ` +
        `${shaSecs.toFixed(1)} s here).`,
    );
    return 0;
  } finally {
    lab.stop();
    work.remove();
  }
}

/** Seconds from the engine's pre-event of the openstack Image to its outputs event (the event log's timestamps). */
function imageCreateSecs(events: string): number {
  let start = NaN;
  let end = NaN;
  for (const line of fs.readFileSync(events, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as {
      timestamp: number;
      resourcePreEvent?: { metadata: { type: string; op: string } };
      resOutputsEvent?: { metadata: { type: string; op: string } };
    };
    if (
      e.resourcePreEvent?.metadata.type === "openstack:images/image:Image" &&
      e.resourcePreEvent.metadata.op === "create"
    )
      start = e.timestamp;
    if (
      e.resOutputsEvent?.metadata.type === "openstack:images/image:Image" &&
      e.resOutputsEvent.metadata.op === "create"
    )
      end = e.timestamp;
  }
  return end - start;
}

process.exit(main());
