/**
 * What the build hands to a target (the final image) and what a target hands back to the stack outputs. Shared by
 * pipeline.ts and every target; imports nothing of the program.
 */
import * as pulumi from "@pulumi/pulumi";

/** The final image: its file, content hash and disk format. */
export interface Artifact {
  readonly path: pulumi.Input<string>;
  readonly sha256: pulumi.Input<string>;
  readonly format: pulumi.Input<string>;
}

export interface PipelineOutputs {
  readonly target: string;
  readonly imagePath?: pulumi.Output<string>;
  readonly imageSha256?: pulumi.Output<string>;
  readonly imageId?: pulumi.Output<string>;
  readonly imageName?: pulumi.Output<string>;
  readonly hubUrl?: pulumi.Output<string>;
  /** local target: the VM's address (see LocalVm.localIp) */
  readonly localIp?: pulumi.Output<string>;
  readonly publicIp?: pulumi.Output<string>;
  readonly sshCommand?: pulumi.Output<string>;
  readonly volumeId?: pulumi.Output<string | undefined>;
  readonly userData?: pulumi.Output<string>;
}
