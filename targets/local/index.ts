/**
 * The local target: preflight (the runner's host tools), the build the pipeline passes in, then the VM
 * (local-vm.ts; its runners are drivers/local-vm.ts and drivers/local-vm-vagrant.ts). The one entry the pipeline
 * calls.
 */
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../../config";
import { adminPasswordHash, renderUserData } from "../../cloud-init/render";
import { Artifact, PipelineOutputs } from "../outputs";
import { LocalVm } from "./local-vm";
import { localPreflight } from "./preflight";

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

/** Deploys the stack as a VM on this machine; `build` runs the image build (after the preflight passed). */
export async function deployLocal(
  cfg: StackConfig,
  build: () => Artifact | undefined,
  opts: { hostChecks: boolean },
): Promise<PipelineOutputs> {
  if (opts.hostChecks) localPreflight(cfg);
  const artifact = build();
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
