/**
 * The OpenStack target's server. A Nova instance booted from the Glance image with cloud-init user-data (cloud-init/render.ts),
 * a security group (80/443 open, 22 only from the configured CIDRs), a key pair (existing or created from a public
 * key), an optional floating IP and an optional persistent data volume that outlives the server. Changing the image
 * replaces the server (never a silent rebuild); the volume is re-attached to the new one.
 *
 * The data volume is one of the server's block devices (Nova attaches it before the guest starts: no race with the
 * first boot, which finds it by its ID on whatever bus Nova chose, cloud-init/render.ts), never deleted with the
 * server. A server is stopped (a clean shutdown: /home unmounted, the hub's SQLite closed) before it is deleted, so
 * on a replacement or destroy Nova detaches the volume from a stopped guest, never from a running one.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import * as command from "@pulumi/command";
import { HubUserData, stackUserData } from "../../cloud-init/render";

export interface JupyterHubServerArgs {
  readonly serverName: string;
  readonly imageId: pulumi.Input<string>;
  readonly flavor: string;
  /** empty: no explicit network (the cloud's default) */
  readonly network: string;
  readonly floatingIpPool: string;
  readonly keyPair: string;
  readonly publicKey: string;
  readonly sshAllowedCidrs: readonly string[];
  readonly availabilityZone: string;
  readonly bootVolumeSizeGb: number;
  readonly dataVolumeSizeGb: number;
  readonly keepDataVolume: boolean;
  /** the stack's hub settings for the first boot (cloud-init/render.ts) */
  readonly hub: HubUserData;
  readonly adminPassword: pulumi.Input<string>;
  /** cloud-init's default user of the OS (for the SSH command output) */
  readonly sshUser: string;
  /** wait until the hub answers on /hub/api (bounded by readyTimeoutSeconds) */
  readonly waitForHub: boolean;
  readonly readyTimeoutSeconds: number;
  /** the admin password hash's salt (targets/password-salt.ts) */
  readonly passwordSalt: pulumi.Input<string>;
}

export class JupyterHubServer extends pulumi.ComponentResource {
  public readonly serverId: pulumi.Output<string>;
  public readonly publicIp: pulumi.Output<string>;
  public readonly hubUrl: pulumi.Output<string>;
  public readonly sshCommand: pulumi.Output<string>;
  public readonly volumeId: pulumi.Output<string | undefined>;
  public readonly userData: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: JupyterHubServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:openstack:JupyterHubServer", name, {}, opts);
    const child = { parent: this };

    const sg = new openstack.networking.SecGroup(
      `${name}-secgroup`,
      { name: `${args.serverName}-web`, description: "JupyterHub: HTTP/HTTPS from anywhere, SSH from listed CIDRs" },
      child,
    );
    const rule = (suffix: string, port: number, cidr: string) =>
      new openstack.networking.SecGroupRule(
        `${name}-${suffix}`,
        {
          securityGroupId: sg.id,
          direction: "ingress",
          ethertype: cidr.includes(":") ? "IPv6" : "IPv4",
          protocol: "tcp",
          portRangeMin: port,
          portRangeMax: port,
          remoteIpPrefix: cidr,
        },
        { parent: sg },
      );
    rule("http", 80, "0.0.0.0/0");
    rule("https", 443, "0.0.0.0/0");
    args.sshAllowedCidrs.forEach((cidr, i) => rule(`ssh-${i}`, 22, cidr));

    let keyPairName: pulumi.Input<string> | undefined = args.keyPair || undefined;
    if (!keyPairName && args.publicKey) {
      const kp = new openstack.compute.Keypair(
        `${name}-keypair`,
        { name: `${args.serverName}-key`, publicKey: args.publicKey },
        child,
      );
      keyPairName = kp.name;
    }

    let volume: openstack.blockstorage.Volume | undefined;
    if (args.dataVolumeSizeGb > 0) {
      volume = new openstack.blockstorage.Volume(
        `${name}-data`,
        {
          name: `${args.serverName}-data`,
          size: args.dataVolumeSizeGb,
          description: "JupyterHub /home and /srv/data: survives server replacement",
          availabilityZone: args.availabilityZone || undefined,
        },
        { ...child, retainOnDelete: args.keepDataVolume, protect: false },
      );
    }

