/**
 * The one way problems reach a user: collected (never stopping at the first), then one message listing them all,
 * each line naming the key, the bad value and the fix. Used by config validation and by both targets' preflights.
 */

/** `<title> (N problem(s)):` then one `  - <problem>` line each. */
export function formatProblems(title: string, problems: readonly string[]): string {
  const n = problems.length;
  return `${title} (${n} problem${n === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

/** A failed preflight: what the stack needs from the host or the cloud is missing (the message lists each). */
export class PreflightError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(formatProblems("Preflight failed", problems));
    this.name = "PreflightError";
  }
}

/** Throws a PreflightError when there is any problem. */
export function throwIfProblems(problems: readonly string[]): void {
  if (problems.length) throw new PreflightError(problems);
}
