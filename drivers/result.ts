/** The result a stage driver prints: its last JSON line on stdout. Shared by drivers and components. */
export interface StageResult {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly [k: string]: unknown;
}

export function parseResult(stdout: string): StageResult {
  const line = stdout
    .trim()
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (!line) throw new Error(`stage printed no result line: ${stdout.slice(-300)}`);
  return JSON.parse(line) as StageResult;
}
