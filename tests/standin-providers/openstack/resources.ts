/**
 * The resources of the STAND-IN openstack provider (test infrastructure only: ../README.md). Property names are
 * those of @pulumi/openstack 3.15.2 (camelCase of terraform-provider-openstack's schema); replace-vs-update follows
 * the Terraform schema's ForceNew flags and CustomizeDiff rules of the provider version behind it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { Ctx, InitError, ResourceHandler } from "../lib/server";
import { Props, secret } from "../lib/values";
import { OpenStack, OpenStackError, isNotFound, waitFor } from "./client";

let cloud: OpenStack | undefined;
export function setClient(c: OpenStack) {
  cloud = c;
}
export function client(): OpenStack {
  if (!cloud) throw new Error("the openstack provider is not configured");
  return cloud;
}

const enc = encodeURIComponent;

/** Copies the keys of `from` that are set into a new object (inputs passed through to the outputs). */
function pick(from: Props, keys: readonly string[]): Props {
  const o: Props = {};
  for (const k of keys) if (from[k] !== undefined && from[k] !== null) o[k] = from[k];
  return o;
}

async function networkIdByName(name: string, external?: boolean): Promise<string> {
  const q = `name=${enc(name)}${external === undefined ? "" : `&router:external=${external}`}`;
  const nets = ((await client().get("network", `/networks?${q}`)).networks as Props[]) ?? [];
  if (nets.length === 0) throw new Error(`No networking network found with name ${JSON.stringify(name)}`);
  if (nets.length > 1) throw new Error(`More than one networking network found with name ${JSON.stringify(name)}`);
  return String(nets[0].id);
}

