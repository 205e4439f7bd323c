/**
 * The OpenStack target's Glance image. Uploads the final artifact with its metadata; the name carries the content hash, so new
 * bytes at the same path make a new image (the provider itself does not notice a changed file) and the server that
 * boots it is replaced explicitly. With `existingImage`, nothing is uploaded: the named image is looked up.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";

export interface GlanceImageArgs {
  /** upload this file ... */
  readonly file?: {
    readonly path: pulumi.Input<string>;
    readonly sha256: pulumi.Input<string>;
    readonly format: pulumi.Input<string>;
  };
  /** ... or use this existing image (name or id) */
  readonly existingImage?: string;
  readonly namePrefix: string;
  readonly visibility: string;
  readonly minDiskGb: number;
  readonly minRamMb: number;
  /** leave a replaced (or destroyed) image in Glance instead of deleting it */
  readonly keepOldImages: boolean;
  readonly osDistro: string;
  readonly osVersion: string;
  readonly tags: readonly string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class GlanceImage extends pulumi.ComponentResource {
  public readonly imageId: pulumi.Output<string>;
  public readonly imageName: pulumi.Output<string>;

  constructor(name: string, args: GlanceImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("jupyterhub-vm:openstack:GlanceImage", name, {}, opts);
    if (args.existingImage && UUID.test(args.existingImage)) {
      // An id is used as given (Glance's lookup data source searches by name, not id).
      this.imageId = pulumi.output(args.existingImage);
      this.imageName = pulumi.output(args.existingImage);
    } else if (args.existingImage) {
      // Looked up at preview: a typo fails before anything is built or created.
      const found = openstack.images.getImageOutput({ name: args.existingImage, mostRecent: true }, { parent: this });
      this.imageId = found.id;
      this.imageName = found.apply((f) => f.name ?? args.existingImage ?? "");
    } else {
      if (!args.file) throw new Error("GlanceImage needs a file or an existing image");
      const file = args.file;
      const imageName = pulumi.interpolate`${args.namePrefix}-${pulumi.output(file.sha256).apply((s) => s.slice(0, 12))}`;
      const image = new openstack.images.Image(
        `${name}-image`,
        {
          name: imageName,
          localFilePath: file.path,
          diskFormat: file.format,
          containerFormat: "bare",
          visibility: args.visibility,
          minDiskGb: args.minDiskGb,
          minRamMb: args.minRamMb,
          verifyChecksum: true,
          properties: {
            os_distro: args.osDistro,
            os_version: args.osVersion,
            hw_disk_bus: "scsi",
            hw_scsi_model: "virtio-scsi",
            hw_qemu_guest_agent: "yes",
            jupyterhub_vm_sha256: file.sha256,
          },
          tags: [...args.tags],
        },
        // the provider would only rename an image whose file changed: a new content hash must upload a new image
        {
          parent: this,
          customTimeouts: { create: "60m" },
          replaceOnChanges: ["name"],
          retainOnDelete: args.keepOldImages,
        },
      );
      this.imageId = image.id;
      this.imageName = image.name;
    }
    this.registerOutputs({ imageId: this.imageId, imageName: this.imageName });
  }
}
