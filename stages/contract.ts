/**
 * The contract between a build stage's component (`<stage>/component.ts`, the Pulumi side, run by runner.ts) and its
 * driver (`<stage>/driver.ts`, the process the stage's `local.Command` runs, built on driver.ts):
 * - A stage is a `StageDef<S>`: its name (the cache folder and log name) and its driver's path. `S` is the settings
 *   type in `<stage>/settings.ts`; the component writes an `S`, the driver reads an `S`, so renaming or dropping a
 *   field fails `tsc` on both sides.
 * - The command line is fixed: `node <tsx> <driver> create|delete`; it never carries values.
 * - `JHVM_SETTINGS` names the JSON settings file (an `S` plus `StageSettingsBase`, paths included); `JHVM_KEY` is the
 *   stage's content key (the same hash as its trigger).
 * - On success the driver prints exactly one JSON line on stdout: its `StageResult`. On failure it exits 1.
 * Shared by both sides; imports nothing.
 */

/** What every stage's settings file holds besides the stage's own settings. */
export interface StageSettingsBase {
  readonly stage: string;
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly keepCache: boolean;
}

/** A stage: its name and its driver (repo-relative). `S` only types both sides; it has no value at run time. */
export interface StageDef<S> {
  readonly name: string;
  readonly driver: string;
  /** never set: carries the settings type */
  readonly settingsType?: S;
}

export function stageDef<S>(name: string, driver: string): StageDef<S> {
  return { name, driver };
}

/** What a driver reads: its stage's settings plus what every stage gets. */
export type DriverSettings<S> = S & StageSettingsBase;

/** Build VM sizing and accelerator: they change how fast a stage builds, never what it builds. */
export interface RunVars {
  readonly memoryMb: number;
  readonly cpus: number;
  readonly headless: boolean;
  readonly accelerator: string;
}

/** The result a stage driver prints: its last JSON line on stdout. */
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
