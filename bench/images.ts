/**
 * The image the benchmarks use by default: the hub test image for the firstuse settings the tests use
 * (testbed/hub-image/build.sh: Debian 12, TLJH 2.0.0's hub tier, R, our tljh/r/sysprep roles; built once, ~8 min as
 * root with ../shared beside the repository, then cached by content and shared with the tests).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ansibleVars } from "../stages/final-image/ansible-vars";
import { SCHEMA } from "../config/schema";
import type { HubConfig, ImageConfig } from "../config";
import { REPO } from "./lib";

export function hubTestImage(dir: string): string {
  const defaults = (section: string) =>
    Object.fromEntries(SCHEMA.filter((k) => k.section === section).map((k) => [k.name, k.default]));
  const hub = {
    ...defaults("hub"),
    authenticator: "firstuse",
    memoryLimit: "1G",
    cpuLimit: 1,
    idleTimeoutSeconds: 1800,
    installR: true,
  } as unknown as HubConfig;
  const vars = path.join(dir, "hub-vars.json");
  fs.writeFileSync(vars, JSON.stringify(ansibleVars({ image: defaults("image") as unknown as ImageConfig, hub })));
  const out = execFileSync("bash", [path.join(REPO, "testbed/hub-image/build.sh"), vars], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out.trim().split("\n").pop() as string;
}
