/**
 * The pipeline: the build (ISO → base box → final image), wired from the validated stack config, and the dispatch to
 * the stack's target (targets/openstack: Glance image → server; targets/local: a VM here). Components receive typed
 * arguments; this file maps the build's config keys onto them, each target's index.ts maps its own.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { IsoImage, isoImageKey } from "./stages/iso-image/component";
import { BaseBox, baseBoxKey } from "./stages/base-box/component";
import { FinalImage, finalImageKey } from "./stages/final-image/component";
import { ISO_IMAGE } from "./stages/iso-image/settings";
import { BASE_BOX } from "./stages/base-box/settings";
import { FINAL_IMAGE } from "./stages/final-image/settings";
import { ansibleVars } from "./stages/final-image/ansible-vars";
import { resolveCompression } from "./stages/final-image/export";
import { fileSha256Cached } from "./stages/file-hash";
import { hashPaths, peekCache } from "./stages/runner";
import { Need, ToolId, chooseAccelerator, toolProblems } from "./host";
import { setCommand } from "./config/problems";
import { localNeeds } from "./targets/local/preflight";
import { deployLocal } from "./targets/local";
import { deployOpenstack } from "./targets/openstack";
import { Artifact, PipelineOutputs } from "./targets/outputs";

export type { Artifact, PipelineOutputs } from "./targets/outputs";

function formatOf(file: string): string {
  const ext = path.extname(file).toLowerCase();
  return ext === ".vmdk" ? "vmdk" : ext === ".qcow2" ? "qcow2" : "raw";
}

/** The build's arguments, from the config: the same for the stages and for the preview's plan (plannedBuild). */
function buildArgs(cfg: StackConfig, accelerator: string) {
  const { image } = cfg;
  const common = { buildDir: cfg.buildDir, cacheDir: cfg.cacheDir, keepCache: cfg.keepCache };
  // how fast the build VMs run (never what they build): the same for both Packer stages
  const runVars = { memoryMb: image.memoryMb, cpus: image.cpus, headless: image.headless, accelerator };
  const iso = { url: image.isoUrl, sha256: image.isoSha256, sha256SumsUrl: image.isoSha256SumsUrl };
  const imageVars = {
    diskSizeGb: image.diskSizeGb,
    locale: image.locale,
    timezone: image.timezone,
    keyboard: image.keyboard,
    mirror: image.mirror,
    httpProxy: image.httpProxy,
    httpsProxy: image.httpsProxy,
    noProxy: image.noProxy,
  };
  const vars = ansibleVars(cfg);
  const final = {
    provisioner: image.provisioner,
    ansibleVars: vars,
    contentHash: vars.content_source === "local" ? hashPaths(String(vars.content_local_dir), ["."]) : undefined,
    exportFormat: image.exportFormat,
    compression: resolveCompression(image.compression, cfg.target).compression,
  };
  return { common, runVars, iso, base: { os: image.os, builder: image.builder, imageVars }, final };
}

/** True when the stack deploys an image it does not build (a file, or an existing Glance image). */
function buildsNothing(cfg: StackConfig): boolean {
  return (cfg.target === "openstack" && Boolean(cfg.openstack.existingImage)) || cfg.image.source === "file";
}

/**
 * Which build stages will run (their cache entry is missing), and the host tools they need. Preview knows a stage's
 * key when it knows the checksum of what the stage builds from: the pinned ISO checksum, or the cached upstream
 * stage's result. A stage whose key is unknown is counted as running.
 */
export function plannedBuild(cfg: StackConfig): { runs: string[]; needs: Need[] } {
  if (buildsNothing(cfg)) return { runs: [], needs: [] };
  const a = buildArgs(cfg, cfg.image.accelerator);
  const runs: string[] = [];
  const needs: Need[] = [];
  const need = (by: string, ...tools: ToolId[]) => needs.push(...tools.map((tool) => ({ tool, by })));
  const iso = peekCache(cfg.cacheDir, ISO_IMAGE.name, isoImageKey(a.iso));
  if (!iso) {
    runs.push(ISO_IMAGE.name);
    if (!cfg.image.isoLocalPath) need("the ISO download (no cached ISO)", "curl");
  }
  const isoSha = iso?.sha256 ?? a.iso.sha256;
  const base = isoSha ? peekCache(cfg.cacheDir, BASE_BOX.name, baseBoxKey(a.base, isoSha)) : undefined;
  if (!base) {
    runs.push(BASE_BOX.name);
    const by = "the base box build (no cached base box for these image settings)";
    need(by, "packer", "packer-plugins-base", "qemu-system", "qemu-img", "openssl");
  }
  const final = base ? peekCache(cfg.cacheDir, FINAL_IMAGE.name, finalImageKey(a.final, base.sha256)) : undefined;
  if (!final) {
    runs.push(FINAL_IMAGE.name);
    const by = "the final image build (no cached final image for these settings)";
    need(by, "packer", "packer-plugins-final", "ansible", "qemu-system", "qemu-img", "python3", "root");
    if (a.final.exportFormat === "qcow2" && a.final.compression === "zstd")
      need("the final image's zstd export (image.compression)", "qemu-img-zstd");
  }
  return { runs, needs };
}

