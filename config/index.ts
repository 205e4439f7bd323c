/**
 * Reads the stack configuration once, validates all of it against `config/schema.ts`, and returns a typed object.
 * Every problem is collected; if there is any, one `ConfigError` lists them all, each naming the key, the bad value
 * and how to fix it. Nothing else in the program reads Pulumi config.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfigModule from "@pulumi/pulumi/runtime/config";

// `isConfigSecret` is exported by the runtime but missing from its type declarations.
const runtimeConfig = runtimeConfigModule as typeof runtimeConfigModule & { isConfigSecret(key: string): boolean };
import { KeySpec, PROJECT, SCHEMA, SectionValues, Target, fullKey } from "./schema";
import { osDefaults } from "./os";
import { ConfigError, setCommand } from "./problems";

export { PROJECT, SCHEMA } from "./schema";

/** Each section's values, typed from `config/schema.ts` (no hand-written copy to keep in step). */
export type ImageConfig = SectionValues<"image">;
export type HubConfig = SectionValues<"hub">;
export type OpenStackConfig = SectionValues<"openstack">;
export type LocalConfig = SectionValues<"local">;

/** What every stack has, whatever its target. */
interface CommonConfig {
  readonly project: string;
  readonly stack: string;
  /** absolute */
  readonly buildDir: string;
  /** absolute, `~` expanded */
  readonly cacheDir: string;
  readonly keepCache: boolean;
  readonly adminPassword?: pulumi.Output<string>;
  readonly image: ImageConfig;
  readonly hub: HubConfig;
}

export interface OpenstackStackConfig extends CommonConfig {
  readonly target: "openstack";
  readonly openstackPassword?: pulumi.Output<string>;
  readonly openstack: OpenStackConfig;
}

export interface LocalStackConfig extends CommonConfig {
  readonly target: "local";
  readonly local: LocalConfig;
}

/** The validated stack config: one of the targets, each with only its own section. */
export type StackConfig = OpenstackStackConfig | LocalStackConfig;

export { ConfigError } from "./problems";

const SECTIONS = ["image", "hub", "openstack", "local"] as const;

