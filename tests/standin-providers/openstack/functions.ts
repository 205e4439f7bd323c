/**
 * The data sources (invokes) of the STAND-IN openstack provider (test infrastructure only: ../README.md), with the
 * function tokens, argument and result names of @pulumi/openstack 3.15.2 and the real provider's error texts.
 */
import { Props } from "../lib/values";
import { client } from "./resources";
import { isNotFound } from "./client";

const NO_RESULTS = "Your query returned no results. Please change your search criteria and try again.";
const MANY_RESULTS = "Your query returned more than one result. Please try a more specific search criteria";
const enc = encodeURIComponent;

function qs(params: Record<string, unknown>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

async function getFlavor(a: Props): Promise<Props> {
  const c = client();
  let flavors: Props[];
  if (a.flavorId) {
    flavors = [(await c.get("compute", `/flavors/${enc(String(a.flavorId))}`)).flavor as Props];
  } else {
    const access = a.isPublic === undefined ? "None" : a.isPublic ? "true" : "false";
    flavors =
      ((await c.get("compute", `/flavors/detail${qs({ is_public: access, minRam: a.minRam, minDisk: a.minDisk })}`))
        .flavors as Props[]) ?? [];
    const eq = (k: string, v: unknown) => (f: Props) =>
      v === undefined || v === null || Number(f[k] ?? 0) === Number(v);
    flavors = flavors
      .filter((f) => a.name === undefined || f.name === a.name)
      .filter(eq("vcpus", a.vcpus))
      .filter(eq("ram", a.ram))
      .filter(eq("disk", a.disk))
      .filter(eq("swap", a.swap))
      .filter(eq("rxtx_factor", a.rxTxFactor));
  }
  if (flavors.length === 0) throw new Error(NO_RESULTS);
  if (flavors.length > 1) throw new Error(MANY_RESULTS);
  const f = flavors[0];
  let extraSpecs: Props = {};
  try {
    extraSpecs = ((await c.get("compute", `/flavors/${enc(String(f.id))}/os-extra_specs`)).extra_specs as Props) ?? {};
  } catch {
    extraSpecs = {};
  }
  return {
    ...a,
    id: f.id,
    flavorId: f.id,
    name: f.name,
    vcpus: f.vcpus,
    ram: f.ram,
    disk: f.disk,
    swap: f.swap === "" || f.swap === undefined ? 0 : Number(f.swap),
    rxTxFactor: f.rxtx_factor ?? 1,
    isPublic: f["os-flavor-access:is_public"] ?? true,
    description: f.description ?? "",
    extraSpecs,
    region: c.region,
  };
}

async function getNetwork(a: Props): Promise<Props> {
  const c = client();
  const nets =
    ((
      await c.get(
        "network",
        `/networks${qs({
          name: a.name,
          id: a.networkId,
          status: a.status,
          tenant_id: a.tenantId,
          "router:external": a.external,
          description: a.description,
          mtu: a.mtu,
          tags: Array.isArray(a.tags) ? (a.tags as string[]).join(",") : undefined,
        })}`,
      )
    ).networks as Props[]) ?? [];
  let found = nets;
  if (a.matchingSubnetCidr) {
    const subnets =
      ((await c.get("network", `/subnets${qs({ cidr: a.matchingSubnetCidr })}`)).subnets as Props[]) ?? [];
    const ids = new Set(subnets.map((s) => s.network_id));
    found = nets.filter((n) => ids.has(n.id));
  }
  if (found.length === 0) throw new Error(NO_RESULTS);
  if (found.length > 1) throw new Error(MANY_RESULTS);
  const n = found[0];
  return {
    ...a,
    id: n.id,
    networkId: n.id,
    name: n.name,
    description: n.description ?? "",
    adminStateUp: String(n.admin_state_up ?? true),
    shared: String(n.shared ?? false),
    external: Boolean(n["router:external"]),
    mtu: n.mtu ?? 0,
    status: n.status,
    subnets: n.subnets ?? [],
    availabilityZoneHints: n.availability_zone_hints ?? [],
    allTags: n.tags ?? [],
    dnsDomain: n.dns_domain ?? "",
    tenantId: n.tenant_id ?? n.project_id,
    transparentVlan: Boolean(n.vlan_transparent ?? false),
    segments: ((n.segments as Props[]) ?? [n]).map((s) => ({
      networkType: s["provider:network_type"] ?? "",
      physicalNetwork: s["provider:physical_network"] ?? "",
      segmentationId: s["provider:segmentation_id"] ?? 0,
    })),
    region: c.region,
  };
}

async function getKeypair(a: Props): Promise<Props> {
  const c = client();
  let kp: Props;
  try {
    kp = (await c.get("compute", `/os-keypairs/${enc(String(a.name))}${qs({ user_id: a.userId })}`)).keypair as Props;
  } catch (e) {
    if (isNotFound(e)) throw new Error(`Error retrieving openstack_compute_keypair_v2 ${a.name}: Resource not found`);
    throw e;
  }
  return {
    ...a,
    id: kp.name,
    name: kp.name,
    fingerprint: kp.fingerprint,
    publicKey: kp.public_key,
    userId: kp.user_id ?? c.userId,
    region: c.region,
  };
}

const GLANCE_STANDARD = new Set([
  "id", "name", "status", "visibility", "protected", "checksum", "owner", "size", "virtual_size", "min_ram",
  "min_disk", "created_at", "updated_at", "tags", "self", "file", "schema", "disk_format", "container_format",
  "direct_url", "locations",
]); // prettier-ignore

async function getImage(a: Props): Promise<Props> {
  const c = client();
  const imgs =
    ((
      await c.get(
        "image",
        `/images${qs({
          name: a.name,
          visibility: a.visibility,
          owner: a.owner,
          tag: a.tag,
          member_status: a.memberStatus,
          size_min: a.sizeMin,
          size_max: a.sizeMax,
          sort_key: a.sortKey,
          sort_dir: a.sortDirection,
          container_format: a.containerFormat,
          disk_format: a.diskFormat,
          os_hidden: a.hidden,
          limit: 1000,
        })}`,
      )
    ).images as Props[]) ?? [];
  let found = imgs;
  if (a.nameRegex) {
    const re = new RegExp(String(a.nameRegex));
    found = found.filter((i) => re.test(String(i.name)));
  }
  const wantProps = (a.properties as Record<string, string> | undefined) ?? {};
  found = found.filter((i) => Object.entries(wantProps).every(([k, v]) => i[k] === v));
  const wantTags = (a.tags as string[] | undefined) ?? [];
  found = found.filter((i) => wantTags.every((t) => ((i.tags as string[]) ?? []).includes(t)));
  if (found.length === 0) throw new Error(NO_RESULTS);
  if (found.length > 1 && !a.mostRecent) throw new Error(`${MANY_RESULTS}, or set \`most_recent\` attribute to true.`);
  const img = [...found].sort((x, y) => String(y.created_at).localeCompare(String(x.created_at)))[0];
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(img))
    if (!GLANCE_STANDARD.has(k)) properties[k] = typeof v === "string" ? v : JSON.stringify(v);
  return {
    ...a,
    id: img.id,
    name: img.name,
    checksum: img.checksum ?? "",
    containerFormat: img.container_format,
    diskFormat: img.disk_format,
    createdAt: img.created_at,
    updatedAt: img.updated_at,
    file: img.file,
    schema: img.schema,
    metadata: {},
    minDiskGb: img.min_disk,
    minRamMb: img.min_ram,
    owner: img.owner,
    protected: img.protected,
    hidden: img.os_hidden ?? false,
    sizeBytes: img.size ?? 0,
    tags: img.tags ?? [],
    visibility: img.visibility,
    properties,
    region: c.region,
  };
}

