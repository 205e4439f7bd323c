/**
 * jupyterhub-vm: an OS ISO to a running JupyterHub (The Littlest JupyterHub) server, as a Pulumi program.
 * The config is read and validated once (config/), before any resource is registered; the pipeline
 * (pipeline.ts) wires the stage components.
 */
import { readConfig } from "./config";
import { deploy } from "./pipeline";

// Every failed invoke (e.g. a preflight lookup of a misspelled flavor) makes grpc-js build an Error with a stack
// trace, and under Pulumi's ts-node each frame is resolved through source maps: with Node's default of 10 frames that
// took 24-30 s per failed preview here, with 3 frames 0.1 s (measured: failing preview 31.9 s → 1.7 s). Our user-facing
// errors carry their own message (key, value, fix); JHVM_STACK_TRACES=1 restores full traces for debugging.
if (!process.env.JHVM_STACK_TRACES) Error.stackTraceLimit = 3;

// A function, not a promise made at load time: the runtime calls it and awaits it at once. A promise created here
// and rejected by a user error (ConfigError, PreflightError) would be "handled asynchronously" by the runtime, and
// Node would print a PromiseRejectionHandledWarning next to the message.
// Every problem in one run: the config's, the host's and the cloud's (a config with problems is never deployed).
export = async () => {
  const { config, problems } = readConfig({ projectDir: __dirname });
  return deploy(config, { configProblems: problems });
};
