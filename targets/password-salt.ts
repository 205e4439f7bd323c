/**
 * The salt of the admin password's bcrypt hash: 16 random bytes made once, at the stack's first `up`, and kept as a
 * secret in the stack's state. The same password and salt give the same user-data on every `up` (no spurious server
 * replacement), and no two stacks share a salt, so no table precomputed for one stack's name serves another's. A
 * dynamic resource (run by the Pulumi CLI's own Node.js provider): nothing to install. Both targets use it.
 */
import * as pulumi from "@pulumi/pulumi";
import { newPasswordSalt } from "../cloud-init/render";

const provider: pulumi.dynamic.ResourceProvider = {
  async create() {
    const salt = newPasswordSalt();
    return { id: `salt-${Date.now().toString(36)}`, outs: { salt } };
  },
  // nothing ever changes it: a new salt only with a new resource (a new stack, or `pulumi state delete`)
  async diff() {
    return { changes: false };
  },
};

export class AdminPasswordSalt extends pulumi.dynamic.Resource {
  /** 22 characters of bcrypt's base64 (cloud-init/render.ts adminPasswordHash) */
  declare public readonly salt: pulumi.Output<string>;

  constructor(name: string, opts: pulumi.CustomResourceOptions = {}) {
    super(provider, name, { salt: undefined }, { ...opts, additionalSecretOutputs: ["salt"] });
  }
}
