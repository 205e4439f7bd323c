/**
 * The pipeline: the build (ISO → base box → final image), wired from the validated stack config, and the dispatch to
 * the stack's target (targets/openstack: Glance image → server; targets/local: a VM here). Components receive typed
 * arguments; this file maps the build's config keys onto them, each target's index.ts maps its own.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { IsoImage } from "./stages/iso-image/component";
import { BaseBox } from "./stages/base-box/component";
import { FinalImage } from "./stages/final-image/component";
import { ansibleVars } from "./stages/final-image/ansible-vars";
import { fileSha256Cached } from "./stages/file-hash";
import { hashPaths } from "./stages/runner";
import { deployLocal } from "./targets/local";
import { deployOpenstack } from "./targets/openstack";
import { Artifact, PipelineOutputs } from "./targets/outputs";

export type { Artifact, PipelineOutputs } from "./targets/outputs";

function formatOf(file: string): string {
  const ext = path.extname(file).toLowerCase();
  return ext === ".vmdk" ? "vmdk" : ext === ".qcow2" ? "qcow2" : "raw";
}

/** Builds the image from the ISO, or takes the given file. Undefined when an existing Glance image is used. */
export function buildImage(cfg: StackConfig, opts: pulumi.ComponentResourceOptions = {}): Artifact | undefined {
  const { image } = cfg;
  if (cfg.target === "openstack" && cfg.openstack.existingImage) return undefined;
  const common = { buildDir: cfg.buildDir, cacheDir: cfg.cacheDir, keepCache: cfg.keepCache };
  if (image.source === "file") {
    return { path: image.file, sha256: fileSha256Cached(image.file, cfg.cacheDir), format: formatOf(image.file) };
  }
  // how fast the build VMs run (never what they build): the same for both Packer stages
  const runVars = {
    memoryMb: image.memoryMb,
    cpus: image.cpus,
    headless: image.headless,
    accelerator: image.accelerator,
  };
  const iso = new IsoImage(
    "iso",
    {
      url: image.isoUrl,
      sha256: image.isoSha256,
      sha256SumsUrl: image.isoSha256SumsUrl,
      localPath: image.isoLocalPath,
      ...common,
    },
    opts,
  );
  const base = new BaseBox(
    "base",
    {
      os: image.os,
      builder: image.builder,
      iso: { path: iso.path, sha256: iso.sha256 },
      imageVars: {
        diskSizeGb: image.diskSizeGb,
        locale: image.locale,
        timezone: image.timezone,
        keyboard: image.keyboard,
        mirror: image.mirror,
        httpProxy: image.httpProxy,
        httpsProxy: image.httpsProxy,
        noProxy: image.noProxy,
      },
      runVars,
      ...common,
    },
    { ...opts, dependsOn: [iso] },
  );
  const vars = ansibleVars(cfg);
  const final = new FinalImage(
    "final",
    {
      base: { path: base.path, sha256: base.sha256, format: base.format },
      provisioner: image.provisioner,
      ansibleVars: vars,
      contentHash: vars.content_source === "local" ? hashPaths(String(vars.content_local_dir), ["."]) : undefined,
      exportFormat: image.exportFormat,
      compression: image.compression,
      diskSizeGb: image.diskSizeGb,
      runVars,
      ...common,
    },
    { ...opts, dependsOn: [base] },
  );
  return { path: final.path, sha256: final.sha256, format: final.format };
}

export interface DeployOptions {
  /** run the local target's host checks (targets/local/preflight.ts); the mock-based unit tests turn them off */
  readonly hostChecks?: boolean;
}

export async function deploy(cfg: StackConfig, opts: DeployOptions = {}): Promise<PipelineOutputs> {
  fs.mkdirSync(cfg.buildDir, { recursive: true });
  if (cfg.target === "local") return deployLocal(cfg, () => buildImage(cfg), { hostChecks: opts.hostChecks !== false });
  return deployOpenstack(cfg, () => buildImage(cfg));
}
