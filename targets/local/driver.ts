/**
 * Driver of the local VM (local-vm.ts runs it): the final image as a VM on this machine, in
 * <buildDir>/local-vm/<name>/, with one of two runners (`provider`): qemu.ts or vagrant-libvirt.ts.
 *
 * create: a VM directory left over by a failed create or a lost state is stopped and removed first (either runner's
 *  leftovers); the host ports must be free; then the runner starts the VM. Not cached: a create starts a VM, except
 *  when Pulumi runs create as an update (the command line or its environment changed, e.g. the driver moved) and the
 *  VM this resource made still runs from exactly these settings: then it is kept as it is (its disk holds the hub's
 *  state) and its result is reported again. Any setting that changes the VM is in the trigger, which replaces it.
 * delete: either runner's VM (a provider change leaves the other runner's), then the VM directory. Idempotent: a VM
 *  that is already gone, or a second delete, succeeds.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Stage, StageError, StageResult, main, tail } from "../../stages/driver";
import {
  checkPortFree,
  isVmDir,
  makeSeed,
  qemuCreate,
  qemuRunsAs,
  removeVmDir,
  stopVm,
  validate,
  vmDirOf,
  vmPids,
} from "./qemu";
import { CONSOLE_LOG, LOCAL_VM, VmSettings } from "./settings";
import { vagrantCreate, vagrantRunning, vagrantTeardown } from "./vagrant-libvirt";

/** The file in the VM directory that records what the VM was made from. */
const MADE_FROM = "made-from.sha256";

/** Hash of every setting the VM is made from (not where the stage's files live). */
export function madeFrom(s: VmSettings): string {
  // not what the VM is made from: where the stage's files live, and how long create waits for the hub
  const { stage: _st, buildDir: _b, cacheDir: _c, keepCache: _k, waitForHub: _w, readyTimeoutSec: _t, ...vm } = s;
  const sorted = Object.fromEntries(Object.entries(vm).sort(([a], [b]) => a.localeCompare(b)));
  return crypto.createHash("sha256").update(JSON.stringify(sorted)).digest("hex");
}

/** The VM `previous` names, when it is this VM, made from these settings, and running. */
async function runningAsBefore(
  stage: Stage<VmSettings>,
  previous: StageResult | undefined,
): Promise<StageResult | undefined> {
  const s = stage.settings;
  if (!previous?.path) return undefined;
  const dir = path.dirname(path.resolve(previous.path));
  if (dir !== vmDirOf(s.buildDir, s.name) || previous.provider !== s.provider) return undefined;
  const running = s.provider === "qemu" ? vmPids(dir).length > 0 : await vagrantRunning(stage, dir);
  if (!running) return undefined;
  let recorded = "";
  try {
    recorded = fs.readFileSync(path.join(dir, MADE_FROM), "utf8").trim();
  } catch {
    // made by an older version, which kept no record: a qemu VM is compared with what it runs from
    if (s.provider !== "qemu" || !(await qemuRunsAs(stage, dir))) return undefined;
    fs.writeFileSync(path.join(dir, MADE_FROM), madeFrom(s) + "\n");
    return previous;
  }
  return recorded === madeFrom(s) ? previous : undefined;
}

/** GET <hubUrl>hub/api: "" when it answers 200, else why not. */
async function probeHub(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: "manual" });
    return res.status === 200 ? "" : `HTTP ${res.status}`;
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause;
    return cause?.message ?? (e as Error).message;
  }
}

/**
 * Waits until the VM's hub answers on <hubUrl>hub/api, within readyTimeoutSec. On timeout: the console is kept as
 * <buildDir>/logs/local-vm-console.log, a VM this create started is stopped and removed (a failed create leaves
 * nothing behind), and the error names that file and shows its last lines.
 */
