/**
 * The OpenStack target: preflight (the cloud entry and every named resource, before anything is built), then the
 * build the pipeline passes in, the Glance image and the server. The one entry the pipeline calls.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { OpenstackStackConfig } from "../../config";
import { OS_INFO } from "../../config/os";
import { Artifact, PipelineOutputs } from "../outputs";
import { AdminPasswordSalt } from "../password-salt";
import { GlanceImage } from "./glance-image";
import { openstackPreflight } from "./preflight";
import { JupyterHubServer } from "./server";

/**
 * Deploys to the stack's OpenStack cloud; `build` runs the image build (after the preflight passed).
 * `hostProblems`, `configProblems`: what the config validation and the host checks found, reported with the cloud's
 * in one message (the explicit provider is the only resource registered before it: the lookups need it).
 */
export async function deployOpenstack(
  cfg: OpenstackStackConfig,
  build: () => Artifact | undefined,
  hostProblems: readonly string[] = [],
  configProblems: readonly string[] = [],
): Promise<PipelineOutputs> {
  const o = cfg.openstack;
  const provider = new openstack.Provider("openstack", {
    cloud: o.cloud,
    region: o.region || undefined,
    password: cfg.openstackPassword,
  });
  await openstackPreflight(cfg, provider, hostProblems, configProblems);

  const artifact = build();
  const osInfo = OS_INFO[cfg.image.os];
  const glance = new GlanceImage(
    "glance",
    {
      file: artifact,
      existingImage: o.existingImage || undefined,
      namePrefix: o.imageName,
      visibility: o.imageVisibility,
      minDiskGb: cfg.image.diskSizeGb,
      minRamMb: o.minRamMb,
      keepOldImages: o.keepOldImages,
      osDistro: osInfo.distro,
      osVersion: osInfo.version,
      tags: ["jupyterhub-vm", `stack:${cfg.stack}`],
    },
    { providers: [provider] },
  );
  if (!cfg.adminPassword) throw new Error("adminPassword missing (validated earlier)");
  const server = new JupyterHubServer(
    "hub",
    {
      serverName: o.serverName || `jupyterhub-${cfg.stack}`,
      imageId: glance.imageId,
      flavor: o.flavor,
      network: o.network,
      floatingIpPool: o.floatingIpPool,
      keyPair: o.keyPair,
      publicKey: o.publicKey,
      sshAllowedCidrs: o.sshAllowedCidrs,
      availabilityZone: o.availabilityZone,
      bootVolumeSizeGb: o.bootVolumeSizeGb,
      dataVolumeSizeGb: o.dataVolumeSizeGb,
      keepDataVolume: o.keepDataVolume,
      hub: cfg.hub,
      adminPassword: cfg.adminPassword,
      waitForHub: o.waitForHub,
      readyTimeoutSeconds: o.readyTimeoutSeconds,
      passwordSalt: new AdminPasswordSalt("admin-password-salt").salt,
      sshUser: osInfo.sshUser,
    },
    { providers: [provider] },
  );
  return {
    target: cfg.target,
    imagePath: artifact ? pulumi.output(artifact.path) : undefined,
    imageSha256: artifact ? pulumi.output(artifact.sha256) : undefined,
    imageId: glance.imageId,
    imageName: glance.imageName,
    hubUrl: server.hubUrl,
    publicIp: server.publicIp,
    sshCommand: server.sshCommand,
    volumeId: server.volumeId,
    userData: server.userData,
  };
}