/** A value for a message: JSON, shortened, and a URL's password never shown (`http://user:***@proxy`). */
function show(v: unknown): string {
  const s = JSON.stringify(v)?.replace(/(\/\/[^/\s:@"]+:)[^/\s@"]+@/g, "$1***@");
  return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + "..." : s;
}

/**
 * A message about a secret, safe from the engine's masking: the engine replaces every occurrence of a secret's value
 * in the output with "[secret]", so a short secret that happens to be a word of the message ("pass" in "password")
 * would garble it. When the message contains the value, the terse form (key and rule) is used; neither ever shows it.
 */
function secretSafe(message: string, terse: string, value: string): string {
  return value && message.includes(value) ? terse : message;
}

/** IPv4 address: four octets 0-255, no leading zeros. */
function isIpv4(a: string): boolean {
  const o = a.split(".");
  return o.length === 4 && o.every((x) => /^(0|[1-9]\d{0,2})$/.test(x) && Number(x) <= 255);
}

/** Why a CIDR is not valid, or undefined. IPv4 prefix 0-32, IPv6 prefix 0-128. */
function cidrProblem(c: string): string | undefined {
  const [addr, prefix, ...more] = c.split("/");
  if (more.length || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return "needs one /prefix";
  if (addr.includes(":")) {
    if (!/^[0-9a-fA-F:]+$/.test(addr) || (addr.match(/::/g) ?? []).length > 1 || addr.split(":").length > 8)
      return "is not an IPv6 address";
    return Number(prefix) > 128 ? "has an IPv6 prefix above 128" : undefined;
  }
  if (!isIpv4(addr)) return "is not an IPv4 address (four numbers 0-255)";
  return Number(prefix) > 32 ? "has an IPv4 prefix above 32" : undefined;
}

/** Time zones: the tz database's names as this Node.js knows them, plus the host's zoneinfo files. */
function isTimeZone(tz: string): boolean {
  if (tz === "UTC" || tz === "Etc/UTC") return true;
  const known = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone");
  if (known?.includes(tz)) return true;
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return fs.existsSync(path.join("/usr/share/zoneinfo", tz)) && !tz.includes("..");
  }
}

function ck(spec: Pick<KeySpec, "section" | "name">): string {
  return `${fullKey(spec)}`;
}

/** Validates one value against its spec; returns the normalised value or pushes a problem. */
function checkValue(spec: KeySpec, raw: unknown, problems: string[]): unknown {
  const t = spec.type;
  const key = ck(spec);
  const bad = (why: string, fix: string) => {
    problems.push(`${key}: ${show(raw)} ${why}; ${fix}`);
    return undefined;
  };
  switch (t.kind) {
    case "secret":
      return raw;
    case "string": {
      if (typeof raw !== "string") return bad("is not a string", `set a string value`);
      if (raw === "") return t.allowEmpty ? raw : bad("is empty", `set a value (${spec.doc})`);
      if (t.pattern && !t.pattern.test(raw)) return bad("is not valid", `use ${t.patternHint}`);
      return raw;
    }
    case "enum":
      if (typeof raw !== "string" || !t.values.includes(raw))
        return bad("is not allowed", `use one of: ${t.values.join(", ")}`);
      return raw;
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "false") return raw === "true";
      return bad("is not a boolean", "use true or false");
    }
    case "int":
    case "number": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return bad("is not a number", `use a number from ${t.min} to ${t.max}`);
      if (t.kind === "int" && !Number.isInteger(n))
        return bad("is not a whole number", `use a whole number from ${t.min} to ${t.max}`);
      if (n < t.min || n > t.max) return bad("is out of range", `use a number from ${t.min} to ${t.max}`);
      return n;
    }
    case "stringList": {
      if (!Array.isArray(raw)) return bad("is not a list", "use a YAML list of strings");
      const items: string[] = [];
      raw.forEach((item, i) => {
        if (typeof item !== "string") {
          problems.push(`${key}[${i}]: ${show(item)} is not a string; use a string`);
        } else if (t.pattern && !t.pattern.test(item)) {
          problems.push(`${key}[${i}]: ${show(item)} is not valid; use ${t.patternHint}`);
        } else items.push(item);
      });
      if (t.minItems !== undefined && raw.length < t.minItems)
        problems.push(`${key}: ${show(raw)} has fewer than ${t.minItems} item(s); list at least ${t.minItems}`);
      return items;
    }
    case "intList": {
      if (!Array.isArray(raw)) return bad("is not a list", "use a YAML list of numbers");
      return raw;
    }
  }
}

/** The closest known key, for "did you mean" hints. */
function suggest(name: string, known: readonly string[]): string {
  const dist = (a: string, b: string): number => {
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
  };
  const best = [...known].sort(
    (x, y) => dist(name.toLowerCase(), x.toLowerCase()) - dist(name.toLowerCase(), y.toLowerCase()),
  )[0];
  return best && dist(name.toLowerCase(), best.toLowerCase()) <= Math.max(3, name.length / 3)
    ? `did you mean "${best}"?`
    : `known keys: ${known.join(", ")}`;
}

function expandHome(p: string): string {
  return p === "~" ? os.homedir() : p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
}

export interface LoadOptions {
  /** project directory: relative paths in the config are resolved from here (default: cwd) */
  readonly projectDir?: string;
}

/**
 * Reads and validates the whole stack config. Throws `ConfigError` listing every problem.
 */
