/**
 * The hub test image for a set of stack hub settings: the program's Ansible variables for them
 * (stages/final-image/ansible-vars.ts, other keys at their defaults) built by testbed/hub-image/build.sh (cached
 * by content, so tests asking for the same settings share one image).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { HubConfig, ImageConfig } from "../../config";
import { SCHEMA } from "../../config/schema";
import { ansibleVars } from "../../stages/final-image/ansible-vars";
import { REPO, tempDir } from "../support";

export const defaults = (section: string): Record<string, unknown> =>
  Object.fromEntries(SCHEMA.filter((k) => k.section === section).map((k) => [k.name, k.default]));

/** The stack's hub settings: defaults, R off unless asked for (Debian's r-base adds ~2 min to a build), overrides. */
export function hubSettings(overrides: Record<string, unknown>): HubConfig {
  return { ...defaults("hub"), installR: false, ...overrides } as unknown as HubConfig;
}

/**
 * The hub settings of the image every hub test boots (hub-boot, local-hub, newcomer): the first boot picks the
 * authenticator from the user-data (cloud-init/first-boot.sh), so one image serves every authenticator.
 */
export const FIRSTUSE = {
  authenticator: "firstuse",
  memoryLimit: "1G",
  cpuLimit: 1,
  idleTimeoutSeconds: 1800,
  installR: true,
};

/**
 * The "new image" of the replacement tests (local-hub, openstack-boot): an Ansible variable changed (the
 * culler's timeout, which the hub API shows) and R left out. The second of the two hub images a test run builds.
 */
export const SECOND_IMAGE = { ...FIRSTUSE, idleTimeoutSeconds: 1700, installR: false };

/** Builds (or finds cached) the image for these hub settings; returns its path. */
export function hubImage(hub: HubConfig): string {
  const varsFile = path.join(tempDir("jhvm-hub-vars-"), "vars.json");
  fs.writeFileSync(varsFile, JSON.stringify(ansibleVars({ image: defaults("image") as unknown as ImageConfig, hub })));
  const t0 = Date.now();
  const r = spawnSync("bash", [path.join(REPO, "testbed/hub-image/build.sh"), varsFile], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`hub image build failed:\n${(r.stderr ?? "").slice(-6000)}`);
  const image = r.stdout.trim().split("\n").pop() as string;
  console.log(`hub image ${image} ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return image;
}
