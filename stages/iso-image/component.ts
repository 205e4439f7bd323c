/**
 * Stage 1: the OS installation ISO. A local copy is used when its sha256 matches; otherwise the ISO is downloaded
 * once into the shared cache and verified before anything uses it (driver: driver.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { StageComponent, StageDirs, contentHash } from "../runner";
import { ISO_IMAGE, IsoImageSettings } from "./settings";

/** The ISO to use (settings.ts documents each field) and where the stage keeps its files. */
export interface IsoImageArgs extends IsoImageSettings, StageDirs {}

/** The ISO's content key: its checksum when pinned, else where its checksum is published. */
export function isoImageKey(args: Pick<IsoImageSettings, "url" | "sha256" | "sha256SumsUrl">): string {
  return contentHash(
    args.sha256
      ? { stage: "iso-image", sha256: args.sha256 }
      : { stage: "iso-image", url: args.url, sums: args.sha256SumsUrl },
  );
}

export class IsoImage extends StageComponent<IsoImageSettings> {
  constructor(name: string, args: IsoImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "jupyterhub-vm:build:IsoImage",
      name,
      "fetch",
      {
        stage: ISO_IMAGE,
        key: isoImageKey(args),
        settings: { url: args.url, sha256: args.sha256, sha256SumsUrl: args.sha256SumsUrl, localPath: args.localPath },
        dirs: args,
      },
      opts,
    );
    this.registerOutputs({ path: this.path, sha256: this.sha256 });
  }
}