async function networkName(id: string): Promise<string> {
  try {
    const n = (await client().get("network", `/networks/${enc(id)}`)).network as Props;
    return String(n.name ?? "");
  } catch (e) {
    if (isNotFound(e)) return "";
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// images/image:Image (openstack_images_image_v2)

const GLANCE_STANDARD = new Set([
  "id", "name", "status", "visibility", "protected", "checksum", "owner", "size", "virtual_size", "min_ram",
  "min_disk", "created_at", "updated_at", "tags", "self", "file", "schema", "disk_format", "container_format",
  "direct_url", "locations", "stores",
]); // prettier-ignore

/** properties Glance itself sets (os_distro, os_version, ... are ordinary user properties) */
const GLANCE_READONLY = /^(os_hidden|os_hash_algo|os_hash_value|os_glance_.*|owner_specified\..*)$/;

/** custom (user) properties of a Glance image: what the API returns beside the standard fields and os_* ones */
function glanceCustomProps(img: Props): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(img)) {
    if (GLANCE_STANDARD.has(k) || GLANCE_READONLY.test(k)) continue;
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

const IMAGE_INPUTS = [
  "name", "localFilePath", "imageSourceUrl", "imageSourceUsername", "imageSourcePassword", "imageCachePath",
  "webDownload", "decompress", "verifyChecksum", "containerFormat", "diskFormat", "minDiskGb", "minRamMb",
  "protected", "hidden", "visibility", "tags", "properties", "imageId",
]; // prettier-ignore

function imageOutputs(img: Props, inputs: Props): Props {
  const userProps = (inputs.properties as Record<string, string> | undefined) ?? {};
  const live = glanceCustomProps(img);
  const properties: Record<string, string> = {};
  for (const k of Object.keys(userProps)) if (k in live) properties[k] = live[k];
  return {
    ...pick(inputs, IMAGE_INPUTS),
    name: img.name,
    containerFormat: img.container_format,
    diskFormat: img.disk_format,
    minDiskGb: img.min_disk,
    minRamMb: img.min_ram,
    protected: img.protected,
    hidden: img.os_hidden ?? false,
    visibility: img.visibility,
    tags: img.tags ?? [],
    properties,
    checksum: img.checksum ?? "",
    createdAt: img.created_at,
    updatedAt: img.updated_at,
    updateAt: img.updated_at,
    file: img.file,
    schema: img.schema,
    sizeBytes: img.size ?? 0,
    status: img.status,
    owner: img.owner,
    metadata: {},
    region: client().region,
  };
}

async function md5AndUpload(ctx: Ctx, id: string, file: string): Promise<string> {
  const size = fs.statSync(file).size;
  const md5 = crypto.createHash("md5");
  async function* chunks() {
    for await (const c of fs.createReadStream(file, { highWaterMark: 4 << 20 })) {
      md5.update(c as Buffer);
      yield c as Buffer;
    }
  }
  ctx.log("info", `uploading ${file} (${size} bytes) to image ${id}`, true);
  await client().request("image", "PUT", `/images/${id}/file`, {
    body: chunks(),
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
  });
  return md5.digest("hex");
}

const image: ResourceHandler = {
  replaceOn: [
    "containerFormat", "diskFormat", "localFilePath", "imageSourceUrl", "minDiskGb", "minRamMb", "region",
    "imageId", "decompress",
  ], // prettier-ignore
  setKeys: ["tags"],
  defaults: { visibility: "private", minDiskGb: 0, minRamMb: 0, protected: false },
  autoName: true,
  computed: ["checksum", "createdAt", "updatedAt", "updateAt", "file", "schema", "sizeBytes", "status", "owner",
    "metadata", "region", "hidden", "properties"], // prettier-ignore
  validate(i) {
    const f = [];
    if (!["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"].includes(String(i.containerFormat)))
      f.push({ property: "containerFormat", reason: `invalid containerFormat ${JSON.stringify(i.containerFormat)}` });
    if (
      !["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"].includes(
        String(i.diskFormat),
      )
    )
      f.push({ property: "diskFormat", reason: `invalid diskFormat ${JSON.stringify(i.diskFormat)}` });
    if (!["public", "private", "shared", "community"].includes(String(i.visibility)))
      f.push({ property: "visibility", reason: `invalid visibility ${JSON.stringify(i.visibility)}` });
    if (i.localFilePath && i.imageSourceUrl)
      f.push({ property: "localFilePath", reason: "conflicts with imageSourceUrl" });
    return f;
  },
  async create(ctx, i) {
    if (!i.localFilePath)
      throw new Error("stand-in provider: only localFilePath uploads are implemented (not imageSourceUrl/webDownload)");
    const file = String(i.localFilePath);
    if (!fs.existsSync(file)) throw new Error(`Error opening file for Image: stat ${file}: no such file or directory`);
    const body: Props = {
      name: i.name,
      container_format: i.containerFormat,
      disk_format: i.diskFormat,
      min_disk: i.minDiskGb ?? 0,
      min_ram: i.minRamMb ?? 0,
      protected: i.protected ?? false,
      visibility: i.visibility ?? "private",
      ...((i.properties as Props) ?? {}),
    };
    if (i.tags) body.tags = i.tags;
    if (i.hidden !== undefined) body.os_hidden = i.hidden;
    if (i.imageId) body.id = i.imageId;
    const img = await client().post("image", "/images", body);
    const id = String(img.id);
    try {
      const md5 = await md5AndUpload(ctx, id, file);
      const done = await waitFor(ctx, `image ${id} to become active`, 30 * 60, async () => {
        const cur = await client().get("image", `/images/${id}`);
        if (cur.status === "active") return cur;
        if (!["queued", "saving", "importing", "uploading"].includes(String(cur.status)))
          throw new Error(`Error waiting for Image: unexpected state '${cur.status}', wanted target 'active'`);
        return undefined;
      });
      if (i.verifyChecksum !== false && done.checksum !== md5)
        throw new Error(`Error wrong checksum: got ${JSON.stringify(done.checksum)}, expected ${JSON.stringify(md5)}`);
      return { id, outs: imageOutputs(done, i) };
    } catch (e) {
      throw new InitError((e as Error).message, id, { ...pick(i, IMAGE_INPUTS) });
    }
  },
  async read(_ctx, id, _state, inputs) {
    let img: Props;
    try {
      img = await client().get("image", `/images/${enc(id)}`);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    if (img.status === "deleted" || img.status === "killed") return undefined;
    const outs = imageOutputs(img, inputs);
    const live = glanceCustomProps(img);
    const newInputs: Props = { ...inputs };
    if (Object.keys(inputs).length) {
      newInputs.name = img.name;
      newInputs.visibility = img.visibility;
      newInputs.minDiskGb = img.min_disk;
      newInputs.minRamMb = img.min_ram;
      newInputs.protected = img.protected;
      if (inputs.tags !== undefined || (img.tags as string[])?.length) newInputs.tags = img.tags;
      if (inputs.properties !== undefined || Object.keys(live).length) newInputs.properties = live;
    }
    return { outs, inputs: Object.keys(inputs).length ? newInputs : undefined };
  },
  async update(_ctx, id, _state, o, n, changed) {
    const ops: Props[] = [];
    if (changed.includes("name")) ops.push({ op: "replace", path: "/name", value: n.name });
    if (changed.includes("visibility")) ops.push({ op: "replace", path: "/visibility", value: n.visibility });
    if (changed.includes("protected")) ops.push({ op: "replace", path: "/protected", value: n.protected ?? false });
    if (changed.includes("hidden")) ops.push({ op: "replace", path: "/os_hidden", value: n.hidden ?? false });
    if (changed.includes("tags")) ops.push({ op: "replace", path: "/tags", value: n.tags ?? [] });
    if (changed.includes("properties")) {
      const op = (o.properties as Record<string, string>) ?? {};
      const np = (n.properties as Record<string, string>) ?? {};
      for (const [k, v] of Object.entries(np)) {
        if (k.startsWith("os_") || k === "direct_url") continue;
        if (!(k in op)) ops.push({ op: "add", path: `/${k}`, value: v });
        else if (op[k] !== v) ops.push({ op: "replace", path: `/${k}`, value: v });
      }
      for (const k of Object.keys(op)) if (!(k in np)) ops.push({ op: "remove", path: `/${k}` });
    }
    if (ops.length)
      await client().request("image", "PATCH", `/images/${enc(id)}`, {
        json: ops,
        headers: { "Content-Type": "application/openstack-images-v2.1-json-patch" },
      });
    const img = await client().get("image", `/images/${enc(id)}`);
    return imageOutputs(img, n);
  },
  async delete(_ctx, id) {
    await client().del("image", `/images/${enc(id)}`);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// compute/instance:Instance (openstack_compute_instance_v2)

const INSTANCE_INPUTS = [
  "name", "imageId", "imageName", "flavorId", "flavorName", "keyPair", "securityGroups", "networks",
  "availabilityZone", "availabilityZoneHints", "blockDevices", "userData", "metadata", "configDrive", "adminPass",
  "tags", "powerState", "schedulerHints", "personalities", "stopBeforeDestroy", "forceDelete", "networkMode",
  "vendorOptions", "hypervisorHostname",
]; // prettier-ignore

const sha1 = (s: string) => crypto.createHash("sha1").update(s).digest("hex");

async function serverGet(id: string): Promise<Props | undefined> {
  try {
    return (await client().get("compute", `/servers/${enc(id)}`)).server as Props;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function waitServer(ctx: Ctx, id: string, target: string[], pending: string[], what: string): Promise<Props> {
  return waitFor(ctx, `instance (${id}) to ${what}`, 30 * 60, async () => {
    const s = await serverGet(id);
    if (!s) throw new Error(`instance ${id} disappeared while waiting for it to ${what}`);
    const st = String(s.status);
    if (target.includes(st)) return s;
    if (st === "ERROR") {
      const fault = (s.fault as Props | undefined)?.message ?? "no fault message";
      throw new Error(`Error waiting for instance (${id}) to ${what}: instance is in ERROR state: ${fault}`);
    }
    if (pending.length && !pending.includes(st)) {
      const fault = (s.fault as Props | undefined)?.message;
      throw new Error(
        `Error waiting for instance (${id}) to ${what}: unexpected state '${st}', wanted target '${target.join(", ")}'` +
          (fault ? `: ${fault}` : ""),
      );
    }
    return undefined;
  });
}

async function flavorIdFor(i: Props): Promise<string> {
  if (i.flavorId) return String(i.flavorId);
  if (!i.flavorName) throw new Error("One of flavorId or flavorName must be set");
  const flavors = ((await client().get("compute", "/flavors/detail?is_public=None")).flavors as Props[]) ?? [];
  const m = flavors.filter((f) => f.name === i.flavorName);
  if (m.length === 0) throw new Error(`No Flavor found with name: ${i.flavorName}`);
  if (m.length > 1) throw new Error(`More than one Flavor found with name: ${i.flavorName}`);
  return String(m[0].id);
}

async function imageIdFor(i: Props): Promise<string> {
  const bds = (i.blockDevices as Props[] | undefined) ?? [];
  if (bds.some((b) => Number(b.bootIndex ?? -1) === 0 && b.sourceType !== "blank")) return "";
  if (i.imageId) return String(i.imageId);
  if (i.imageName) {
    const imgs = ((await client().get("image", `/images?name=${enc(String(i.imageName))}`)).images as Props[]) ?? [];
    if (imgs.length !== 1) throw new Error(`Error resolving image name ${i.imageName}: found ${imgs.length} images`);
    return String(imgs[0].id);
  }
  throw new Error("Neither a boot device, image ID, or image name were able to be determined.");
}

interface NetOut {
  uuid: string;
  name: string;
  port: string;
  fixedIpV4: string;
  fixedIpV6: string;
  mac: string;
  accessNetwork: boolean;
}

async function instanceNetworks(id: string, cfg: Props[]): Promise<NetOut[]> {
  const ifaces =
    ((await client().get("compute", `/servers/${enc(id)}/os-interface`)).interfaceAttachments as Props[]) ?? [];
  const all: NetOut[] = [];
  for (const f of ifaces) {
    const ips = ((f.fixed_ips as Props[]) ?? []).map((x) => String(x.ip_address));
    all.push({
      uuid: String(f.net_id),
      name: await networkName(String(f.net_id)),
      port: String(f.port_id),
      fixedIpV4: ips.find((x) => !x.includes(":")) ?? "",
      fixedIpV6: ips.find((x) => x.includes(":")) ?? "",
      mac: String(f.mac_addr ?? ""),
      accessNetwork: false,
    });
  }
  if (!cfg.length) return all;
  // in the configured order, each configured network matched to one interface (as the real provider reports them)
  const left = [...all];
  return cfg.map((c) => {
    const idx = left.findIndex(
      (n) => (c.port && n.port === c.port) || (c.uuid && n.uuid === c.uuid) || (c.name && n.name === c.name),
    );
    const n = idx >= 0 ? left.splice(idx, 1)[0] : undefined;
    return {
      uuid: n?.uuid ?? String(c.uuid ?? ""),
      name: n?.name ?? String(c.name ?? ""),
      port: n?.port ?? String(c.port ?? ""),
      fixedIpV4: n?.fixedIpV4 ?? String(c.fixedIpV4 ?? ""),
      fixedIpV6: n?.fixedIpV6 ?? String(c.fixedIpV6 ?? ""),
      mac: n?.mac ?? "",
      accessNetwork: Boolean(c.accessNetwork ?? false),
    };
  });
}

async function instanceOutputs(s: Props, i: Props): Promise<Props> {
  const id = String(s.id);
  const networks = await instanceNetworks(id, (i.networks as Props[]) ?? []);
  const access = networks.find((n) => n.accessNetwork) ?? networks[0];
  let flavorId = String((s.flavor as Props)?.id ?? "");
  let flavorName = String((s.flavor as Props)?.original_name ?? "");
  if (flavorId && !flavorName) {
    try {
      flavorName = String(((await client().get("compute", `/flavors/${enc(flavorId)}`)).flavor as Props).name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      flavorId = "";
    }
  }
  const imageId = typeof s.image === "object" && s.image ? String((s.image as Props).id ?? "") : "";
  let imageName = "";
  if (imageId) {
    try {
      imageName = String((await client().get("image", `/images/${enc(imageId)}`)).name ?? "");
    } catch (e) {
      if (!isNotFound(e)) throw e;
      imageName = "Image not found";
    }
  }
  const sgs = [...new Set(((s.security_groups as Props[]) ?? []).map((g) => String(g.name)))];
  const outs: Props = {
    ...pick(i, INSTANCE_INPUTS),
    name: s.name,
    imageId: i.imageId ?? (imageId || undefined),
    imageName: i.imageName ?? (imageName || undefined),
    flavorId: flavorId || i.flavorId,
    flavorName: flavorName || i.flavorName,
    keyPair: s.key_name ?? i.keyPair ?? "",
    securityGroups: sgs,
    networks,
    accessIpV4: access?.fixedIpV4 || String(s.accessIPv4 ?? ""),
    accessIpV6: access?.fixedIpV6 || String(s.accessIPv6 ?? ""),
    availabilityZone: s["OS-EXT-AZ:availability_zone"] ?? i.availabilityZone ?? "",
    allMetadata: s.metadata ?? {},
    allTags: s.tags ?? [],
    powerState: String(s.status).toLowerCase(),
    created: s.created,
    updated: s.updated,
    region: client().region,
  };
  if (i.userData !== undefined) outs.userData = sha1(String(i.userData));
  if (i.adminPass !== undefined) outs.adminPass = secret(i.adminPass);
  return outs;
}

async function serverAction(id: string, action: Props) {
  await client().request("compute", "POST", `/servers/${enc(id)}/action`, { json: action });
}

const instance: ResourceHandler = {
  replaceOn: [
    "availabilityZone", "availabilityZoneHints", "blockDevices", "configDrive", "keyPair", "networks",
    "networkMode", "region", "userData", "schedulerHints", "hypervisorHostname",
  ], // prettier-ignore
  // OpenStack cannot resize an instance whose original flavor was deleted: then a flavor change replaces it
  replaceIf: (k, o) => (k === "flavorId" || k === "flavorName") && o === "",
  setKeys: ["securityGroups", "tags"],
  defaults: { powerState: "active", stopBeforeDestroy: false, forceDelete: false },
  autoName: true,
  computed: [
    "accessIpV4", "accessIpV6", "allMetadata", "allTags", "availabilityZone", "flavorId", "flavorName",
    "imageId", "imageName", "networks", "securityGroups", "created", "updated", "region", "keyPair",
  ], // prettier-ignore
  validate(i) {
    const f = [];
    if (!i.flavorId && !i.flavorName)
      f.push({ property: "flavorId", reason: "one of flavorId or flavorName must be set" });
    if (i.availabilityZone && i.availabilityZoneHints)
      f.push({ property: "availabilityZone", reason: "conflicts with availabilityZoneHints" });
    return f;
  },
  async create(ctx, i) {
    const [imageRef, flavorRef] = await Promise.all([imageIdFor(i), flavorIdFor(i)]);
    const server: Props = { name: i.name, imageRef, flavorRef };
    const nets = (i.networks as Props[] | undefined) ?? [];
    if (i.networkMode) server.networks = i.networkMode;
    else if (nets.length) {
      server.networks = await Promise.all(
        nets.map(async (n) => {
          const o: Props = {};
          if (n.port) o.port = n.port;
          else o.uuid = n.uuid || (await networkIdByName(String(n.name)));
          if (n.fixedIpV4) o.fixed_ip = n.fixedIpV4;
          else if (n.fixedIpV6) o.fixed_ip = n.fixedIpV6;
          return o;
        }),
      );
    }
    const sgs = (i.securityGroups as string[] | undefined) ?? [];
    if (sgs.length) server.security_groups = sgs.map((name) => ({ name }));
    if (i.keyPair) server.key_name = i.keyPair;
    if (i.userData) server.user_data = Buffer.from(String(i.userData)).toString("base64");
    if (i.metadata) server.metadata = i.metadata;
    const az = i.availabilityZone || i.availabilityZoneHints;
    if (az) server.availability_zone = az;
    if (i.configDrive !== undefined) server.config_drive = i.configDrive;
    if (i.adminPass) server.adminPass = i.adminPass;
    const bds = (i.blockDevices as Props[] | undefined) ?? [];
    if (bds.length) {
      server.block_device_mapping_v2 = bds.map((b) => {
        const m: Props = {
          source_type: b.sourceType,
          destination_type: b.destinationType,
          delete_on_termination: b.deleteOnTermination ?? false,
        };
        if (b.uuid) m.uuid = b.uuid;
        if (b.volumeSize) m.volume_size = b.volumeSize;
        if (b.bootIndex !== undefined) m.boot_index = b.bootIndex;
        if (b.guestFormat) m.guest_format = b.guestFormat;
        if (b.volumeType) m.volume_type = b.volumeType;
        if (b.deviceType) m.device_type = b.deviceType;
        if (b.diskBus) m.disk_bus = b.diskBus;
        return m;
      });
    }
    const body: Props = { server };
    if (i.schedulerHints) {
      const h = ((i.schedulerHints as Props[]) ?? [])[0] ?? {};
      const hints: Props = {};
      if (h.group) hints.group = h.group;
      if ((h.differentHosts as string[] | undefined)?.length) hints.different_host = h.differentHosts;
      if ((h.sameHosts as string[] | undefined)?.length) hints.same_host = h.sameHosts;
      body["os:scheduler_hints"] = hints;
    }
    const created = (await client().post("compute", "/servers", body, [202])).server as Props;
    const id = String(created.id);
    try {
      const s = await waitServer(ctx, id, ["ACTIVE"], ["BUILD"], "become ready");
      if (String(i.powerState ?? "active").toLowerCase() === "shutoff") {
        await serverAction(id, { "os-stop": null });
        await waitServer(ctx, id, ["SHUTOFF"], [], "become inactive(shutoff)");
      }
      return { id, outs: await instanceOutputs((await serverGet(id)) ?? s, i) };
    } catch (e) {
      throw new InitError((e as Error).message, id, {
        ...pick(i, INSTANCE_INPUTS),
        ...(i.userData !== undefined ? { userData: sha1(String(i.userData)) } : {}),
      });
    }
  },
  async read(_ctx, id, _state, inputs) {
    const s = await serverGet(id);
    if (!s || s.status === "DELETED" || s.status === "SOFT_DELETED") return undefined;
    const outs = await instanceOutputs(s, inputs);
    if (!Object.keys(inputs).length) return { outs };
    const newInputs: Props = { ...inputs, name: s.name };
    if (inputs.metadata !== undefined) newInputs.metadata = s.metadata;
    if (inputs.securityGroups !== undefined) newInputs.securityGroups = outs.securityGroups;
    if (inputs.flavorName !== undefined) newInputs.flavorName = outs.flavorName;
    if (inputs.flavorId !== undefined) newInputs.flavorId = outs.flavorId;
    if (inputs.keyPair !== undefined) newInputs.keyPair = outs.keyPair;
    return { outs, inputs: newInputs };
  },
  async update(ctx, id, _state, o, n, changed) {
    if (changed.includes("name")) await client().put("compute", `/servers/${enc(id)}`, { server: { name: n.name } });
    if (changed.includes("powerState")) {
      const want = String(n.powerState ?? "active").toLowerCase();
      if (want === "shutoff") {
        await serverAction(id, { "os-stop": null });
        await waitServer(ctx, id, ["SHUTOFF"], [], "become inactive(shutoff)");
      } else if (want === "active") {
        await serverAction(id, { "os-start": null });
        await waitServer(ctx, id, ["ACTIVE"], [], "become active");
      } else throw new Error(`stand-in provider: powerState ${want} is not implemented`);
    }
    if (changed.includes("metadata")) {
      const om = (o.metadata as Record<string, string>) ?? {};
      const nm = (n.metadata as Record<string, string>) ?? {};
      for (const k of Object.keys(om))
        if (!(k in nm)) await client().del("compute", `/servers/${enc(id)}/metadata/${enc(k)}`);
      await client().post("compute", `/servers/${enc(id)}/metadata`, { metadata: nm });
    }
    if (changed.includes("securityGroups")) {
      const os = new Set((o.securityGroups as string[]) ?? []);
      const ns = new Set((n.securityGroups as string[]) ?? []);
      // what the server has now: an interrupted earlier update may have added/removed some already
      const live = new Set((((await serverGet(id))?.security_groups as Props[]) ?? []).map((g) => String(g.name)));
      for (const g of os)
        if (!ns.has(g) && live.has(g))
          await serverAction(id, { removeSecurityGroup: { name: g } }).catch((e) => {
            if (!isNotFound(e)) throw e;
          });
      for (const g of ns) if (!os.has(g) && !live.has(g)) await serverAction(id, { addSecurityGroup: { name: g } });
    }
    if (changed.includes("adminPass")) await serverAction(id, { changePassword: { adminPass: n.adminPass } });
    if (changed.includes("flavorId") || changed.includes("flavorName")) {
      const flavorRef = await flavorIdFor(changed.includes("flavorId") ? n : { flavorName: n.flavorName });
      await serverAction(id, { resize: { flavorRef } });
      await waitServer(ctx, id, ["VERIFY_RESIZE"], ["RESIZE"], "resize");
      await serverAction(id, { confirmResize: null });
      await waitServer(ctx, id, ["ACTIVE", "SHUTOFF"], ["VERIFY_RESIZE"], "confirm resize");
    }
    if (changed.includes("imageId") || changed.includes("imageName")) {
      const imageRef = await imageIdFor(n);
      await serverAction(id, { rebuild: { imageRef } });
      await waitServer(ctx, id, ["ACTIVE", "SHUTOFF"], ["REBUILD"], "rebuild");
    }
    if (changed.includes("tags")) {
      await client().request("compute", "PUT", `/servers/${enc(id)}/tags`, {
        json: { tags: n.tags ?? [] },
        headers: { "OpenStack-API-Version": "compute 2.26" },
      });
    }
    if (changed.includes("personalities"))
      throw new Error("stand-in provider: changing personalities (a rebuild) is not implemented");
    const s = await serverGet(id);
    if (!s) throw new Error(`instance ${id} disappeared during the update`);
    return instanceOutputs(s, n);
  },
  async delete(ctx, id, state) {
    const s = await serverGet(id);
    if (!s) return;
    if (state.stopBeforeDestroy && s.status === "ACTIVE") {
      await serverAction(id, { "os-stop": null }).catch(() => undefined);
      await waitServer(ctx, id, ["SHUTOFF"], [], "stop").catch(() => undefined);
    }
    if (state.forceDelete) await serverAction(id, { forceDelete: null });
    else await client().del("compute", `/servers/${enc(id)}`);
    await waitFor(ctx, `instance (${id}) to be deleted`, 30 * 60, async () => {
      const cur = await serverGet(id);
      return !cur || cur.status === "DELETED" || cur.status === "SOFT_DELETED" ? true : undefined;
    });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// compute/keypair:Keypair (openstack_compute_keypair_v2)

const keypair: ResourceHandler = {
  replaceOn: ["name", "publicKey", "region", "userId", "valueSpecs"],
  autoName: true,
  computed: ["fingerprint", "privateKey", "region", "userId", "publicKey"],
  async create(_ctx, i) {
    const kp: Props = { name: i.name };
    if (i.publicKey) kp.public_key = i.publicKey;
    if (i.userId) kp.user_id = i.userId;
    const r = (
      await client().post("compute", "/os-keypairs", { keypair: { ...kp, ...((i.valueSpecs as Props) ?? {}) } })
    ).keypair as Props;
    return {
      id: String(r.name),
      outs: {
        ...pick(i, ["name", "publicKey", "userId", "valueSpecs"]),
        publicKey: r.public_key ?? i.publicKey,
        fingerprint: r.fingerprint,
        privateKey: secret(String(r.private_key ?? "")),
        userId: r.user_id ?? i.userId ?? client().userId,
        region: client().region,
      },
    };
  },
  async read(_ctx, id, state, inputs) {
    let r: Props;
    try {
      r = (await client().get("compute", `/os-keypairs/${enc(id)}`)).keypair as Props;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    return {
      outs: { ...state, name: r.name, publicKey: r.public_key, fingerprint: r.fingerprint, region: client().region },
      inputs: Object.keys(inputs).length ? { ...inputs, name: r.name } : undefined,
    };
  },
  async update(_ctx, _id, state) {
    return state; // every input is ForceNew
  },
  async delete(_ctx, id) {
    await client().del("compute", `/os-keypairs/${enc(id)}`);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// networking/secGroup:SecGroup (openstack_networking_secgroup_v2)

async function putTags(kind: string, id: string, tags: unknown) {
  await client().put("network", `/${kind}/${enc(id)}/tags`, { tags: (tags as string[]) ?? [] });
}

function secGroupOutputs(g: Props, i: Props): Props {
  return {
    ...pick(i, ["name", "description", "deleteDefaultRules", "tags", "stateful"]),
    name: g.name,
    description: g.description ?? "",
    tenantId: g.tenant_id ?? g.project_id,
    allTags: g.tags ?? [],
    region: client().region,
  };
}

const secGroup: ResourceHandler = {
  replaceOn: ["region", "tenantId", "deleteDefaultRules"],
  setKeys: ["tags"],
  autoName: true,
  computed: ["tenantId", "allTags", "region", "description"],
  async create(_ctx, i) {
    const sg: Props = { name: i.name, description: i.description ?? "" };
    if (i.tenantId) sg.tenant_id = i.tenantId;
    if (i.stateful !== undefined) sg.stateful = i.stateful;
    const g = (await client().post("network", "/security-groups", { security_group: sg })).security_group as Props;
    const id = String(g.id);
    try {
      if (i.deleteDefaultRules)
        for (const r of (g.security_group_rules as Props[]) ?? [])
          await client().del("network", `/security-group-rules/${enc(String(r.id))}`);
      if ((i.tags as string[] | undefined)?.length) await putTags("security-groups", id, i.tags);
      const cur = (await client().get("network", `/security-groups/${id}`)).security_group as Props;
      return { id, outs: secGroupOutputs(cur, i) };
    } catch (e) {
      throw new InitError((e as Error).message, id, pick(i, ["name", "description", "deleteDefaultRules", "tags"]));
    }
  },
  async read(_ctx, id, _state, inputs) {
    let g: Props;
    try {
      g = (await client().get("network", `/security-groups/${enc(id)}`)).security_group as Props;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const newInputs = Object.keys(inputs).length
      ? { ...inputs, name: g.name, ...(inputs.description !== undefined ? { description: g.description } : {}) }
      : undefined;
    return { outs: secGroupOutputs(g, inputs), inputs: newInputs };
  },
  async update(_ctx, id, _state, _o, n, changed) {
    const upd: Props = {};
    if (changed.includes("name")) upd.name = n.name;
    if (changed.includes("description")) upd.description = n.description ?? "";
    if (changed.includes("stateful")) upd.stateful = n.stateful;
    if (Object.keys(upd).length) await client().put("network", `/security-groups/${enc(id)}`, { security_group: upd });
    if (changed.includes("tags")) await putTags("security-groups", id, n.tags);
    const g = (await client().get("network", `/security-groups/${enc(id)}`)).security_group as Props;
    return secGroupOutputs(g, n);
  },
  async delete(ctx, id) {
    // a group still used by a port (a server being deleted) answers 409 for a while: retry, as the real one does
    await waitFor(ctx, `security group ${id} to delete`, 10 * 60, async () => {
      try {
        await client().del("network", `/security-groups/${enc(id)}`);
        return true;
      } catch (e) {
        if (e instanceof OpenStackError && e.status === 409) return undefined;
        throw e;
      }
    });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// networking/secGroupRule:SecGroupRule (openstack_networking_secgroup_rule_v2)

const RULE_INPUTS = [
  "securityGroupId", "direction", "ethertype", "protocol", "portRangeMin", "portRangeMax", "remoteIpPrefix",
  "remoteGroupId", "remoteAddressGroupId", "description", "tenantId",
]; // prettier-ignore

function ruleOutputs(r: Props, i: Props): Props {
  return {
    ...pick(i, RULE_INPUTS),
    securityGroupId: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol ?? "",
    portRangeMin: r.port_range_min ?? 0,
    portRangeMax: r.port_range_max ?? 0,
    remoteIpPrefix: r.remote_ip_prefix ?? "",
    remoteGroupId: r.remote_group_id ?? "",
    description: r.description ?? "",
    tenantId: r.tenant_id ?? r.project_id,
    region: client().region,
  };
}

const secGroupRule: ResourceHandler = {
  replaceOn: [...RULE_INPUTS, "region"],
  computed: ["tenantId", "region", "portRangeMin", "portRangeMax", "remoteIpPrefix", "remoteGroupId", "protocol"],
  validate(i) {
    const f = [];
    if (!["ingress", "egress"].includes(String(i.direction)))
      f.push({
        property: "direction",
        reason: `direction must be ingress or egress, not ${JSON.stringify(i.direction)}`,
      });
    if (!["IPv4", "IPv6"].includes(String(i.ethertype)))
      f.push({ property: "ethertype", reason: `ethertype must be IPv4 or IPv6, not ${JSON.stringify(i.ethertype)}` });
    if (!i.securityGroupId) f.push({ property: "securityGroupId", reason: "securityGroupId is required" });
    return f;
  },
  async create(_ctx, i) {
    const rule: Props = {
      security_group_id: i.securityGroupId,
      direction: i.direction,
      ethertype: i.ethertype,
    };
    if (i.protocol) rule.protocol = i.protocol;
    if (i.portRangeMin) rule.port_range_min = i.portRangeMin;
    if (i.portRangeMax) rule.port_range_max = i.portRangeMax;
    if (i.remoteIpPrefix) rule.remote_ip_prefix = i.remoteIpPrefix;
    if (i.remoteGroupId) rule.remote_group_id = i.remoteGroupId;
    if (i.remoteAddressGroupId) rule.remote_address_group_id = i.remoteAddressGroupId;
    if (i.description) rule.description = i.description;
    if (i.tenantId) rule.tenant_id = i.tenantId;
    const r = (await client().post("network", "/security-group-rules", { security_group_rule: rule }))
      .security_group_rule as Props;
    return { id: String(r.id), outs: ruleOutputs(r, i) };
  },
  async read(_ctx, id, _state, inputs) {
    try {
      const r = (await client().get("network", `/security-group-rules/${enc(id)}`)).security_group_rule as Props;
      return { outs: ruleOutputs(r, inputs) };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  },
  async update(_ctx, _id, state) {
    return state; // every input is ForceNew
  },
  async delete(_ctx, id) {
    await client().del("network", `/security-group-rules/${enc(id)}`);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// networking/floatingIp:FloatingIp (openstack_networking_floatingip_v2)

async function fipGet(id: string): Promise<Props | undefined> {
  try {
    return (await client().get("network", `/floatingips/${enc(id)}`)).floatingip as Props;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function fipOutputs(f: Props, i: Props): Promise<Props> {
  return {
    ...pick(i, ["pool", "description", "portId", "fixedIp", "subnetId", "subnetIds", "tenantId", "tags",
      "valueSpecs", "dnsName", "dnsDomain"]), // prettier-ignore
    address: f.floating_ip_address,
    pool: i.pool ?? (await networkName(String(f.floating_network_id))),
    portId: f.port_id ?? "",
    fixedIp: f.fixed_ip_address ?? "",
    description: f.description ?? "",
    tenantId: f.tenant_id ?? f.project_id,
    subnetId: f.subnet_id ?? i.subnetId ?? "",
    dnsName: f.dns_name ?? i.dnsName ?? "",
    dnsDomain: f.dns_domain ?? i.dnsDomain ?? "",
    allTags: f.tags ?? [],
    region: client().region,
  };
}

const floatingIp: ResourceHandler = {
  replaceOn: ["pool", "address", "subnetId", "tenantId", "valueSpecs", "dnsName", "dnsDomain", "region"],
  setKeys: ["tags", "subnetIds"],
  computed: ["address", "portId", "fixedIp", "tenantId", "allTags", "region", "subnetId", "dnsName", "dnsDomain"],
  async create(ctx, i) {
    if (!i.pool) throw new Error("stand-in provider: pool is required (OS_POOL_NAME is not read)");
    const fip: Props = { floating_network_id: await networkIdByName(String(i.pool)) };
    if (i.address) fip.floating_ip_address = i.address;
    if (i.description) fip.description = i.description;
    if (i.portId) fip.port_id = i.portId;
    if (i.fixedIp) fip.fixed_ip_address = i.fixedIp;
    if (i.subnetId) fip.subnet_id = i.subnetId;
    if (i.tenantId) fip.tenant_id = i.tenantId;
    if (i.dnsName) fip.dns_name = i.dnsName;
    if (i.dnsDomain) fip.dns_domain = i.dnsDomain;
    Object.assign(fip, (i.valueSpecs as Props) ?? {});
    const f = (await client().post("network", "/floatingips", { floatingip: fip })).floatingip as Props;
    const id = String(f.id);
    const done = await waitFor(ctx, `floating IP ${id} to become active`, 10 * 60, async () => {
      const cur = await fipGet(id);
      if (!cur) throw new Error(`floating IP ${id} disappeared`);
      return ["ACTIVE", "DOWN"].includes(String(cur.status)) ? cur : undefined;
    });
    if ((i.tags as string[] | undefined)?.length) await putTags("floatingips", id, i.tags);
    return { id, outs: await fipOutputs(done, i) };
  },
  async read(_ctx, id, _state, inputs) {
    const f = await fipGet(id);
    if (!f) return undefined;
    const newInputs = Object.keys(inputs).length
      ? { ...inputs, ...(inputs.description !== undefined ? { description: f.description } : {}) }
      : undefined;
    return { outs: await fipOutputs(f, inputs), inputs: newInputs };
  },
  async update(_ctx, id, _state, _o, n, changed) {
    const upd: Props = {};
    if (changed.includes("description")) upd.description = n.description ?? "";
    if (changed.includes("portId")) upd.port_id = n.portId || null;
    if (changed.includes("fixedIp")) upd.fixed_ip_address = n.fixedIp || null;
    if (Object.keys(upd).length) await client().put("network", `/floatingips/${enc(id)}`, { floatingip: upd });
    if (changed.includes("tags")) await putTags("floatingips", id, n.tags);
    const f = await fipGet(id);
    if (!f) throw new Error(`floating IP ${id} disappeared during the update`);
    return fipOutputs(f, n);
  },
  async delete(ctx, id) {
    await client().del("network", `/floatingips/${enc(id)}`);
    await waitFor(ctx, `floating IP ${id} to be deleted`, 10 * 60, async () => ((await fipGet(id)) ? undefined : true));
  },
};

// ---------------------------------------------------------------------------------------------------------------
// networking/floatingIpAssociate:FloatingIpAssociate (openstack_networking_floatingip_associate_v2)

const floatingIpAssociate: ResourceHandler = {
  replaceOn: ["floatingIp", "region"],
  computed: ["fixedIp", "region"],
  async create(_ctx, i) {
    const found =
      ((await client().get("network", `/floatingips?floating_ip_address=${enc(String(i.floatingIp))}`))
        .floatingips as Props[]) ?? [];
    if (found.length !== 1)
      throw new Error(`Unable to get ID of floating IP ${i.floatingIp}: found ${found.length} floating IPs`);
    const id = String(found[0].id);
    const upd: Props = { port_id: i.portId };
    if (i.fixedIp) upd.fixed_ip_address = i.fixedIp;
    const f = (await client().put("network", `/floatingips/${enc(id)}`, { floatingip: upd })).floatingip as Props;
    return {
      id,
      outs: { floatingIp: i.floatingIp, portId: f.port_id, fixedIp: f.fixed_ip_address ?? "", region: client().region },
    };
  },
  async read(_ctx, id, state, inputs) {
    const f = await fipGet(id);
    if (!f || !f.port_id) return undefined;
    const outs = { ...state, floatingIp: f.floating_ip_address, portId: f.port_id, fixedIp: f.fixed_ip_address ?? "" };
    const newInputs = Object.keys(inputs).length ? { ...inputs, portId: f.port_id } : undefined;
    return { outs, inputs: newInputs };
  },
  async update(_ctx, id, _state, _o, n, changed) {
    const upd: Props = {};
    if (changed.includes("portId")) upd.port_id = n.portId;
    if (changed.includes("fixedIp") || (changed.includes("portId") && n.fixedIp))
      upd.fixed_ip_address = n.fixedIp || null;
    const f = (await client().put("network", `/floatingips/${enc(id)}`, { floatingip: upd })).floatingip as Props;
    return { floatingIp: n.floatingIp, portId: f.port_id, fixedIp: f.fixed_ip_address ?? "", region: client().region };
  },
  async delete(_ctx, id) {
    try {
      await client().put("network", `/floatingips/${enc(id)}`, { floatingip: { port_id: null } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};

// ---------------------------------------------------------------------------------------------------------------
// blockstorage/volume:Volume (openstack_blockstorage_volume_v3)

async function volumeGet(id: string): Promise<Props | undefined> {
  try {
    return (await client().get("volume", `/volumes/${enc(id)}`)).volume as Props;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

const VOLUME_INPUTS = [
  "name", "size", "description", "availabilityZone", "metadata", "volumeType", "imageId", "snapshotId",
  "sourceVolId", "backupId", "consistencyGroupId", "sourceReplica", "multiattach", "enableOnlineResize",
  "schedulerHints",
]; // prettier-ignore

function volumeOutputs(v: Props, i: Props): Props {
  return {
    ...pick(i, VOLUME_INPUTS),
    name: v.name ?? "",
    size: v.size,
    description: v.description ?? "",
    availabilityZone: v.availability_zone ?? "",
    volumeType: v.volume_type ?? "",
    metadata: i.metadata ?? {},
    attachments: ((v.attachments as Props[]) ?? []).map((a) => ({
      id: a.attachment_id ?? a.id,
      instanceId: a.server_id,
      device: a.device ?? "",
    })),
    region: client().region,
  };
}

async function waitVolume(ctx: Ctx, id: string, target: string[], pending: string[], what: string) {
  return waitFor(ctx, `volume (${id}) to ${what}`, 10 * 60, async () => {
    const v = await volumeGet(id);
    if (!v) throw new Error(`volume ${id} disappeared while waiting for it to ${what}`);
    const st = String(v.status);
    if (target.includes(st)) return v;
    if (st.startsWith("error") || !pending.includes(st))
      throw new Error(`Error waiting for volume (${id}) to ${what}: status '${st}'`);
    return undefined;
  });
}

const volume: ResourceHandler = {
  replaceOn: [
    "availabilityZone", "volumeType", "imageId", "snapshotId", "sourceVolId", "backupId", "consistencyGroupId",
    "sourceReplica", "region", "schedulerHints", "multiattach",
  ], // prettier-ignore
  // a smaller size cannot be applied in place: Terraform's CustomizeDiff forces a new volume
  replaceIf: (k, o, n) => k === "size" && Number(n) < Number(o),
  autoName: true,
  computed: ["attachments", "availabilityZone", "volumeType", "region", "description"],
  validate(i) {
    return i.size === undefined ? [{ property: "size", reason: "size is required" }] : [];
  },
  async create(ctx, i) {
    const vol: Props = { size: i.size, name: i.name };
    if (i.description) vol.description = i.description;
    if (i.availabilityZone) vol.availability_zone = i.availabilityZone;
    if (i.metadata) vol.metadata = i.metadata;
    if (i.volumeType) vol.volume_type = i.volumeType;
    if (i.imageId) vol.imageRef = i.imageId;
    if (i.snapshotId) vol.snapshot_id = i.snapshotId;
    if (i.sourceVolId) vol.source_volid = i.sourceVolId;
    if (i.backupId) vol.backup_id = i.backupId;
    if (i.consistencyGroupId) vol.consistencygroup_id = i.consistencyGroupId;
    if (i.multiattach) vol.multiattach = true;
    const v = (await client().post("volume", "/volumes", { volume: vol }, [202])).volume as Props;
    const id = String(v.id);
    try {
      const done = await waitVolume(ctx, id, ["available"], ["downloading", "creating"], "become ready");
      return { id, outs: volumeOutputs(done, i) };
    } catch (e) {
      throw new InitError((e as Error).message, id, pick(i, VOLUME_INPUTS));
    }
  },
  async read(_ctx, id, _state, inputs) {
    const v = await volumeGet(id);
    if (!v || v.status === "deleting") return undefined;
    const newInputs = Object.keys(inputs).length
      ? {
          ...inputs,
          name: v.name,
          size: v.size,
          ...(inputs.description !== undefined ? { description: v.description } : {}),
          ...(inputs.metadata !== undefined ? { metadata: v.metadata } : {}),
        }
      : undefined;
    return { outs: volumeOutputs(v, inputs), inputs: newInputs };
  },
  async update(ctx, id, _state, o, n, changed) {
    const upd: Props = {};
    if (changed.includes("name")) upd.name = n.name ?? "";
    if (changed.includes("description")) upd.description = n.description ?? "";
    if (changed.includes("metadata")) upd.metadata = n.metadata ?? {};
    if (Object.keys(upd).length) await client().put("volume", `/volumes/${enc(id)}`, { volume: upd });
    if (changed.includes("size") && Number(n.size) > Number(o.size)) {
      const cur = await volumeGet(id);
      if (cur?.status === "in-use" && !n.enableOnlineResize)
        throw new Error("Error extending volume: the volume is attached and enableOnlineResize is not set");
      await client().request("volume", "POST", `/volumes/${enc(id)}/action`, {
        json: { "os-extend": { new_size: n.size } },
        headers: cur?.status === "in-use" ? { "OpenStack-API-Version": "volume 3.42" } : {},
      });
      await waitVolume(ctx, id, ["available", "in-use"], ["extending"], "extend");
    }
    const v = await volumeGet(id);
    if (!v) throw new Error(`volume ${id} disappeared during the update`);
    return volumeOutputs(v, n);
  },
  async delete(ctx, id) {
    const v = await volumeGet(id);
    if (!v) return;
    // detach from every server first, as the real provider does
    for (const a of (v.attachments as Props[]) ?? []) {
      await client().del("compute", `/servers/${enc(String(a.server_id))}/os-volume_attachments/${enc(id)}`);
    }
    if (((v.attachments as Props[]) ?? []).length)
      await waitVolume(ctx, id, ["available"], ["in-use", "detaching", "attaching"], "detach");
    await client().del("volume", `/volumes/${enc(id)}`);
    await waitFor(ctx, `volume (${id}) to be deleted`, 10 * 60, async () => {
      const cur = await volumeGet(id);
      if (!cur) return true;
      if (String(cur.status).startsWith("error")) throw new Error(`volume ${id} went to status ${cur.status}`);
      return undefined;
    });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// compute/volumeAttach:VolumeAttach (openstack_compute_volume_attach_v2)

async function attachmentGet(serverId: string, volumeId: string): Promise<Props | undefined> {
  try {
    return (await client().get("compute", `/servers/${enc(serverId)}/os-volume_attachments/${enc(volumeId)}`))
      .volumeAttachment as Props;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

const volumeAttach: ResourceHandler = {
  replaceOn: ["instanceId", "volumeId", "device", "multiattach", "region"],
  computed: ["device", "region"],
  async create(ctx, i) {
    const att: Props = { volumeId: i.volumeId };
    if (i.device) att.device = i.device;
    const r = (
      await client().post("compute", `/servers/${enc(String(i.instanceId))}/os-volume_attachments`, {
        volumeAttachment: att,
      })
    ).volumeAttachment as Props;
    const id = `${i.instanceId}/${i.volumeId}`;
    try {
      await waitFor(ctx, `volume ${i.volumeId} to attach`, 10 * 60, () =>
        attachmentGet(String(i.instanceId), String(i.volumeId)),
      );
      // Nova attaches asynchronously: wait until Cinder shows it, so that the attachment is usable when we return
      await waitVolume(ctx, String(i.volumeId), ["in-use"], ["available", "reserved", "attaching"], "attach");
      return {
        id,
        outs: {
          ...pick(i, ["instanceId", "volumeId", "multiattach", "vendorOptions"]),
          device: r.device ?? "",
          region: client().region,
        },
      };
    } catch (e) {
      throw new InitError((e as Error).message, id, pick(i, ["instanceId", "volumeId", "multiattach"]));
    }
  },
  async read(_ctx, id, state) {
    const [sid, vid] = id.split("/");
    const a = await attachmentGet(sid, vid);
    if (!a) return undefined;
    return { outs: { ...state, instanceId: sid, volumeId: vid, device: a.device ?? "", region: client().region } };
  },
  async update(_ctx, _id, state) {
    return state;
  },
  async delete(ctx, id) {
    const [sid, vid] = id.split("/");
    await client().del("compute", `/servers/${enc(sid)}/os-volume_attachments/${enc(vid)}`);
    await waitFor(ctx, `volume ${vid} to detach`, 10 * 60, async () =>
      (await attachmentGet(sid, vid)) ? undefined : true,
    );
    const v = await volumeGet(vid).catch(() => undefined);
    if (v && v.status !== "available")
      await waitVolume(ctx, vid, ["available"], ["in-use", "detaching"], "detach").catch((e) => {
        ctx.log("warning", `volume ${vid} after detach: ${(e as Error).message}`);
      });
  },
};

export const RESOURCES: Record<string, ResourceHandler> = {
  "openstack:images/image:Image": image,
  "openstack:compute/instance:Instance": instance,
  "openstack:compute/keypair:Keypair": keypair,
  "openstack:networking/secGroup:SecGroup": secGroup,
  "openstack:networking/secGroupRule:SecGroupRule": secGroupRule,
  "openstack:networking/floatingIp:FloatingIp": floatingIp,
  "openstack:networking/floatingIpAssociate:FloatingIpAssociate": floatingIpAssociate,
  "openstack:blockstorage/volume:Volume": volume,
  "openstack:compute/volumeAttach:VolumeAttach": volumeAttach,
};