/** Builds the image from the ISO, or takes the given file. Undefined when an existing Glance image is used. */
export function buildImage(
  cfg: StackConfig,
  accelerator: string = cfg.image.accelerator,
  opts: pulumi.ComponentResourceOptions = {},
): Artifact | undefined {
  const { image } = cfg;
  if (cfg.target === "openstack" && cfg.openstack.existingImage) return undefined;
  if (image.source === "file") {
    return { path: image.file, sha256: fileSha256Cached(image.file, cfg.cacheDir), format: formatOf(image.file) };
  }
  const a = buildArgs(cfg, accelerator);
  const iso = new IsoImage("iso", { ...a.iso, localPath: image.isoLocalPath, ...a.common }, opts);
  const base = new BaseBox(
    "base",
    { ...a.base, iso: { path: iso.path, sha256: iso.sha256 }, runVars: a.runVars, ...a.common },
    { ...opts, dependsOn: [iso] },
  );
  const final = new FinalImage(
    "final",
    {
      base: { path: base.path, sha256: base.sha256, format: base.format },
      ...a.final,
      diskSizeGb: image.diskSizeGb,
      runVars: a.runVars,
      ...a.common,
    },
    { ...opts, dependsOn: [base] },
  );
  return { path: final.path, sha256: final.sha256, format: final.format };
}

export interface DeployOptions {
  /** run the host checks (tools, accelerator probe, the local target's libvirt); the mock-based unit tests turn them off */
  readonly hostChecks?: boolean;
  /**
   * the config's problems (config/index.ts readConfig): the preflight still runs, and everything is reported in one
   * ConfigError before any resource of the stack is made
   */
  readonly configProblems?: readonly string[];
}

/**
 * The host checks at preview, before any resource: the QEMU accelerator (`auto` resolved by running a guest; `kvm`
 * checked the same way) and the tools of every stage that will run and of the target. Returns the accelerator to
 * use and every problem found; the target adds its own (cloud lookups, libvirt) and reports them all at once.
 */
export function hostPreflight(cfg: StackConfig): { accelerator: string; problems: string[] } {
  const plan = plannedBuild(cfg);
  const problems: string[] = [];
  let accelerator: string = cfg.image.accelerator;
  const runsQemu = plan.runs.some((s) => s !== ISO_IMAGE.name) || cfg.target === "local";
  if (runsQemu) {
    const choice = chooseAccelerator(cfg.image.accelerator, cfg.cacheDir);
    accelerator = choice.accelerator;
    if (choice.problem)
      problems.push(
        `image.accelerator: ${choice.problem}; run ${setCommand("image.accelerator", "auto")} (KVM where a guest runs under it, else tcg) or set it to tcg`,
      );
    else pulumi.log.info(`image.accelerator ${cfg.image.accelerator} → ${choice.accelerator}: ${choice.why}`);
  } else if (accelerator === "auto") accelerator = "tcg";
  if (!buildsNothing(cfg) && cfg.image.exportFormat === "qcow2" && plan.runs.includes(FINAL_IMAGE.name)) {
    const c = resolveCompression(cfg.image.compression, cfg.target);
    if (c.why) pulumi.log.info(`image.compression auto → ${c.compression}: ${c.why}`);
  }
  if (!buildsNothing(cfg))
    pulumi.log.info(
      plan.runs.length
        ? `build: ${plan.runs.join(", ")} will run (not in the cache ${cfg.cacheDir})`
        : "build: every stage is in the cache; nothing to build",
    );
  const targetNeeds = cfg.target === "local" ? localNeeds(cfg) : [];
  problems.push(...toolProblems([...plan.needs, ...targetNeeds]));
  return { accelerator, problems };
}

export async function deploy(cfg: StackConfig, opts: DeployOptions = {}): Promise<PipelineOutputs> {
  const hostChecks = opts.hostChecks !== false;
  const configProblems = opts.configProblems ?? [];
  const unchecked = { accelerator: cfg.image.accelerator === "auto" ? "tcg" : cfg.image.accelerator, problems: [] };
  let host: { accelerator: string; problems: string[] } = unchecked;
  if (hostChecks) {
    try {
      host = hostPreflight(cfg);
    } catch (e) {
      // a config with problems may not get this far; its problems are what the user needs to see
      if (!configProblems.length) throw e;
    }
  }
  const build = () => {
    // created only once the preflight passed: a failed preview leaves nothing behind
    fs.mkdirSync(cfg.buildDir, { recursive: true });
    return buildImage(cfg, host.accelerator);
  };
  if (cfg.target === "local")
    return deployLocal(cfg, build, {
      hostChecks,
      accelerator: host.accelerator,
      problems: host.problems,
      configProblems,
    });
  return deployOpenstack(cfg, build, host.problems, configProblems);
}
