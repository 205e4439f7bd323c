/**
 * Stage 3: the final image. Starting from the base box, Ansible applies `ansible/playbook.yml` (TLJH, R, Python
 * packages, content, optional desktop, then sysprep), the disk is exported (compressed qcow2 by default, raw or vmdk
 * on request) and checked by tools/image-hygiene-check (driver: driver.ts). The trigger covers the
 * Ansible tree, the Ansible variables, the export settings and the base box's checksum: changing a role or a hub
 * setting rebuilds this stage only, never the base box.
 */
import * as pulumi from "@pulumi/pulumi";
import { DiskFormat } from "../../config/schema";
import type { RunVars } from "../contract";
import { FINAL_IMAGE, FinalImageSettings } from "./settings";
import { REPO_ROOT, StageComponent, StageDirs, contentHash, hashPaths } from "../runner";

export interface FinalImageArgs extends StageDirs {
  readonly base: {
    readonly path: pulumi.Input<string>;
    readonly sha256: pulumi.Input<string>;
    readonly format: pulumi.Input<string>;
  };
  /** how the image is provisioned */
  readonly provisioner: "packer";
  /** variables passed to the playbook (they end up in the image) */
  readonly ansibleVars: Readonly<Record<string, unknown>>;
  /** hash of local files the playbook copies into the image (the content directory), if any */
  readonly contentHash?: string;
  readonly exportFormat: DiskFormat;
  readonly compression: "zlib" | "zstd" | "none";
  /** the base box's disk size (the final image keeps it) */
  readonly diskSizeGb: number;
  /** build VM sizing and accelerator: do not change the result */
  readonly runVars: RunVars;
}

export const FINAL_IMAGE_FILES = ["ansible", "tools/image-hygiene-check", "packer/final"];

export function finalImageKey(
  args: Pick<FinalImageArgs, "provisioner" | "ansibleVars" | "exportFormat" | "compression" | "contentHash">,
  baseSha256: string,
): string {
  return contentHash({
    stage: "final-image",
    v: 1,
    files: hashPaths(REPO_ROOT, FINAL_IMAGE_FILES),
    provisioner: args.provisioner,
    vars: args.ansibleVars,
    content: args.contentHash,
    export: { format: args.exportFormat, compression: args.compression },
    base: baseSha256,
  });
}

export class FinalImage extends StageComponent<FinalImageSettings> {
  public readonly format: pulumi.Output<DiskFormat>;

  constructor(name: string, args: FinalImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "jupyterhub-vm:build:FinalImage",
      name,
      "provision",
      {
        stage: FINAL_IMAGE,
        key: pulumi.output(args.base.sha256).apply((sha) => finalImageKey(args, sha)),
        settings: pulumi
          .all([args.base.path, args.base.sha256, args.base.format])
          .apply(([basePath, baseSha256, baseFormat]) => ({
            basePath,
            baseSha256,
            baseFormat,
            provisioner: args.provisioner,
            ansibleVars: args.ansibleVars,
            exportFormat: args.exportFormat,
            compression: args.compression,
            diskSizeGb: args.diskSizeGb,
            runVars: args.runVars,
          })),
        dirs: args,
      },
      opts,
    );
    this.format = pulumi.output(args.exportFormat);
    this.registerOutputs({ path: this.path, sha256: this.sha256, size: this.size, format: this.format });
  }
}
