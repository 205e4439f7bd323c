/**
 * Stage 1: the OS installation ISO. A local copy is used when its sha256 matches; otherwise the ISO is downloaded
 * once into the shared cache and verified before anything uses it (driver: drivers/iso-image.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { contentHash, runStage } from "./stage";

export interface IsoImageArgs {
  readonly url: string;
  /** expected sha256; empty when `sha256SumsUrl` is given */
  readonly sha256: string;
  /** a SHA256SUMS file to read the checksum from (by the ISO's file name) when `sha256` is empty */
  readonly sha256SumsUrl: string;
  /** tried first */
  readonly localPath: string;
  readonly buildDir: string;
  readonly cacheDir: string;
  readonly keepCache: boolean;
}

export class IsoImage extends pulumi.ComponentResource {
  /** path of the verified ISO */
  public readonly path: pulumi.Output<string>;
  public readonly sha256: pulumi.Output<string>;
  /** the key its trigger carries: what the ISO is, not where it is */
  public readonly key: string;

  constructor(name: string, args: IsoImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:build:IsoImage", name, {}, opts);
    // The ISO is identified by its checksum when pinned, else by where its checksum is published.
    this.key = contentHash(
      args.sha256
        ? { stage: "iso-image", sha256: args.sha256 }
        : { stage: "iso-image", url: args.url, sums: args.sha256SumsUrl },
    );
    const { result } = runStage(
      `${name}-fetch`,
      {
        stage: "iso-image",
        key: this.key,
        settings: { url: args.url, sha256: args.sha256, sha256SumsUrl: args.sha256SumsUrl, localPath: args.localPath },
        buildDir: args.buildDir,
        cacheDir: args.cacheDir,
        keepCache: args.keepCache,
      },
      { parent: this },
    );
    this.path = result.apply((r) => r.path);
    this.sha256 = result.apply((r) => r.sha256);
    this.registerOutputs({ path: this.path, sha256: this.sha256 });
  }
}
