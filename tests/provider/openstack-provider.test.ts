/**
 * The OpenStack provider plugin built from Go modules (scripts/install-openstack-provider.sh): its schema speaks
 * exactly the tokens the @pulumi/openstack 3.15.2 SDK in node_modules sends (except the resources
 * terraform-provider-openstack v3.4.0 removed), with the shapes the program relies on, and it installs into a
 * Pulumi plugin cache the way an air-gapped user would install it. The lab e2e test (tests/e2e/lab-stack.test.ts)
 * runs it against a real OpenStack.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, tempDir } from "../support";

const script = (name: string, ...args: string[]) =>
  execFileSync("bash", [path.join(REPO, "scripts", name), ...args], { encoding: "utf8" }).trim();

let bin: string;
let schema: { name: string; version: string; resources: Record<string, any>; functions: Record<string, any> };

beforeAll(() => {
  bin = script("install-openstack-provider.sh", "--print-path"); // builds on a cache miss
  schema = JSON.parse(fs.readFileSync(path.join(path.dirname(bin), "schema.json"), "utf8"));
}, 30 * 60_000);

/** every resource type and function token the SDK's JavaScript sends */
function sdkTokens(): Set<string> {
  const tokens = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".js")) {
        const js = fs.readFileSync(p, "utf8");
        for (const m of js.matchAll(/__pulumiType = '(openstack:[^']+)'/g)) tokens.add(m[1]);
        for (const m of js.matchAll(/invoke(?:Output|Single|SingleOutput)?\("(openstack:[^"]+)"/g)) tokens.add(m[1]);
      }
    }
  };
  walk(path.join(REPO, "node_modules/@pulumi/openstack"));
  return tokens;
}

describe("pulumi-resource-openstack built from Go modules", () => {
  it("is package openstack, version 3.15.2 (what the engine asks for)", () => {
    expect(schema.name).toBe("openstack");
    expect(schema.version).toBe("3.15.2");
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@pulumi/openstack/package.json"), "utf8"));
    expect(pkg.version.replace(/^v/, "")).toBe(schema.version);
  });

  it("has every token the 3.15.2 SDK sends, except the resources terraform-provider-openstack v3.4.0 removed", () => {
    const sdk = sdkTokens();
    expect(sdk.size).toBeGreaterThan(150);
    const have = new Set([...Object.keys(schema.resources), ...Object.keys(schema.functions)]);
    const missing = [...sdk].filter((t) => !have.has(t)).sort();
    // removed upstream in v2/v3 of the TF provider: block storage v1/v2, nova-network floating IPs and security
    // groups, FWaaS v1, LBaaS v1
    expect(missing).toEqual([
      "openstack:blockstorage/getSnapshotV2:getSnapshotV2",
      "openstack:blockstorage/getVolumeV2:getVolumeV2",
      "openstack:blockstorage/quoteSetV2:QuoteSetV2",
      "openstack:blockstorage/volumeAttachV2:VolumeAttachV2",
      "openstack:blockstorage/volumeV1:VolumeV1",
      "openstack:blockstorage/volumeV2:VolumeV2",
      "openstack:compute/floatingIp:FloatingIp",
      "openstack:compute/floatingIpAssociate:FloatingIpAssociate",
      "openstack:compute/secGroup:SecGroup",
      "openstack:firewall/firewall:Firewall",
      "openstack:firewall/getPolicy:getPolicy",
      "openstack:firewall/policy:Policy",
      "openstack:firewall/rule:Rule",
      "openstack:loadbalancer/memberV1:MemberV1",
      "openstack:loadbalancer/monitorV1:MonitorV1",
      "openstack:loadbalancer/poolV1:PoolV1",
      "openstack:loadbalancer/vip:Vip",
    ]);
  });

  it("has every token the program uses, with descriptions from the provider's docs", () => {
    for (const t of [
      "openstack:images/image:Image",
      "openstack:compute/instance:Instance",
      "openstack:compute/keypair:Keypair",
      "openstack:compute/volumeAttach:VolumeAttach",
      "openstack:blockstorage/volume:Volume",
      "openstack:networking/secGroup:SecGroup",
      "openstack:networking/secGroupRule:SecGroupRule",
      "openstack:networking/floatingIp:FloatingIp",
      "openstack:networking/floatingIpAssociate:FloatingIpAssociate",
    ]) {
      expect(schema.resources[t]).toBeDefined();
      // the docs reached tfgen: inputs are described (a page that mentions Terraform loses its top description)
      const described = Object.values<any>(schema.resources[t].inputProperties).filter((p) => p.description);
      expect(described.length).toBeGreaterThan(0);
    }
    const all = Object.values(schema.resources);
    expect(all.filter((r) => r.description).length).toBeGreaterThan(all.length * 0.9);
    for (const t of [
      "openstack:compute/getFlavor:getFlavor",
      "openstack:compute/getKeypair:getKeypair",
      "openstack:images/getImage:getImage",
      "openstack:networking/getNetwork:getNetwork",
      "openstack:networking/getPort:getPort",
    ])
      expect(schema.functions[t]).toBeDefined();
  });

  it("keeps the list/object shapes the SDK uses for the program's inputs", () => {
    const instance = schema.resources["openstack:compute/instance:Instance"].inputProperties;
    expect(instance.networks.type).toBe("array");
    expect(instance.blockDevices.type).toBe("array");
    expect(instance.securityGroups.type).toBe("array");
    expect(instance.userData.type).toBe("string");
    expect(instance.volumes).toBeUndefined(); // removed in v3.4.0 (the program does not use it)
    const image = schema.resources["openstack:images/image:Image"].inputProperties;
    expect(image.properties.type).toBe("object");
    expect(image.tags.type).toBe("array");
    expect(image.localFilePath.type).toBe("string");
    const rule = schema.resources["openstack:networking/secGroupRule:SecGroupRule"].inputProperties;
    expect(rule.portRangeMin.type).toBe("integer");
    expect(schema.resources["openstack:blockstorage/volume:Volume"].inputProperties.size.type).toBe("integer");
  });

  it("installs into a Pulumi plugin cache with `--plugin-install` (the air-gapped way)", () => {
    const home = tempDir("jhvm-plugin-home-");
    try {
      const pulumiBin = script("install-pulumi.sh", "--print-path");
      const env = { ...process.env, PULUMI_HOME: home, PATH: `${pulumiBin}:${process.env.PATH}` };
      execFileSync("bash", [path.join(REPO, "scripts/install-openstack-provider.sh"), "--plugin-install"], { env });
      const ls = JSON.parse(execFileSync("pulumi", ["plugin", "ls", "--json"], { env, encoding: "utf8" }));
      expect(ls.map((p: any) => `${p.kind} ${p.name} ${p.version}`)).toEqual(["resource openstack 3.15.2"]);
      const installed = path.join(home, "plugins/resource-openstack-v3.15.2/pulumi-resource-openstack");
      expect(fs.readFileSync(installed).equals(fs.readFileSync(path.join(bin, "pulumi-resource-openstack")))).toBe(
        true,
      );
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
