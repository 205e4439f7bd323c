/** The program as index.ts runs it, for the mock harness: load the config, then deploy. */
import { readConfig } from "../../config";
import { deploy } from "../../pipeline";
export { REPO } from "../support";
import { REPO } from "../support";

export async function program(): Promise<Record<string, unknown>> {
  const { config, problems } = readConfig({ projectDir: REPO });
  return (await deploy(config, { hostChecks: false, configProblems: problems })) as unknown as Record<string, unknown>;
}
