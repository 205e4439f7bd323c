/** The iso-image stage's settings: what its component writes and its driver reads (see ../contract.ts). */
import { stageDef } from "../contract";

export interface IsoImageSettings {
  readonly url: string;
  /** expected sha256; empty when `sha256SumsUrl` is given */
  readonly sha256: string;
  /** a SHA256SUMS file to read the checksum from (by the ISO's file name) when `sha256` is empty */
  readonly sha256SumsUrl: string;
  /** a local copy, tried first (used when its sha256 matches) */
  readonly localPath: string;
}

export const ISO_IMAGE = stageDef<IsoImageSettings>("iso-image", "stages/iso-image/driver.ts");
