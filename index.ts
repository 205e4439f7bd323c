/**
 * jupyterhub-vm: an OS ISO to a running JupyterHub (The Littlest JupyterHub) server, as a Pulumi program.
 * The config is read and validated once (config/), before any resource is registered; the pipeline
 * (pipeline.ts) wires the stage components.
 */
import { loadConfig } from "./config";
import { deploy } from "./pipeline";

export = (async () => {
  const cfg = loadConfig({ projectDir: __dirname });
  return deploy(cfg);
})();
