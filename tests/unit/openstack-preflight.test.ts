/**
 * The OpenStack preflight's messages: the provider's reason kept whatever line it is on (texts as the bridged
 * provider words them, see tests/e2e/lab-stack.test.ts for the real ones), an unknown cloud reported as that, and
 * a cloud that cannot be asked reported once, not as a missing flavor.
 */
import * as fs from "fs";
import * as path from "path";
import { fitProblems, checkCloudEntry, isNotFound, lookupReason } from "../../targets/openstack/preflight";
import { NO_RESULTS, bridgedInvokeError, runProgram, tempDir } from "./harness";
import { program } from "./program";
import type { OpenstackStackConfig } from "../../config";

const FLAVOR = "openstack:compute/getFlavor:getFlavor";
const NETWORK = "openstack:networking/getNetwork:getNetwork";
const KEYPAIR = "openstack:compute/getKeypair:getKeypair";
const IMAGE = "openstack:images/getImage:getImage";

describe("lookupReason", () => {
  it("keeps the reason from the line after the bridge's header", () => {
    expect(lookupReason(new Error(bridgedInvokeError(FLAVOR, NO_RESULTS)))).toBe(NO_RESULTS);
  });
  it("joins several reasons", () => {
    const e = `invocation of ${FLAVOR} returned an error: invoking ${FLAVOR}: 2 errors occurred:\n\t* one\n\t* two\n\n`;
    expect(lookupReason(e)).toBe("one; two");
  });
  it("keeps a one-line error whole, minus the invoke prefix", () => {
    expect(lookupReason(new Error(`invocation of ${KEYPAIR} returned an error: something broke`))).toBe(
      "something broke",
    );
  });
  it("classifies the real providers' not-found texts as not found, and others not", () => {
    expect(isNotFound(NO_RESULTS)).toBe(true);
    expect(isNotFound("No openstack_networking_port_v2 found")).toBe(true);
    expect(
      isNotFound(
        "Error retrieving openstack_compute_keypair_v2 k: Expected HTTP response code [200] when accessing [GET http://127.0.0.1:8774/v2.1/os-keypairs/k], but got 404 instead",
      ),
    ).toBe(true);
    expect(isNotFound("Authentication failed")).toBe(false);
    expect(isNotFound("dial tcp 127.0.0.1:5000: connect: connection refused")).toBe(false);
  });
});

