/** The final-image stage's settings: what its component writes and its driver reads (see ../contract.ts). */
import { RunVars, stageDef } from "../contract";

export interface FinalImageSettings {
  readonly basePath: string;
  readonly baseSha256: string;
  readonly baseFormat: string;
  readonly provisioner: "packer";
  /** the playbook's variables (ansible-vars.ts maps the stack config onto them) */
  readonly ansibleVars: Readonly<Record<string, unknown>>;
  readonly exportFormat: "qcow2" | "raw" | "vmdk";
  readonly compression: "zlib" | "zstd" | "none";
  /** the base box's disk size (the final image keeps it) */
  readonly diskSizeGb: number;
  readonly runVars: RunVars;
}

export const FINAL_IMAGE = stageDef<FinalImageSettings>("final-image", "stages/final-image/driver.ts");
