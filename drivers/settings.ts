/**
 * The contract between each build stage's component (components/, the Pulumi side) and its driver (drivers/, the
 * process the stage's `local.Command` runs): the settings the component writes to the settings file and the driver
 * reads back. Both sides are typed by `StageSettings[stage]`, so renaming or dropping a field fails `tsc` on both.
 */
import type { LocalVmSettings } from "./local-vm";
import type { StageSettingsBase } from "./lib";

export interface IsoImageSettings {
  readonly url: string;
  readonly sha256: string;
  readonly sha256SumsUrl: string;
  readonly localPath: string;
}

/** Variables that change the base image's content. */
export interface BaseBoxImageVars {
  readonly diskSizeGb: number;
  readonly locale: string;
  readonly timezone: string;
  readonly keyboard: string;
  readonly mirror: string;
  readonly httpProxy: string;
  readonly httpsProxy: string;
  readonly noProxy: string;
}

/** Build VM sizing and accelerator: they change how fast a stage builds, never what it builds. */
export interface RunVars {
  readonly memoryMb: number;
  readonly cpus: number;
  readonly headless: boolean;
  readonly accelerator: string;
}

export interface BaseBoxSettings {
  readonly os: string;
  readonly builder: "qemu" | "virtualbox";
  readonly isoPath: string;
  readonly isoSha256: string;
  readonly imageVars: BaseBoxImageVars;
  readonly runVars: RunVars;
}

export interface FinalImageSettings {
  readonly basePath: string;
  readonly baseSha256: string;
  readonly baseFormat: string;
  readonly provisioner: "packer";
  readonly ansibleVars: Readonly<Record<string, unknown>>;
  readonly exportFormat: "qcow2" | "raw" | "vmdk";
  readonly compression: "zlib" | "zstd" | "none";
  /** the base box's disk size (the final image keeps it) */
  readonly diskSizeGb: number;
  readonly runVars: RunVars;
}

/** stage name (the driver `drivers/<stage>.ts`) → the settings its component writes */
export interface StageSettings {
  readonly "iso-image": IsoImageSettings;
  readonly "base-box": BaseBoxSettings;
  readonly "final-image": FinalImageSettings;
  readonly "local-vm": Omit<LocalVmSettings, keyof StageSettingsBase>;
}

export type StageName = keyof StageSettings;

/** What a driver reads: its stage's settings plus what every stage gets (stage, buildDir, cacheDir, keepCache). */
export type DriverSettings<K extends StageName> = StageSettings[K] & StageSettingsBase;
