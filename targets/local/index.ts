/**
 * The local target: preflight (the runner's host tools), the build the pipeline passes in, then the VM
 * (local-vm.ts, run by driver.ts with one of its runners, qemu.ts or vagrant-libvirt.ts). The one entry the pipeline
 * calls.
 */
import * as pulumi from "@pulumi/pulumi";
import { LocalStackConfig } from "../../config";
import { stackUserData } from "../../cloud-init/render";
import { Artifact, PipelineOutputs } from "../outputs";
import { AdminPasswordSalt } from "../password-salt";
import { LocalDataDisk } from "./data-disk";
import { LocalVm } from "./local-vm";
import { localPreflight } from "./preflight";
import { throwIfProblems } from "../../config/problems";
import { DATA_DISK_SERIAL } from "./settings";

/** The same first-boot user-data as a cloud server's (cloud-init/render.ts), for the local VM (NoCloud seed). */
function localUserData(
  cfg: LocalStackConfig,
  password: pulumi.Output<string>,
  salt: pulumi.Output<string>,
): pulumi.Output<string> {
  // no public DNS name reaches a VM on 127.0.0.1: no fqdn, no Let's Encrypt
  const hub = { ...cfg.hub, dnsName: "", letsencryptEmail: "" };
  // qemu shares dataDir under a fixed 9p tag that cloud-init mounts; Vagrant mounts its synced folder itself
  const localDataShare = Boolean(cfg.local.dataDir) && cfg.local.provider === "qemu";
  // the data disk takes the cloud volume's path (found by its serial): formatted when blank, /home and /srv/data on it
  const dataVolume = cfg.local.dataDiskGb > 0 ? { serial: DATA_DISK_SERIAL } : undefined;
  return pulumi.all([password, salt]).apply(([pw, s]) => stackUserData(hub, pw, s, { localDataShare, dataVolume }));
}

/**
 * Deploys the stack as a VM on this machine; `build` runs the image build (after the preflight passed).
 * `opts.problems`: what the pipeline's host checks found (tools, accelerator), reported with this target's own.
 */
export async function deployLocal(
  cfg: LocalStackConfig,
  build: () => Artifact | undefined,
  opts: {
    hostChecks: boolean;
    accelerator: string;
    problems: readonly string[];
    configProblems?: readonly string[];
  },
): Promise<PipelineOutputs> {
  throwIfProblems([...opts.problems, ...(opts.hostChecks ? localPreflight(cfg) : [])], opts.configProblems);
  const artifact = build();
  if (!artifact) throw new Error("target local needs a built image or image.file");
  const name = `jupyterhub-${cfg.stack}`;
  const dataDisk =
    cfg.local.dataDiskGb > 0
      ? new LocalDataDisk("local", {
          vmName: name,
          sizeGb: cfg.local.dataDiskGb,
          keep: cfg.local.keepDataDisk,
          buildDir: cfg.buildDir,
          cacheDir: cfg.cacheDir,
        })
      : undefined;
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
    accelerator: opts.accelerator,
    hubPath: cfg.hub.baseUrl,
    waitForHub: cfg.local.waitForHub,
    readyTimeoutSec: cfg.local.readyTimeoutSeconds,
    name,
    dataDisk: dataDisk?.path,
    userData: cfg.adminPassword
      ? pulumi.secret(localUserData(cfg, cfg.adminPassword, new AdminPasswordSalt("admin-password-salt").salt))
      : undefined,
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