describe("checkCloudEntry", () => {
  const dir = tempDir();
  const file = path.join(dir, "clouds.yaml");
  fs.writeFileSync(file, "clouds:\n  lab-demo: {auth: {auth_url: 'http://127.0.0.1:5000/v3'}}\n  other: {}\n");

  it("accepts a cloud the file names", () => {
    expect(checkCloudEntry("lab-demo", [file])).toBeUndefined();
  });
  it("names the file and the clouds it has for an unknown cloud", () => {
    expect(checkCloudEntry("lab-nope", [path.join(dir, "missing.yaml"), file])).toBe(
      `openstack.cloud: "lab-nope" is not a cloud in ${file} (it has: lab-demo, other); use one of those names, or add the cloud to that file`,
    );
  });
  it("says where it looked when there is no clouds.yaml", () => {
    const msg = checkCloudEntry("x", [path.join(dir, "a.yaml"), path.join(dir, "b.yaml")]);
    expect(msg).toMatch(/^openstack\.cloud: "x" cannot be used: no clouds\.yaml was found \(looked in /);
    expect(msg).toContain("OS_CLIENT_CONFIG_FILE");
  });
  it("reports a broken file as broken", () => {
    const bad = path.join(dir, "bad.yaml");
    fs.writeFileSync(bad, "clouds: [unclosed\n");
    expect(checkCloudEntry("x", [bad])).toMatch(/cannot be read as YAML .*; fix that file$/);
  });
});

describe("preflight in the program (mocks)", () => {
  const base = () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, "hub.qcow2"), "bytes");
    return {
      target: "openstack",
      buildDir: path.join(d, "build"),
      cacheDir: path.join(d, "cache"),
      adminPassword: "correct-horse-battery-staple",
      // the existing image is deployed: nothing is built (an image file beside it would be a config problem)
      image: {},
      hub: { admins: ["admin"] },
      openstack: {
        cloud: "lab-demo",
        flavor: "m1.nope",
        network: "no-net",
        floatingIpPool: "no-pool",
        keyPair: "nokey",
        existingImage: "noimg",
      },
    };
  };
  const failure = async (opts: Parameters<typeof runProgram>[1]) => {
    try {
      await runProgram(program, opts);
    } catch (e) {
      return e as Error & { registered: { type: string }[] };
    }
    throw new Error("the program did not fail");
  };

  it("lists every failed lookup with the provider's reason, and registers nothing", async () => {
    const keypairReason = "Error retrieving openstack_compute_keypair_v2 nokey: Resource not found";
    const e = await failure({
      config: base(),
      secrets: ["adminPassword"],
      failingInvokes: { [FLAVOR]: "", [NETWORK]: "", [KEYPAIR]: keypairReason, [IMAGE]: "" },
    });
    expect(e.message).toContain("Preflight failed (5 problems):");
    expect(e.message).toContain(
      `openstack.flavor: "m1.nope" was not found in cloud "lab-demo" (${NO_RESULTS}); pick one from \`openstack flavor list\``,
    );
    expect(e.message).toContain(`openstack.network: "no-net" was not found in cloud "lab-demo" (${NO_RESULTS})`);
    expect(e.message).toContain(`openstack.keyPair: "nokey" was not found in cloud "lab-demo" (${keypairReason})`);
    expect(e.message).toContain(
      `openstack.floatingIpPool: "no-pool" was not found in cloud "lab-demo" (${NO_RESULTS}); pick one from \`openstack network list --external\``,
    );
    expect(e.message).toContain(`openstack.existingImage: "noimg" was not found in cloud "lab-demo" (${NO_RESULTS})`);
    expect(e.registered.filter((r) => r.type.startsWith("openstack:") && !r.type.includes("providers"))).toEqual([]);
  });

  it("says once that the cloud could not be asked, not that each object is missing", async () => {
    const down = 'Post "http://127.0.0.1:5000/v3/auth/tokens": dial tcp 127.0.0.1:5000: connect: connection refused';
    const e = await failure({
      config: base(),
      secrets: ["adminPassword"],
      failingInvokes: { [FLAVOR]: down, [NETWORK]: down, [KEYPAIR]: down, [IMAGE]: down },
    });
    expect(e.message).toContain("Preflight failed (1 problem):");
    expect(e.message).toContain(
      `openstack.cloud: cloud "lab-demo" could not be asked for openstack.flavor, openstack.network, openstack.floatingIpPool, openstack.keyPair, openstack.existingImage (${down})`,
    );
    expect(e.message).not.toContain("was not found");
  });

  it("reports a cloud missing from clouds.yaml as that, before any lookup", async () => {
    const e = await failure({
      config: base(),
      secrets: ["adminPassword"],
      cloudsYaml: "clouds:\n  genostack: {}\n",
      failingInvokes: [FLAVOR],
    });
    expect(e.message).toMatch(/openstack\.cloud: "lab-demo" is not a cloud in \S+clouds\.yaml \(it has: genostack\)/);
    expect(e.message).not.toContain("flavor");
  });

  it("reports the config's problems and the cloud's in one run (a bad value does not hide a missing flavor)", async () => {
    const cfg = base();
    const e = await failure({
      config: { ...cfg, image: { ...cfg.image, diskSizeGb: 1 }, openstack: { cloud: "lab-demo", flavor: "m1.nope" } },
      secrets: ["adminPassword"],
      failingInvokes: { [FLAVOR]: "" },
    });
    expect(e.message.split("\n")).toEqual([
      "Invalid stack configuration (2 problems):",
      "  - image.diskSizeGb: 1 is out of range; use a number from 8 to 2048",
      `  - openstack.flavor: "m1.nope" was not found in cloud "lab-demo" (${NO_RESULTS}); pick one from \`openstack flavor list\``,
    ]);
    expect(e.registered.filter((r) => !r.type.startsWith("pulumi:providers:"))).toEqual([]);
  });

  it("checks that the image fits the flavor found: RAM against minRamMb, disk against diskSizeGb", () => {
    const cfg = (openstack: object) =>
      ({
        image: { diskSizeGb: 20 },
        openstack: { flavor: "m1.small", minRamMb: 2048, bootVolumeSizeGb: 0, ...openstack },
      }) as unknown as OpenstackStackConfig;
    const lookups = [{ key: "openstack.flavor", value: "m1.small", run: async () => 0, fix: "" }];
    const found = (ram: number, disk: number): PromiseSettledResult<unknown>[] => [
      { status: "fulfilled", value: { ram, disk } },
    ];
    expect(fitProblems(cfg({}), lookups, found(512, 10))).toEqual([
      'openstack.flavor: "m1.small" has 512 MiB of RAM, less than openstack.minRamMb (2048), the image\'s minimum that Nova enforces; pick a flavor with at least 2048 MiB, or lower openstack.minRamMb',
      'openstack.flavor: "m1.small" has a 10 GiB disk, smaller than image.diskSizeGb (20); pick a flavor with at least 20 GiB, or boot from a volume: openstack.bootVolumeSizeGb 20 or more',
    ]);
    expect(fitProblems(cfg({ bootVolumeSizeGb: 20, minRamMb: 512 }), lookups, found(512, 10))).toEqual([]);
    expect(fitProblems(cfg({}), lookups, found(4096, 40))).toEqual([]);
  });
});
