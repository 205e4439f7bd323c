/** The program as index.ts runs it, for the mock harness: load the config, then deploy. */
import { loadConfig } from "../../config";
import { deploy } from "../../pipeline";
export { REPO } from "../support";
import { REPO } from "../support";

export async function program(): Promise<Record<string, unknown>> {
  const cfg = loadConfig({ projectDir: REPO });
  return (await deploy(cfg, { hostChecks: false })) as unknown as Record<string, unknown>;
}