async function waitForHub(stage: Stage<VmSettings>, result: StageResult, startedHere: boolean): Promise<void> {
  const s = stage.settings;
  const url = `${String(result.hubUrl)}hub/api`;
  const timeout = s.readyTimeoutSec ?? 900;
  const t0 = Date.now();
  let last = "";
  for (let i = 0; ; i++) {
    last = await probeHub(url);
    if (!last) {
      stage.log(`hub answers on ${url} after ${Math.round((Date.now() - t0) / 1000)} s`);
      return;
    }
    if ((Date.now() - t0) / 1000 > timeout) break;
    if (i % 10 === 0) stage.log(`waiting for ${url}: ${last}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
  const dir = path.dirname(path.resolve(result.path));
  const kept = path.join(s.buildDir, "logs", "local-vm-console.log");
  const consoleFile = path.join(dir, CONSOLE_LOG);
  if (fs.existsSync(consoleFile)) fs.copyFileSync(consoleFile, kept);
  else fs.writeFileSync(kept, `(no serial console captured for the ${s.provider} runner in ${dir})\n`);
  if (startedHere) {
    stage.log(`stopping the VM whose hub never answered`);
    await vagrantTeardown(stage, dir);
    await stopVm(stage, dir, 10);
    removeVmDir(stage, dir);
  }
  throw new StageError(
    `the hub did not answer on ${url} within ${timeout} s (last: ${last}). ` +
      `The VM's console is in ${kept}; its last lines:\n${tail(kept, 30)}\n` +
      `In the guest, the first boot logs to /var/log/jupyterhub-vm-first-boot.log (local.waitForHub: false skips this wait).`,
  );
}

main(LOCAL_VM, {
  cacheable: false,
  async create(stage, previous) {
    const s = stage.settings;
    validate(s);
    const kept = await runningAsBefore(stage, previous);
    if (kept) {
      stage.log(`VM ${s.name} already runs from these settings (${path.dirname(kept.path)}): kept`);
      if (s.waitForHub) await waitForHub(stage, kept, false);
      return kept;
    }
    const dir = vmDirOf(s.buildDir, s.name);
    if (fs.existsSync(dir)) {
      // this resource's VM made from other settings, or left over by a failed create or a lost stack state: the VM
      // is re-created from the image
      stage.log(
        `${dir} exists (${previous ? "made from other settings" : "left over"}): stopping its VM and replacing it`,
      );
      await stopVm(stage, dir, 10);
      await vagrantTeardown(stage, dir);
      removeVmDir(stage, dir);
    }
    for (const p of [s.httpPort, ...(s.forwardPorts ?? []).map((f) => Number(f.split(":")[0]))]) await checkPortFree(p);
    const result =
      s.provider === "vagrant-libvirt"
        ? await vagrantCreate(stage, s, dir, (vendor) => makeSeed(stage, dir, vendor))
        : await qemuCreate(stage, dir);
    fs.writeFileSync(path.join(dir, MADE_FROM), madeFrom(s) + "\n");
    if (s.waitForHub) await waitForHub(stage, result, true);
    return result;
  },
  async delete(stage, previous) {
    const s = stage.settings;
    // The previous result names the VM this resource made. It comes first: on a replacement (deleteBeforeReplace)
    // the settings file already holds the new settings, possibly a new name. Without either (nothing was created),
    // the settings' name.
    const dir = previous?.path
      ? path.dirname(path.resolve(previous.path))
      : s.name
        ? vmDirOf(s.buildDir, s.name)
        : undefined;
    if (!dir) {
      stage.log("no VM recorded: nothing to stop");
      return;
    }
    if (!isVmDir(dir)) throw new StageError(`refusing to touch ${dir}: not a <buildDir>/local-vm/<name> directory`);
    // either runner's leftovers: a VM made by the other runner (a provider change) is removed too
    await vagrantTeardown(stage, dir);
    await stopVm(stage, dir, s.stopTimeoutSec ?? 60);
    removeVmDir(stage, dir);
  },
});