    this.userData = pulumi.secret(
      pulumi
        .all([args.adminPassword, args.passwordSalt, volume ? volume.id : pulumi.output("")])
        .apply(([pw, salt, volId]) =>
          stackUserData(args.hub, pw, salt, { dataVolume: volId ? { serial: volId } : undefined }),
        ),
    );

    // The boot disk: the image, copied to a new volume (bootVolumeSizeGb) or on the hypervisor's local disk; listed
    // explicitly whenever there is a block device list (Nova wants the boot disk in it once any entry is given).
    const bootDisk = (imageId: pulumi.Input<string>) =>
      args.bootVolumeSizeGb > 0
        ? {
            uuid: imageId,
            sourceType: "image",
            destinationType: "volume",
            volumeSize: args.bootVolumeSizeGb,
            bootIndex: 0,
            deleteOnTermination: true,
          }
        : { uuid: imageId, sourceType: "image", destinationType: "local", bootIndex: 0, deleteOnTermination: true };
    // The data volume: attached by Nova before the guest starts (bootIndex -1: never booted from), kept when the
    // server is deleted.
    const dataDisk = (volumeId: pulumi.Input<string>) => ({
      uuid: volumeId,
      sourceType: "volume",
      destinationType: "volume",
      bootIndex: -1,
      deleteOnTermination: false,
    });
    const blockDevices =
      args.bootVolumeSizeGb > 0 || volume
        ? [bootDisk(args.imageId), ...(volume ? [dataDisk(volume.id)] : [])]
        : undefined;

    const server = new openstack.compute.Instance(
      `${name}-server`,
      {
        name: args.serverName,
        imageId: args.bootVolumeSizeGb > 0 ? undefined : args.imageId,
        flavorName: args.flavor,
        keyPair: keyPairName,
        securityGroups: [sg.name],
        networks: args.network ? [{ name: args.network }] : undefined,
        availabilityZone: args.availabilityZone || undefined,
        blockDevices,
        userData: this.userData,
        metadata: { "jupyterhub-vm": "true" },
        // a clean shutdown before Nova deletes it (and detaches the data volume); Nova's own shutdown timeout applies
        stopBeforeDestroy: true,
      },
      {
        ...child,
        // A new image means a new server: never rebuild in place; the data volume is re-attached.
        replaceOnChanges: ["imageId", "blockDevices", "userData"],
        deleteBeforeReplace: true,
        customTimeouts: { create: "30m", delete: "15m" },
      },
    );

    let publicIp: pulumi.Output<string> = server.accessIpV4;
    if (args.floatingIpPool) {
      const fip = new openstack.networking.FloatingIp(
        `${name}-fip`,
        { pool: args.floatingIpPool, description: `${args.serverName}` },
        child,
      );
      // the server's port on its network, found once the server exists
      const port = openstack.networking.getPortOutput({ deviceId: server.id }, child);
      new openstack.networking.FloatingIpAssociate(
        `${name}-fip-assoc`,
        { floatingIp: fip.address, portId: port.id },
        { parent: fip },
      );
      publicIp = fip.address;
    }

    this.serverId = server.id;
    this.publicIp = publicIp;
    this.securityGroupId = sg.id;
    this.volumeId = volume ? volume.id : pulumi.output(undefined);
    const host = args.hub.dnsName || undefined;
    const scheme = args.hub.dnsName && args.hub.letsencryptEmail ? "https" : "http";
    this.hubUrl = publicIp.apply((ip) => `${scheme}://${host ?? ip}${args.hub.baseUrl}`);
    this.sshCommand = publicIp.apply((ip) =>
      args.sshAllowedCidrs.length ? `ssh ${args.sshUser}@${ip}` : "(SSH closed: set openstack.sshAllowedCidrs)",
    );
    if (args.waitForHub) {
      new command.local.Command(
        `${name}-ready`,
        {
          create: "node node_modules/tsx/dist/cli.mjs targets/openstack/wait-for-hub.ts",
          environment: {
            JHVM_HUB_API: pulumi.interpolate`${this.hubUrl}hub/api`,
            JHVM_TIMEOUT: String(args.readyTimeoutSeconds),
            JHVM_SERVER_ID: server.id,
          },
          triggers: [server.id],
          logging: "stderr",
        },
        { parent: server },
      );
    }
    this.registerOutputs({
      serverId: this.serverId,
      publicIp: this.publicIp,
      hubUrl: this.hubUrl,
      sshCommand: this.sshCommand,
      volumeId: this.volumeId,
    });
  }
}
