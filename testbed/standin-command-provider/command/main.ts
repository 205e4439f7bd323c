/**
 * STAND-IN for the `command` provider plugin (pulumi-command 1.2.1), test infrastructure only (../README.md):
 * implements `command:local:Command` with the real provider's property names and semantics:
 *  - create runs `create` through `interpreter` (default /bin/sh -c) in `dir` (default: the plugin's cwd, which
 *    the engine sets to the program directory), env = the plugin's env + `environment`, `stdin` piped;
 *    outputs = inputs + stdout, stderr (one trailing newline trimmed);
 *  - a change in `triggers` replaces; a change in any other input updates: `update` runs if set, else `create`,
 *    with PULUMI_COMMAND_STDOUT/PULUMI_COMMAND_STDERR of the previous run when addPreviousOutputInEnv (default true);
 *  - delete runs `delete` (if set) with the last run's outputs in the env the same way;
 *  - a non-zero exit fails the step with an error holding the command and the tail of its output;
 *  - output lines are streamed to the engine as status messages per `logging` (default stdoutAndStderr);
 *  - if any input is secret, stdout and stderr are secret too (as the real, infer-based provider does).
 * Not implemented: assetPaths/archivePaths (ignored: no `assets`/`archive` outputs), remote:* and copy resources.
 */
import { spawn } from "child_process";
import { Ctx, ResourceHandler, serve } from "../lib/server";
import { Props, randomHex, secret } from "../lib/values";

const VERSION = "1.2.1";

interface RunResult {
  stdout: string;
  stderr: string;
}

function trimNl(s: string): string {
  return s.endsWith("\n") ? s.slice(0, -1) : s;
}

async function run(ctx: Ctx, command: string, inputs: Props, previous?: Props): Promise<RunResult> {
  const interpreter = (inputs.interpreter as string[] | undefined)?.length
    ? (inputs.interpreter as string[])
    : ["/bin/sh", "-c"];
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries((inputs.environment as Record<string, string> | undefined) ?? {}))
    env[k] = String(v);
  if (previous && inputs.addPreviousOutputInEnv !== false) {
    env.PULUMI_COMMAND_STDOUT = String(previous.stdout ?? "");
    env.PULUMI_COMMAND_STDERR = String(previous.stderr ?? "");
  }
  const logging = String(inputs.logging ?? "stdoutAndStderr");
  const logOut = logging === "stdout" || logging === "stdoutAndStderr";
  const logErr = logging === "stderr" || logging === "stdoutAndStderr";
  const cwd = (inputs.dir as string | undefined) || process.cwd();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(interpreter[0], [...interpreter.slice(1), command], {
      cwd,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let both = "";
    const lineLogger = (enabled: boolean) => {
      let pending = "";
      return {
        push(chunk: string) {
          if (!enabled) return;
          pending += chunk;
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          for (const l of lines) ctx.log("info", l, true);
        },
        flush() {
          if (enabled && pending) ctx.log("info", pending, true);
          pending = "";
        },
      };
    };
    const lo = lineLogger(logOut);
    const le = lineLogger(logErr);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      both += d;
      lo.push(d);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      both += d;
      le.push(d);
    });
    child.stdin.on("error", () => undefined);
    if (inputs.stdin !== undefined && inputs.stdin !== null) child.stdin.end(String(inputs.stdin));
    else child.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    if (ctx.timeoutSec > 0) timer = setTimeout(() => child.kill("SIGKILL"), ctx.timeoutSec * 1000);
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${e.message}: running ${JSON.stringify(command)}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      lo.flush();
      le.flush();
      if (code === 0) return resolve({ stdout: trimNl(stdout), stderr: trimNl(stderr) });
      const why = signal ? `signal: ${signal}` : `exit status ${code}`;
      const tail = both.length > 8000 ? `...${both.slice(-8000)}` : both;
      reject(new Error(`${why}: running ${JSON.stringify(command)}:\n${tail}`));
    });
  });
}

const INPUT_KEYS = [
  "create",
  "update",
  "delete",
  "dir",
  "environment",
  "interpreter",
  "stdin",
  "triggers",
  "logging",
  "addPreviousOutputInEnv",
  "assetPaths",
  "archivePaths",
];

function outputs(inputs: Props, res: RunResult, anySecret: boolean): Props {
  const outs: Props = {};
  for (const k of INPUT_KEYS) if (inputs[k] !== undefined) outs[k] = inputs[k];
  outs.stdout = anySecret ? secret(res.stdout) : res.stdout;
  outs.stderr = anySecret ? secret(res.stderr) : res.stderr;
  return outs;
}

const localCommand: ResourceHandler = {
  replaceOn: ["triggers"],
  computed: ["stdout", "stderr"],
  async create(ctx, inputs) {
    const id = `${ctx.name}${randomHex(8)}`;
    const res = inputs.create ? await run(ctx, String(inputs.create), inputs) : { stdout: "", stderr: "" };
    return { id, outs: outputs(inputs, res, ctx.secretInputs.size > 0) };
  },
  async read(_ctx, _id, state) {
    return { outs: state };
  },
  async update(ctx, _id, state, _oldInputs, news) {
    const cmd = news.update ?? news.create;
    const res = cmd ? await run(ctx, String(cmd), news, state) : { stdout: "", stderr: "" };
    return outputs(news, res, ctx.secretInputs.size > 0);
  },
  async delete(ctx, _id, state, inputs) {
    const cmd = inputs.delete ?? state.delete;
    if (!cmd) return;
    await run(ctx, String(cmd), Object.keys(inputs).length ? inputs : state, state);
  },
};

serve({
  name: "command",
  version: VERSION,
  resources: { "command:local:Command": localCommand },
  functions: {},
  async configure() {},
}).catch((e) => {
  process.stderr.write(`pulumi-resource-command (stand-in): ${e?.stack ?? e}\n`);
  process.exit(1);
});
