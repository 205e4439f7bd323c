/**
 * The OpenStack target's preflight: before anything is built, the cloud entry is found in clouds.yaml and every
 * cloud resource the stack names is looked up, all at once, so that a typo fails the preview with one message per
 * problem (key, value, the provider's reason, the fix) instead of failing after a 30-minute build.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { OpenstackStackConfig } from "../../config";
import { throwIfProblems } from "../../config/problems";

/** Where the provider (gophercloud's clientconfig) looks for clouds.yaml, in its order; the first file found wins. */
export function cloudsYamlCandidates(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const home = os.homedir();
  const dirs = [cwd, path.join(home, ".config/openstack"), "/etc/openstack"];
  return [
    ...(env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE] : []),
    ...["clouds.yaml", "clouds.yml"].flatMap((f) => dirs.map((d) => path.join(d, f))),
  ];
}

/**
 * The problem with `cloud`, if any: no clouds.yaml at all, an unreadable one, or no entry of that name. Mirrors
 * the provider's own search (OS_CLIENT_CONFIG_FILE, then ./, ~/.config/openstack/, /etc/openstack/), so what it
 * says is what the provider would find.
 */
export function checkCloudEntry(cloud: string, candidates: string[] = cloudsYamlCandidates()): string | undefined {
  const key = "openstack.cloud";
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file)
    return (
      `${key}: ${JSON.stringify(cloud)} cannot be used: no clouds.yaml was found (looked in ${candidates.join(", ")}); ` +
      "download it from your cloud's dashboard (API Access → clouds.yaml) to ~/.config/openstack/clouds.yaml, " +
      "or set OS_CLIENT_CONFIG_FILE to its path"
    );
  let doc: { clouds?: Record<string, unknown> } | undefined;
  try {
    doc = yaml.load(fs.readFileSync(file, "utf8")) as typeof doc;
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    return `${key}: ${JSON.stringify(cloud)} cannot be used: ${file} cannot be read as YAML (${why}); fix that file`;
  }
  const names = Object.keys(doc?.clouds ?? {});
  if (!names.includes(cloud))
    return (
      `${key}: ${JSON.stringify(cloud)} is not a cloud in ${file} (` +
      (names.length ? `it has: ${names.join(", ")}` : "it has no clouds: entries") +
      "); use one of those names, or add the cloud to that file"
    );
  return undefined;
}

/**
 * The provider's reason for a failed invoke, whatever line it is on. The bridged provider's errors read
 * `invocation of <tok> returned an error: invoking <tok>: 1 error occurred:\n\t* <reason>\n\n`: the reason is on a
 * later line, so keeping only the first one would lose it.
 */
export function lookupReason(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  const bullets = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("* "))
    .map((l) => l.slice(2).trim());
  const reason = bullets.length
    ? bullets.join("; ")
    : text
        .replace(/^invocation of \S+ returned an error:\s*/, "")
        .replace(/^invoking \S+:\s*/, "")
        .replace(/\d+ errors? occurred:\s*/, "")
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .join("; ");
  return reason || text.trim();
}

/** A reason that means "no such object" (as opposed to: the cloud could not be asked). */
export function isNotFound(reason: string): boolean {
  return /returned no results|not found|no \S+ found|\b404\b|could not find/i.test(reason);
}

interface Lookup {
  readonly key: string;
  readonly value: string;
  readonly run: () => Promise<unknown>;
  readonly fix: string;
}

/** Turns the settled lookups into problems: one per missing object, one per distinct failure to ask the cloud. */
export function lookupProblems(cloud: string, lookups: readonly Lookup[], results: PromiseSettledResult<unknown>[]) {
  const problems: string[] = [];
  const cloudErrors = new Map<string, string[]>();
  results.forEach((r, i) => {
    if (r.status === "fulfilled") return;
    const { key, value, fix } = lookups[i];
    const reason = lookupReason(r.reason);
    if (isNotFound(reason)) {
      problems.push(
        `${key}: ${JSON.stringify(value)} was not found in cloud ${JSON.stringify(cloud)} (${reason}); pick one from ${fix}`,
      );
    } else {
      cloudErrors.set(reason, [...(cloudErrors.get(reason) ?? []), key]);
    }
  });
  // one failure to reach or authenticate with the cloud fails every lookup the same way: say it once
  for (const [reason, keys] of cloudErrors)
    problems.push(
      `openstack.cloud: cloud ${JSON.stringify(cloud)} could not be asked for ${keys.join(", ")} (${reason}); ` +
        "check its clouds.yaml entry (auth_url, credentials, region) and that its API answers",
    );
  return problems;
}

