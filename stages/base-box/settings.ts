/** The base-box stage's settings: what its component writes and its driver reads (see ../contract.ts). */
import { RunVars, stageDef } from "../contract";

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

export interface BaseBoxSettings {
  readonly os: string;
  readonly builder: "qemu" | "virtualbox";
  readonly isoPath: string;
  readonly isoSha256: string;
  readonly imageVars: BaseBoxImageVars;
  readonly runVars: RunVars;
}

export const BASE_BOX = stageDef<BaseBoxSettings>("base-box", "stages/base-box/driver.ts");
