/**
 * The pipeline: ISO → base box → final image → Glance image → server (or → local VM), wired from the validated
 * stack config. Components receive typed arguments; only this file maps config keys onto them.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { IsoImage } from "./components/iso-image";
import { BaseBox } from "./components/base-box";
import { FinalImage } from "./components/final-image";
import { LocalVm } from "./components/local-vm";
import { fileSha256Cached } from "./components/file-hash";
import { hashPaths } from "./components/stage";
import { adminPasswordHash, renderUserData } from "./cloud-init/render";
import { deployOpenstack } from "./targets/openstack";
import { Artifact, PipelineOutputs } from "./targets/outputs";
import { throwIfProblems } from "./config/problems";

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

/** Runs a tool briefly at preview time; its output, or undefined when it cannot be run or fails. */
function probe(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}` : undefined;
}

/**
 * The local target's preflight: the tools the chosen runner needs are there and the libvirt connection works,
 * checked at preview (all problems at once, each naming the key), not after the image build.
 */
export function localPreflight(cfg: StackConfig, run: typeof probe = probe): void {
  const l = cfg.local;
  const problems: string[] = [];
  const P = "jupyterhub-vm:local.provider";
  const need = (cmd: string, args: string[], why: string, fix: string) => {
    const out = run(cmd, args);
    if (out === undefined) problems.push(`${P}: ${JSON.stringify(l.provider)} needs ${why}; ${fix}`);
    return out;
  };
  if (l.provider === "vagrant-libvirt") {
    const otherwise = "or set local.provider to qemu";
    if (
      need(
        "vagrant",
        ["--version"],
        "`vagrant` on PATH",
        `install Vagrant (Debian/Ubuntu: apt install vagrant vagrant-libvirt) ${otherwise}`,
      )
    ) {
      const plugins = need(
        "vagrant",
        ["plugin", "list", "--no-color"],
        "`vagrant plugin list` to work",
        `repair the Vagrant installation ${otherwise}`,
      );
      if (plugins !== undefined && !/^vagrant-libvirt\b/m.test(plugins))
        problems.push(
          `${P}: "vagrant-libvirt" needs the vagrant-libvirt plugin, which Vagrant does not list; install it (apt install vagrant-libvirt, or vagrant plugin install vagrant-libvirt) ${otherwise}`,
        );
    }
    if (run("virsh", ["--version"]) === undefined)
      problems.push(
        `${P}: "vagrant-libvirt" needs \`virsh\` (libvirt clients) on PATH; install libvirt-clients ${otherwise}`,
      );
    else if (run("virsh", ["-c", l.libvirtUri, "uri"]) === undefined)
      problems.push(
        `jupyterhub-vm:local.libvirtUri: ${JSON.stringify(l.libvirtUri)} cannot be reached (\`virsh -c ${l.libvirtUri} uri\` fails); start libvirtd (and virtlogd), or fix the URI`,
      );
    need(
      "sh",
      ["-c", "command -v ssh-keygen"],
      "`ssh-keygen` on PATH (the per-VM login key)",
      "install openssh-client",
    );
  } else {
    need(
      "qemu-system-x86_64",
      ["--version"],
      "`qemu-system-x86_64` on PATH",
      "install QEMU (Debian/Ubuntu: apt install qemu-system-x86)",
    );
  }
  if (run("xorriso", ["-version"]) === undefined && run("genisoimage", ["-version"]) === undefined)
    problems.push(
      `${P}: ${JSON.stringify(l.provider)} needs xorriso or genisoimage (the NoCloud seed); install xorriso`,
    );
  if (l.dataDir && !fs.statSync(l.dataDir, { throwIfNoEntry: false })?.isDirectory())
    problems.push(
      `jupyterhub-vm:local.dataDir: ${JSON.stringify(l.dataDir)} is not a directory; create it or change the key`,
    );
  throwIfProblems(problems);
}

/** The same first-boot user-data as a cloud server's, for the local VM (NoCloud seed). */
function localUserData(cfg: StackConfig, password: pulumi.Output<string>): pulumi.Output<string> {
  return password.apply((pw) =>
    renderUserData({
      hostname: cfg.hub.hostname,
      dnsName: "",
      letsencryptEmail: "",
      baseUrl: cfg.hub.baseUrl,
      authenticator: cfg.hub.authenticator,
      adminUser: cfg.hub.admins[0],
      adminPasswordHash: adminPasswordHash(pw, `${cfg.project}/${cfg.stack}`),
      // qemu shares dataDir under a fixed 9p tag that cloud-init mounts; Vagrant mounts its synced folder itself
      localDataShare: Boolean(cfg.local.dataDir) && cfg.local.provider === "qemu",
    }),
  );
}

export interface DeployOptions {
  /** run the local target's host checks (localPreflight); the mock-based unit tests turn them off */
  readonly hostChecks?: boolean;
}

export async function deploy(cfg: StackConfig, opts: DeployOptions = {}): Promise<PipelineOutputs> {
  fs.mkdirSync(cfg.buildDir, { recursive: true });
  if (cfg.target === "local") {
    if (opts.hostChecks !== false) localPreflight(cfg);
    const artifact = buildImage(cfg);
    if (!artifact) throw new Error("target local needs a built image or image.file");
    const vm = new LocalVm("local", {
      image: artifact,
      provider: cfg.local.provider,
      ip: cfg.local.ip,
      libvirtUri: cfg.local.libvirtUri,
      httpPort: cfg.local.httpPort,
      forwardPorts: cfg.local.forwardPorts,
      dataDir: cfg.local.dataDir,
      memoryMb: cfg.local.memoryMb,
      cpus: cfg.local.cpus,
      accelerator: cfg.image.accelerator,
      name: `jupyterhub-${cfg.stack}`,
      userData: cfg.adminPassword ? pulumi.secret(localUserData(cfg, cfg.adminPassword)) : undefined,
      buildDir: cfg.buildDir,
      cacheDir: cfg.cacheDir,
    });
    return {
      target: cfg.target,
      imagePath: pulumi.output(artifact.path),
      imageSha256: pulumi.output(artifact.sha256),
      hubUrl: vm.hubUrl,
      localIp: vm.localIp,
    };
  }

  return deployOpenstack(cfg, () => buildImage(cfg));
}
