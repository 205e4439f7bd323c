/**
 * Stage 2: the base box. Packer installs the OS from the verified ISO with the chosen builder and the OS variable
 * file `packer/os/<os>.pkrvars.hcl` (driver: driver.ts). The trigger covers exactly what shapes the
 * artifact: the Packer templates, the OS variable file and install seed files, the build variables that end up in
 * the image, and the ISO's checksum. Memory, CPUs, accelerator and headless only change how fast it builds.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Builder, OsName } from "../../config/schema";
import type { RunVars } from "../contract";
import { BASE_BOX, BaseBoxImageVars, BaseBoxSettings } from "./settings";
import { REPO_ROOT, StageComponent, StageDirs, contentHash, hashPaths } from "../runner";

export type { BaseBoxImageVars } from "./settings";
export type { RunVars as BaseBoxRunVars } from "../contract";

export interface BaseBoxArgs extends StageDirs {
  readonly os: OsName;
  readonly builder: Builder;
  readonly iso: { readonly path: pulumi.Input<string>; readonly sha256: pulumi.Input<string> };
  readonly imageVars: BaseBoxImageVars;
  readonly runVars: RunVars;
}

/** Files whose content shapes the base box, relative to the repository root. */
export function baseBoxFiles(osName: OsName): string[] {
  const family = osName.split("-")[0];
  const dir = path.join(REPO_ROOT, "packer");
  const templates = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".pkr.hcl")) : [];
  return [...templates.map((f) => `packer/${f}`), `packer/os/${osName}.pkrvars.hcl`, `packer/http/${family}`];
}

/** The base box's content key (also its trigger). */
export function baseBoxKey(args: Pick<BaseBoxArgs, "os" | "builder" | "imageVars">, isoSha256: string): string {
  return contentHash({
    stage: "base-box",
    v: 1,
    files: hashPaths(REPO_ROOT, baseBoxFiles(args.os)),
    os: args.os,
    builder: args.builder,
    vars: args.imageVars,
    iso: isoSha256,
  });
}

export class BaseBox extends StageComponent<BaseBoxSettings> {
  /** qcow2 (qemu) or box (virtualbox); `path` is the qcow2 or the .box */
  public readonly format: pulumi.Output<string>;

  constructor(name: string, args: BaseBoxArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "jupyterhub-vm:build:BaseBox",
      name,
      "packer",
      {
        stage: BASE_BOX,
        key: pulumi.output(args.iso.sha256).apply((sha) => baseBoxKey(args, sha)),
        settings: pulumi.all([args.iso.path, args.iso.sha256]).apply(([isoPath, isoSha256]) => ({
          os: args.os,
          builder: args.builder,
          isoPath,
          isoSha256,
          imageVars: args.imageVars,
          runVars: args.runVars,
        })),
        dirs: args,
      },
      opts,
    );
    this.format = this.result.apply((r) => String(r.format ?? (args.builder === "qemu" ? "qcow2" : "box")));
    this.registerOutputs({ path: this.path, sha256: this.sha256, format: this.format });
  }
}