async function getPort(a: Props): Promise<Props> {
  const c = client();
  const ports =
    ((
      await c.get(
        "network",
        `/ports${qs({
          id: a.portId,
          name: a.name,
          description: a.description,
          tenant_id: a.tenantId,
          project_id: a.projectId,
          network_id: a.networkId,
          admin_state_up: a.adminStateUp,
          mac_address: a.macAddress,
          device_owner: a.deviceOwner,
          device_id: a.deviceId,
          status: a.status,
          dns_name: a.dnsName,
          tags: Array.isArray(a.tags) ? (a.tags as string[]).join(",") : undefined,
        })}`,
      )
    ).ports as Props[]) ?? [];
  let found = ports;
  if (a.fixedIp) found = found.filter((p) => ((p.fixed_ips as Props[]) ?? []).some((f) => f.ip_address === a.fixedIp));
  const sgs = (a.securityGroupIds as string[] | undefined) ?? [];
  if (sgs.length) found = found.filter((p) => sgs.every((g) => ((p.security_groups as string[]) ?? []).includes(g)));
  if (found.length === 0) throw new Error("No Port found");
  if (found.length > 1) throw new Error(`More than one Port found (${found.length})`);
  const p = found[0];
  return {
    ...a,
    id: p.id,
    portId: p.id,
    name: p.name ?? "",
    description: p.description ?? "",
    networkId: p.network_id,
    deviceId: p.device_id ?? "",
    deviceOwner: p.device_owner ?? "",
    macAddress: p.mac_address ?? "",
    adminStateUp: p.admin_state_up ?? true,
    allFixedIps: ((p.fixed_ips as Props[]) ?? []).map((f) => f.ip_address),
    allSecurityGroupIds: p.security_groups ?? [],
    allTags: p.tags ?? [],
    tenantId: p.tenant_id ?? p.project_id,
    projectId: p.project_id ?? p.tenant_id,
    dnsName: p.dns_name ?? "",
    dnsAssignments: p.dns_assignment ?? [],
    extraDhcpOptions: [],
    bindings: [
      {
        hostId: p["binding:host_id"] ?? "",
        profile: JSON.stringify(p["binding:profile"] ?? {}),
        vifDetails: p["binding:vif_details"] ?? {},
        vifType: p["binding:vif_type"] ?? "",
        vnicType: p["binding:vnic_type"] ?? "",
      },
    ],
    region: c.region,
  };
}

export const FUNCTIONS: Record<string, (args: Props) => Promise<Props>> = {
  "openstack:compute/getFlavor:getFlavor": getFlavor,
  "openstack:networking/getNetwork:getNetwork": getNetwork,
  "openstack:compute/getKeypair:getKeypair": getKeypair,
  "openstack:images/getImage:getImage": getImage,
  "openstack:networking/getPort:getPort": getPort,
};
