/**
 * The pipeline: the build (ISO → base box → final image), wired from the validated stack config, and the dispatch to
 * the stack's target (targets/openstack: Glance image → server; targets/local: a VM here). Components receive typed
 * arguments; this file maps the build's config keys onto them, each target's index.ts maps its own.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { IsoImage } from "./components/iso-image";
import { BaseBox } from "./components/base-box";
import { FinalImage } from "./components/final-image";
import { fileSha256Cached } from "./components/file-hash";
import { hashPaths } from "./components/stage";
import { deployLocal } from "./targets/local";
import { deployOpenstack } from "./targets/openstack";
import { Artifact, PipelineOutputs } from "./targets/outputs";

export type { Artifact, PipelineOutputs } from "./targets/outputs";

/** `hub.content` as the content role takes it: none, a local directory, or a git URL pinned to a ref. */
export function contentVars(content: string, projectDir: string): Record<string, unknown> {
  if (!content) return { content_source: "none" };
  const git = /^(https?:\/\/|git@)[^#]+?(\.git)?(#(.+))?$/.exec(content);
  if (git && !fs.existsSync(content)) {
    const [url, ref] = content.split("#");
    return { content_source: "git", content_git_url: url, content_git_ref: ref ?? "" };
  }
  return { content_source: "local", content_local_dir: path.resolve(projectDir, content) };
}

/** The variables the Ansible playbook receives (ansible/README.md documents each). */
export function ansibleVars(cfg: StackConfig, projectDir: string = process.cwd()): Record<string, unknown> {
  const { image, hub } = cfg;
  return {
    system_locale: image.locale,
    system_timezone: image.timezone,
    system_keyboard_layout: image.keyboard,
    system_hostname: hub.hostname,
    system_http_proxy: image.httpProxy,
    system_https_proxy: image.httpsProxy,
    system_no_proxy: image.noProxy,
    tljh_version: hub.tljhVersion,
    tljh_bootstrap_ref: hub.tljhVersion,
    tljh_admin_users: [...hub.admins],
    tljh_authenticator: hub.authenticator,
    tljh_memory_limit: hub.memoryLimit,
    tljh_cpu_limit: hub.cpuLimit,
    tljh_idle_culler_enabled: hub.idleCulling,
    tljh_idle_culler_timeout: hub.idleTimeoutSeconds,
    tljh_default_app: hub.defaultApp,
    tljh_base_url: hub.baseUrl,
    python_packages: [...hub.pythonPackages],
    r_enabled: hub.installR,
    r_cran_packages: [...hub.rCranPackages],
    r_bioconductor_packages: [...hub.rBioconductorPackages],
    r_github_packages: [...hub.rGithubPackages],
    ...contentVars(hub.content, projectDir),
    desktop_enabled: hub.desktop,
  };
}

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
      runVars: { memoryMb: image.memoryMb, cpus: image.cpus, headless: image.headless, accelerator: image.accelerator },
      ...common,
    },
    { ...opts, dependsOn: [iso] },
  );
  const vars = ansibleVars(cfg);
  const final = new FinalImage(
    "final",
    {
      base: { path: base.artifactPath, sha256: base.sha256, format: base.format },
      provisioner: image.provisioner,
      ansibleVars: vars,
      contentHash: vars.content_source === "local" ? hashPaths(String(vars.content_local_dir), ["."]) : undefined,
      exportFormat: image.exportFormat,
      compression: image.compression,
      diskSizeGb: image.diskSizeGb,
      runVars: { memoryMb: image.memoryMb, cpus: image.cpus, headless: image.headless, accelerator: image.accelerator },
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