/** Checks the cloud entry and looks up every named resource; throws one PreflightError with `earlier` problems too. */
/**
 * Whether the image fits the flavor found: its RAM at least the image's minimum (`openstack.minRamMb`, which Nova
 * enforces at boot), its disk at least `image.diskSizeGb` when the server boots from the flavor's disk. Each names
 * both keys and the fix.
 */
export function fitProblems(
  cfg: OpenstackStackConfig,
  lookups: readonly Lookup[],
  results: PromiseSettledResult<unknown>[],
): string[] {
  const i = lookups.findIndex((l) => l.key === "openstack.flavor");
  const r = results[i];
  if (i < 0 || r?.status !== "fulfilled") return [];
  const flavor = r.value as { ram?: number; disk?: number };
  const o = cfg.openstack;
  const name = JSON.stringify(o.flavor);
  const problems: string[] = [];
  if (typeof flavor.ram === "number" && flavor.ram < o.minRamMb)
    problems.push(
      `openstack.flavor: ${name} has ${flavor.ram} MiB of RAM, less than openstack.minRamMb (${o.minRamMb}), the image's minimum that Nova enforces; pick a flavor with at least ${o.minRamMb} MiB, or lower openstack.minRamMb`,
    );
  const disk = cfg.image.diskSizeGb;
  if (!o.bootVolumeSizeGb && typeof flavor.disk === "number" && flavor.disk > 0 && flavor.disk < disk)
    problems.push(
      `openstack.flavor: ${name} has a ${flavor.disk} GiB disk, smaller than image.diskSizeGb (${disk}); pick a flavor with at least ${disk} GiB, or boot from a volume: openstack.bootVolumeSizeGb ${disk} or more`,
    );
  return problems;
}

export async function openstackPreflight(
  cfg: OpenstackStackConfig,
  provider: openstack.Provider,
  earlier: readonly string[] = [],
  configProblems: readonly string[] = [],
): Promise<void> {
  const o = cfg.openstack;
  // no cloud name (a config problem already says so): nothing to look up
  if (!o.cloud) return throwIfProblems([...earlier], configProblems);
  const cloudProblem = checkCloudEntry(o.cloud);
  // an unknown cloud fails every lookup the same way: say that alone (with the other problems)
  if (cloudProblem) throwIfProblems([...earlier, cloudProblem], configProblems);
  const opts = { provider, async: true } as pulumi.InvokeOptions;
  // [key, value, lookup, where to pick a valid value]; an empty value is not looked up (the key is optional)
  const all: [string, string, () => Promise<unknown>, string][] = [
    ["flavor", o.flavor, () => openstack.compute.getFlavor({ name: o.flavor }, opts), "`openstack flavor list`"],
    [
      "network",
      o.network,
      () => openstack.networking.getNetwork({ name: o.network }, opts),
      "`openstack network list`",
    ],
    [
      "floatingIpPool",
      o.floatingIpPool,
      () => openstack.networking.getNetwork({ name: o.floatingIpPool, external: true }, opts),
      "`openstack network list --external`",
    ],
    ["keyPair", o.keyPair, () => openstack.compute.getKeypair({ name: o.keyPair }, opts), "`openstack keypair list`"],
    [
      "existingImage",
      // an id is used as given (Glance's lookup data source searches by name)
      /^[0-9a-f-]{36}$/i.test(o.existingImage) ? "" : o.existingImage,
      () => openstack.images.getImage({ name: o.existingImage, mostRecent: true }, opts),
      "`openstack image list`",
    ],
  ];
  const lookups: Lookup[] = all
    .filter(([, value]) => value)
    .map(([key, value, run, fix]) => ({ key: `openstack.${key}`, value, run, fix }));
  // JHVM_TIMING=1 logs each lookup's time (bench/preview-lookups.ts reads it: where a failing preview's time goes)
  const timed = lookups.map(async (l) => {
    const t0 = Date.now();
    try {
      return await l.run();
    } finally {
      if (process.env.JHVM_TIMING) pulumi.log.info(`preflight lookup ${l.key}: ${Date.now() - t0} ms`);
    }
  });
  const results = await Promise.allSettled(timed);
  throwIfProblems(
    [...earlier, ...lookupProblems(o.cloud, lookups, results), ...fitProblems(cfg, lookups, results)],
    configProblems,
  );
}
