/**
 * The one way problems reach a user: collected (never stopping at the first), then one message listing them all,
 * each line naming the key the way a user sets it (`local.provider`, as in `pulumi config set --path local.provider
 * qemu`), the bad value and the fix. Used by config validation, the host-tool checks and both targets' preflights.
 *
 * The errors are `pulumi.RunError`s: the SDK's way to end a program with a user error. The Node.js runtime prints
 * their message alone (no stack trace, no dump of the error's fields), once.
 */
import * as pulumi from "@pulumi/pulumi";

/** `<title> (N problem(s)):` then one `  - <problem>` line each. */
export function formatProblems(title: string, problems: readonly string[]): string {
  const n = problems.length;
  return `${title} (${n} problem${n === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

/** A problem the user can fix: printed as its message alone. `problems` holds the lines (not printed twice). */
export class UserError extends pulumi.RunError {
  declare readonly problems: readonly string[];
  constructor(title: string, problems: readonly string[]) {
    super(formatProblems(title, problems));
    // not enumerable: an inspector that dumps an error's own fields must not print the list a second time
    Object.defineProperty(this, "problems", { value: [...problems], enumerable: false });
  }
}

/** A failed preflight: what the stack needs from the host or the cloud is missing (the message lists each). */
export class PreflightError extends UserError {
  constructor(problems: readonly string[]) {
    super("Preflight failed", problems);
    this.name = "PreflightError";
  }
}

/** Invalid stack configuration: every problem with the config, and what the preflight found besides (one list). */
export class ConfigError extends UserError {
  constructor(problems: readonly string[]) {
    super("Invalid stack configuration", problems);
    this.name = "ConfigError";
  }
}

/**
 * Throws once for everything found: a ConfigError when the config has problems (the preflight's follow them), else a
 * PreflightError. Nothing when there is no problem.
 */
export function throwIfProblems(problems: readonly string[], configProblems: readonly string[] = []): void {
  if (configProblems.length) throw new ConfigError([...configProblems, ...problems]);
  if (problems.length) throw new PreflightError(problems);
}

const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/**
 * The command that sets a key, as a user types it: `pulumi config set --path 'local.provider' qemu` for a key in a
 * section (without `--path` Pulumi would make a flat key named "local.provider" that nothing reads), `pulumi config
 * set target local` for a top-level key.
 */
export function setCommand(key: string, value: string | number | boolean): string {
  const nested = key.includes(".");
  return `\`pulumi config set ${nested ? `--path '${key}'` : key} ${shellWord(String(value))}\``;
}
