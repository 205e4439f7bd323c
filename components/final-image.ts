/**
 * Stage 3: the final image. Starting from the base box, Ansible applies `ansible/playbook.yml` (TLJH, R, Python
 * packages, content, optional desktop, then sysprep), the disk is exported (compressed qcow2 by default, raw or vmdk
 * on request) and checked by tools/image-hygiene-check (driver: drivers/final-image.ts). The trigger covers the
 * Ansible tree, the Ansible variables, the export settings and the base box's checksum: changing a role or a hub
 * setting rebuilds this stage only, never the base box.
 */
import * as pulumi from "@pulumi/pulumi";
import { DiskFormat } from "../config/schema";
import type { RunVars } from "../drivers/settings";
import { REPO_ROOT, contentHash, hashPaths, runStage } from "./stage";

export interface FinalImageArgs {
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
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly keepCache: boolean;
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

export class FinalImage extends pulumi.ComponentResource {
  public readonly path: pulumi.Output<string>;
  public readonly sha256: pulumi.Output<string>;
  public readonly size: pulumi.Output<number>;
  public readonly format: pulumi.Output<DiskFormat>;
  public readonly key: pulumi.Output<string>;

  constructor(name: string, args: FinalImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:build:FinalImage", name, {}, opts);
    this.key = pulumi.output(args.base.sha256).apply((sha) => finalImageKey(args, sha));
    const { result } = runStage(
      `${name}-provision`,
      {
        stage: "final-image",
        key: this.key,
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
        buildDir: args.buildDir,
        cacheDir: args.cacheDir,
        keepCache: args.keepCache,
      },
      { parent: this },
    );
    this.path = result.apply((r) => r.path);
    this.sha256 = result.apply((r) => r.sha256);
    this.size = result.apply((r) => r.size);
    this.format = pulumi.output(args.exportFormat);
    this.registerOutputs({ path: this.path, sha256: this.sha256, size: this.size, format: this.format });
  }
}