export function loadConfig(opts: LoadOptions = {}): StackConfig {
  const { config, problems } = readConfig(opts);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Reads and validates the whole stack config, and returns it with every problem found. A key with a bad value gets
 * its default, so the preflight can still check the host and the cloud, and the program reports all problems in
 * one run (index.ts); a config with problems is never deployed.
 */
export function readConfig(opts: LoadOptions = {}): { config: StackConfig; problems: string[] } {
  const projectDir = opts.projectDir ?? process.cwd();
  const cfg = new pulumi.Config(PROJECT);
  const problems: string[] = [];
  const values: Record<string, Record<string, unknown>> = { "": {}, image: {}, hub: {}, openstack: {}, local: {} };

  // Unknown keys in our namespace (typos must not be silently ignored).
  const topNames = SCHEMA.filter((s) => s.section === "").map((s) => s.name);
  const allowedTop = [...topNames, ...SECTIONS];
  for (const k of Object.keys(runtimeConfig.allConfig())) {
    if (!k.startsWith(PROJECT + ":")) continue;
    const name = k.slice(PROJECT.length + 1);
    if (allowedTop.includes(name)) continue;
    const [section, ...rest] = name.split(".");
    if ((SECTIONS as readonly string[]).includes(section) && rest.length) {
      // `pulumi config set local.provider qemu` (no --path) makes a flat key named "local.provider": nothing reads it
      const known = SCHEMA.filter((s) => s.section === section).map((s) => s.name);
      const inner = rest.join(".");
      const secret = runtimeConfig.isConfigSecret(k);
      const value = secret ? "<value>" : (cfg.get(name) ?? "<value>");
      problems.push(
        known.includes(inner)
          ? `${name}: is a flat key (set without --path), so it is not read as ${section}.${inner}; nest it: \`pulumi config rm ${name}\` then ${setCommand(name, value)}`
          : `${name}: unknown key (set without --path, and ${section} has no key ${JSON.stringify(inner)}; ${suggest(inner, known)}); remove it: \`pulumi config rm ${name}\``,
      );
      continue;
    }
    problems.push(`${name}: unknown key; ${suggest(name, allowedTop)}`);
  }

  // Keys in a namespace that is not ours nor a provider's: a misspelled project name is ignored silently otherwise.
  const namespaces = [PROJECT, "pulumi", "openstack", "command"];
  for (const k of Object.keys(runtimeConfig.allConfig())) {
    const ns = k.split(":")[0];
    if (namespaces.includes(ns)) continue;
    const rest = k.slice(ns.length + 1);
    problems.push(
      `${k}: namespace ${JSON.stringify(ns)} is not this project's (${PROJECT}), so nothing reads it; ${suggest(ns, [PROJECT])} set it again with ${setCommand(rest, "<value>")} and remove this one: \`pulumi config rm '${k}'\``,
    );
  }

  // Sections: one structured value each.
  const raw: Record<string, Record<string, unknown>> = { "": {} };
  for (const section of SECTIONS) {
    let obj: unknown;
    try {
      obj = cfg.getObject<unknown>(section);
    } catch (e) {
      problems.push(`${section}: is not valid YAML/JSON (${(e as Error).message}); write it as a mapping`);
      obj = undefined;
    }
    if (obj === undefined || obj === null) obj = {};
    if (typeof obj !== "object" || Array.isArray(obj)) {
      problems.push(`${section}: ${show(obj)} is not a mapping; write it as \`${section}:\` with keys below`);
      obj = {};
    }
    raw[section] = obj as Record<string, unknown>;
    const known = SCHEMA.filter((s) => s.section === section).map((s) => s.name);
    for (const k of Object.keys(raw[section]))
      if (!known.includes(k)) problems.push(`${section}.${k}: unknown key; ${suggest(k, known)}`);
  }

  let adminPassword: pulumi.Output<string> | undefined;
  let openstackPassword: pulumi.Output<string> | undefined;
  for (const spec of SCHEMA) {
    if (spec.type.kind === "secret") {
      const full = spec.name;
      const plain = cfg.get(spec.name);
      if (plain === undefined) continue;
      if (!runtimeConfig.isConfigSecret(`${PROJECT}:${spec.name}`)) {
        problems.push(
          `${full}: is stored in plain text; set it as a secret: \`pulumi config set --secret ${spec.name}\` (and rotate it: it was in your stack file)`,
        );
        continue;
      }
      if (spec.name === "adminPassword" && plain.length < 12)
        problems.push(
          secretSafe(
            `${full}: (secret) is shorter than 12 characters; choose a longer password`,
            `${full}: (secret) rule: 12+ chars; set a longer one`,
            plain,
          ),
        );
      if (plain === "") problems.push(`${full}: (secret) is empty; set a value or remove the key`);
      const secret = cfg.requireSecret(spec.name);
      if (spec.name === "adminPassword") adminPassword = secret;
      else openstackPassword = secret;
      continue;
    }
    const source = spec.section === "" ? undefined : raw[spec.section];
    const given = spec.section === "" ? cfg.get(spec.name) : source?.[spec.name];
    const value = given === undefined ? spec.default : checkValue(spec, given, problems);
    values[spec.section][spec.name] = value === undefined ? spec.default : value;
  }

  const top = values[""];
  const image = values.image as unknown as ImageConfig;
  const hub = values.hub as unknown as HubConfig;
  const ostack = values.openstack as unknown as OpenStackConfig;
  const local = values.local as unknown as LocalConfig;
  const target = top.target as Target;

  // ------------------------------------------------------------------ cross-key rules
  if (target === "openstack") {
    if (!ostack.cloud)
      problems.push(`openstack.cloud: is empty but target is openstack; set the cloud name from your clouds.yaml`);
    if (!ostack.flavor)
      problems.push(
        `openstack.flavor: is empty but target is openstack; set a flavor name (\`openstack flavor list\`)`,
      );
    if (!adminPassword && cfg.get("adminPassword") === undefined)
      problems.push(
        `adminPassword: is not set but target is openstack; run \`pulumi config set --secret adminPassword\``,
      );
  }
  if (target === "local" && ostack.existingImage)
    problems.push(
      `openstack.existingImage: ${show(ostack.existingImage)} is a Glance image but target is local; remove it or use target openstack`,
    );
  if (image.source === "file") {
    if (!image.file)
      problems.push(`image.file: is empty but image.source is file; set the path of the image file to deploy`);
    else {
      const p = path.resolve(projectDir, expandHome(image.file));
      if (!fs.existsSync(p) || !fs.statSync(p).isFile())
        problems.push(`image.file: ${show(image.file)} does not exist; give the path of an existing image file`);
      else if (!/\.(qcow2|img|raw|vmdk)$/i.test(p))
        problems.push(
          `image.file: ${show(image.file)} has an unknown extension; use a .qcow2, .raw/.img or .vmdk file`,
        );
    }
  } else if (image.file) {
    problems.push(
      `image.file: ${show(image.file)} is set but image.source is iso; run ${setCommand("image.source", "file")} or remove image.file`,
    );
  }
  if (/^(https:\/\/|ssh:\/\/|git@)/.test(hub.content) && !/#[^#\s]+$/.test(hub.content))
    problems.push(
      `hub.content: ${show(hub.content)} is a git URL without a ref; pin it like https://host/repo.git#v1.0`,
    );
  if (hub.letsencryptEmail && !hub.dnsName)
    problems.push(
      `hub.letsencryptEmail: ${show(hub.letsencryptEmail)} needs hub.dnsName; set hub.dnsName or remove the e-mail`,
    );
  if (target === "openstack" && ostack.bootVolumeSizeGb > 0 && ostack.bootVolumeSizeGb < image.diskSizeGb)
    problems.push(
      `openstack.bootVolumeSizeGb: ${ostack.bootVolumeSizeGb} is smaller than image.diskSizeGb (${image.diskSizeGb}), the image's disk; set it to ${image.diskSizeGb} or more, or 0 to boot from the flavor's disk`,
    );
  if (ostack.existingImage && image.source === "file")
    problems.push(
      `openstack.existingImage: ${show(ostack.existingImage)} and image.source file (${show(image.file)}) both name the image to deploy; keep one: remove openstack.existingImage, or image.source and image.file`,
    );
  if ((hub.authenticator === "firstuse" || hub.authenticator === "native") && hub.admins.length > 1) {
    const [first, ...rest] = hub.admins;
    problems.push(
      `hub.admins: ${show(hub.admins)} with hub.authenticator ${hub.authenticator}: only ${JSON.stringify(first)} gets adminPassword at first boot, so the first visitor to sign in as ${rest.map((a) => JSON.stringify(a)).join(" or ")} would set its password and be an admin; list only ${JSON.stringify(first)} (make others admins on the hub's admin page once they signed in), or use hub.authenticator pam`,
    );
  }
  if (ostack.keyPair && ostack.publicKey)
    problems.push(`openstack.publicKey: is set together with openstack.keyPair; use one of them`);
  if (image.builder === "virtualbox" && image.source === "iso")
    problems.push(
      `image.builder: "virtualbox" makes a Vagrant box, but the final image is provisioned from a qcow2 base image (the Vagrant path is not implemented yet); use builder qemu, or build the box with packer/ by hand`,
    );
  // ------------------------------------------------------------------ formats a pattern cannot express
  ostack.sshAllowedCidrs.forEach((c, i) => {
    const why = cidrProblem(c);
    if (why)
      problems.push(
        `openstack.sshAllowedCidrs[${i}]: ${show(c)} ${why}; use a CIDR like 192.0.2.0/24 or 2001:db8::/32`,
      );
  });
  if (local.ip && !isIpv4(local.ip))
    problems.push(
      `local.ip: ${show(local.ip)} is not an IPv4 address (four numbers 0-255); use one like 192.168.56.10`,
    );
  const supported = "/usr/share/i18n/SUPPORTED"; // glibc's list, as on the Debian/Ubuntu images
  if (
    fs.existsSync(supported) &&
    !fs
      .readFileSync(supported, "utf8")
      .split("\n")
      .some((l) => l.split(" ")[0] === image.locale)
  )
    problems.push(
      `image.locale: ${show(image.locale)} is not a locale glibc supports (${supported}); use one like en_US.UTF-8 or de_DE.UTF-8`,
    );
  if (!isTimeZone(image.timezone))
    problems.push(
      `image.timezone: ${show(image.timezone)} is not in the tz database; use a name like Europe/Berlin or UTC (\`timedatectl list-timezones\`)`,
    );
  if (image.isoLocalPath && !fs.existsSync(path.resolve(projectDir, expandHome(image.isoLocalPath))))
    problems.push(
      `image.isoLocalPath: ${show(image.isoLocalPath)} does not exist; give the path of the downloaded ISO, or remove the key to download it`,
    );
  if (hub.content) {
    const c = hub.content;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(c) || /^[^/\s]+@[^:\s]+:/.test(c)) {
      if (!/^(https:\/\/|ssh:\/\/|git@)/.test(c))
        problems.push(
          `hub.content: ${show(c)} is not an https or ssh git URL; use https://host/repo.git#ref or git@host:repo.git#ref`,
        );
    } else {
      const dir = path.resolve(projectDir, expandHome(c));
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
        problems.push(
          `hub.content: ${show(c)} is not a directory (resolved to ${dir}); give a directory of notebooks, or a git URL pinned to a ref`,
        );
    }
  }

  if (target === "local") {
    if (
      local.dataDir &&
      !fs.statSync(path.resolve(projectDir, expandHome(local.dataDir)), { throwIfNoEntry: false })?.isDirectory()
    )
      problems.push(`local.dataDir: ${show(local.dataDir)} is not a directory; create it or change the key`);
    const guestPorts = [80, ...local.forwardPorts.map((p) => Number(p.split(":")[1]))];
    const guestDup = guestPorts.find((p, i) => guestPorts.indexOf(p) !== i);
    if (guestDup !== undefined)
      problems.push(
        `local.forwardPorts: ${show(local.forwardPorts)} forwards to guest port ${guestDup} twice${guestDup === 80 ? " (guest port 80 is the hub's, forwarded from local.httpPort)" : ""}; forward each guest port once`,
      );
    const hostPorts = [local.httpPort, ...local.forwardPorts.map((p) => Number(p.split(":")[0]))];
    const dup = hostPorts.find((p, i) => hostPorts.indexOf(p) !== i);
    if (dup !== undefined)
      problems.push(
        `local.forwardPorts: ${show(local.forwardPorts)} uses host port ${dup} twice (httpPort is ${local.httpPort}); give every forward its own host port`,
      );
    const bad = local.forwardPorts.filter((p) => p.split(":").some((n) => Number(n) < 1 || Number(n) > 65535));
    if (bad.length) problems.push(`local.forwardPorts: ${show(bad)} has a port outside 1-65535; use ports 1-65535`);
    if (local.dataDiskGb > 0 && local.provider !== "qemu")
      problems.push(
        `local.dataDiskGb: ${local.dataDiskGb} needs local.provider qemu (the vagrant-libvirt runner has no data disk yet); run ${setCommand("local.provider", "qemu")}, or set local.dataDiskGb to 0`,
      );
    if (local.dataDiskGb > 0 && local.dataDir)
      problems.push(
        `local.dataDir: ${show(local.dataDir)} and local.dataDiskGb (${local.dataDiskGb}) would both be /srv/data; keep users' data on the data disk (remove dataDir) or in the host folder (dataDiskGb: 0)`,
      );
    if (local.provider === "vagrant-libvirt" && /^192\.168\.121\./.test(local.ip))
      problems.push(
        `local.ip: ${show(local.ip)} is in 192.168.121.0/24, vagrant-libvirt's management network; pick an address in another private range (e.g. 192.168.56.10)`,
      );
  }
  if (target === "local" && image.exportFormat !== "qcow2" && image.source === "iso")
    problems.push(
      `image.exportFormat: ${show(image.exportFormat)} is not what the local target runs; use qcow2 (raw/vmdk are for clouds that need them)`,
    );

  // ISO: URL and checksum from the config, else from the OS variable file.
  let isoUrl = image.isoUrl;
  let isoSha256 = image.isoSha256;
  if (image.source === "iso" && !problems.some((p) => p.startsWith("image.os:"))) {
    const d = osDefaults(image.os);
    if (!isoUrl) isoUrl = d.isoUrl ?? "";
    if (!image.isoUrl && !isoSha256) isoSha256 = d.isoSha256 ?? "";
    if (!isoUrl)
      problems.push(`image.isoUrl: is empty and packer/os/${image.os}.pkrvars.hcl pins none; set image.isoUrl`);
    if (image.isoUrl && !image.isoSha256 && !image.isoSha256SumsUrl)
      problems.push(
        `image.isoSha256: is empty for a custom image.isoUrl; set image.isoSha256 or image.isoSha256SumsUrl (an ISO is never used unverified)`,
      );
    if (!isoSha256 && !image.isoSha256SumsUrl && !image.isoUrl)
      problems.push(`image.isoSha256: packer/os/${image.os}.pkrvars.hcl pins no checksum; set image.isoSha256`);
  }

  const common: CommonConfig = {
    project: pulumi.getProject(),
    stack: pulumi.getStack(),
    buildDir: path.resolve(projectDir, expandHome(top.buildDir as string)),
    cacheDir: path.resolve(projectDir, expandHome(top.cacheDir as string)),
    keepCache: top.keepCache as boolean,
    adminPassword,
    image: {
      ...image,
      isoUrl,
      isoSha256,
      file: image.file ? path.resolve(projectDir, expandHome(image.file)) : "",
      isoLocalPath: image.isoLocalPath ? path.resolve(projectDir, expandHome(image.isoLocalPath)) : "",
    },
    hub,
  };
  if (target === "openstack") return { config: { ...common, target, openstackPassword, openstack: ostack }, problems };
  return {
    config: {
      ...common,
      target: "local",
      local: { ...local, dataDir: local.dataDir ? path.resolve(projectDir, expandHome(local.dataDir)) : "" },
    },
    problems,
  };
}
