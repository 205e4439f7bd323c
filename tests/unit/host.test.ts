/**
 * The host checks without the tools: which stages preview expects to run (a cache hit needs no Packer), the tool
 * problems they give (all at once, install hints for Debian/Ubuntu, macOS and WSL2), and how `image.accelerator`
 * is chosen from the KVM probe. The probe itself runs QEMU for real in tests/images/accelerator.test.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { chooseAccelerator, toolProblems } from "../../host";
import { bootSector } from "../../host/accelerator";
import type { Runner } from "../../host/tools";
import { plannedBuild } from "../../pipeline";
import { LocalStackConfig } from "../../config";
import { SCHEMA } from "../../config/schema";
import { baseBoxKey } from "../../stages/base-box/component";
import { finalImageKey } from "../../stages/final-image/component";
import { isoImageKey } from "../../stages/iso-image/component";
import { ansibleVars } from "../../stages/final-image/ansible-vars";
import { exportArgs, resolveCompression } from "../../stages/final-image/export";
import { osDefaults } from "../../config/os";
import { tempDir } from "./harness";

/** A local stack's config with the schema's defaults (what loadConfig returns for an empty dev stack). */
function defaults(cacheDir: string): LocalStackConfig {
  const section = (s: string) =>
    Object.fromEntries(
      SCHEMA.filter((k) => k.section === s && k.type.kind !== "secret").map((k) => [k.name, k.default]),
    );
  const image = section("image") as unknown as LocalStackConfig["image"];
  const d = osDefaults(image.os);
  return {
    project: "jupyterhub-vm",
    stack: "dev",
    target: "local",
    buildDir: path.join(cacheDir, "..", "build"),
    cacheDir,
    keepCache: true,
    image: { ...image, isoUrl: d.isoUrl ?? "", isoSha256: d.isoSha256 ?? "" },
    hub: section("hub") as unknown as LocalStackConfig["hub"],
    local: section("local") as unknown as LocalStackConfig["local"],
  };
}

/** Puts a cache entry for `key` whose artifact has the recorded size (what peekCache accepts). */
function cacheEntry(cacheDir: string, stage: string, key: string, sha256: string) {
  const dir = path.join(cacheDir, stage, key);
  fs.mkdirSync(dir, { recursive: true });
  const artifact = path.join(dir, "artifact");
  fs.writeFileSync(artifact, "x");
  const result = { path: artifact, sha256, size: 1 };
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ result }));
}

describe("the build plan at preview", () => {
  it("counts every stage as running on an empty cache, with each stage's tools", () => {
    const cfg = defaults(path.join(tempDir("jhvm-host-"), "cache"));
    const plan = plannedBuild(cfg);
    expect(plan.runs).toEqual(["iso-image", "base-box", "final-image"]);
    const tools = [...new Set(plan.needs.map((n) => n.tool))];
    expect(tools).toEqual([
      "curl",
      "packer",
      "packer-plugins-base",
      "qemu-system",
      "qemu-img",
      "openssl",
      "packer-plugins-final",
      "ansible",
      "python3",
      "root",
      "qemu-img-zstd",
    ]);
  });

  it("needs no Packer, Ansible or curl when the cache holds the ISO, base box and final image", () => {
    const cacheDir = path.join(tempDir("jhvm-host-"), "cache");
    const cfg = defaults(cacheDir);
    const im = cfg.image;
    const isoSha = im.isoSha256;
    cacheEntry(cacheDir, "iso-image", isoImageKey({ url: im.isoUrl, sha256: isoSha, sha256SumsUrl: "" }), isoSha);
    const imageVars = {
      diskSizeGb: im.diskSizeGb,
      locale: im.locale,
      timezone: im.timezone,
      keyboard: im.keyboard,
      mirror: im.mirror,
      httpProxy: im.httpProxy,
      httpsProxy: im.httpsProxy,
      noProxy: im.noProxy,
    };
    const baseSha = "b".repeat(64);
    cacheEntry(cacheDir, "base-box", baseBoxKey({ os: im.os, builder: im.builder, imageVars }, isoSha), baseSha);
    // only the final image missing: Packer and Ansible, no curl and nothing for the base box
    let plan = plannedBuild(cfg);
    expect(plan.runs).toEqual(["final-image"]);
    expect(plan.needs.every((n) => /final image/.test(n.by))).toBe(true);
    const finalArgs = {
      provisioner: im.provisioner,
      ansibleVars: ansibleVars(cfg),
      exportFormat: im.exportFormat,
      compression: resolveCompression(im.compression, cfg.target).compression,
      contentHash: undefined,
    };
    cacheEntry(cacheDir, "final-image", finalImageKey(finalArgs, baseSha), "f".repeat(64));
    plan = plannedBuild(cfg);
    expect(plan).toEqual({ runs: [], needs: [] });
  });

  it("builds nothing for image.source file", () => {
    const cfg = defaults(path.join(tempDir("jhvm-host-"), "cache"));
    expect(plannedBuild({ ...cfg, image: { ...cfg.image, source: "file", file: "/x.qcow2" } })).toEqual({
      runs: [],
      needs: [],
    });
  });
});

describe("tool problems", () => {
  const none: Runner = (cmd) => ({ status: null, out: "", error: `spawnSync ${cmd} ENOENT` });

  it("lists every missing tool once, with all that needs it and the install commands", () => {
    const cfg = defaults(path.join(tempDir("jhvm-host-"), "cache"));
    const p = toolProblems(plannedBuild(cfg).needs, none);
    // packer once (its plugin checks need packer itself), then the others
    expect(p.map((l) => l.split(":")[0])).toEqual([
      "curl",
      "packer",
      "qemu-system-x86_64",
      "qemu-img",
      "openssl",
      "ansible-playbook",
      "python3",
      "root (loop-mounts for the image hygiene check)",
    ]);
    expect(p[1]).toBe(
      "packer: `packer` not found on PATH; needed by the base box build (no cached base box for these image settings), " +
        "the final image build (no cached final image for these settings); install: Debian/Ubuntu: add HashiCorp's apt " +
        "repository (apt.releases.hashicorp.com), then sudo apt install packer; without internet: bash " +
        "scripts/install-packer.sh (builds it from Go modules); macOS: brew tap hashicorp/tap && brew install " +
        "hashicorp/tap/packer; Windows: run this project inside WSL2 (Ubuntu) and use the Debian/Ubuntu command",
    );
    expect(p[5]).toMatch(/^ansible-playbook: .*Debian\/Ubuntu: sudo apt install ansible; macOS: brew install ansible;/);
  });

  it("qemu-img older than 5.1 is a problem when the export is zstd, and only then; no second line without qemu-img", () => {
    const qemuImg =
      (version: string): Runner =>
      () => ({ status: 0, out: `qemu-img version ${version} (Debian)\n` });
    const needs = [
      { tool: "qemu-img" as const, by: "the final image build" },
      { tool: "qemu-img-zstd" as const, by: "the final image's zstd export (image.compression)" },
    ];
    expect(toolProblems(needs, qemuImg("4.2.1"))).toEqual([
      "qemu-img (zstd): version 4.2.1 cannot write zstd-compressed qcow2 (QEMU >= 5.1 can); upgrade QEMU or set " +
        "image.compression zlib; needed by the final image's zstd export (image.compression); install: Debian/Ubuntu: " +
        "sudo apt install qemu-utils; macOS: brew install qemu; Windows: run this project inside WSL2 (Ubuntu) and use " +
        "the Debian/Ubuntu command",
    ]);
    expect(toolProblems(needs, qemuImg("5.1.0"))).toEqual([]);
    expect(toolProblems(needs, qemuImg("10.0.2"))).toEqual([]);
    expect(toolProblems(needs, none).map((l) => l.split(":")[0])).toEqual(["qemu-img"]);
  });

  it("names missing Packer plugins with the packer init command", () => {
    const run: Runner = (cmd, args) =>
      args[0] === "plugins"
        ? { status: 0, out: "/p/github.com/hashicorp/qemu/packer-plugin-qemu_v1.0.9_x5.0_linux_amd64\n" }
        : { status: 0, out: "Packer v1.15.4" };
    const p = toolProblems(
      [
        { tool: "packer", by: "b" },
        { tool: "packer-plugins-base", by: "b" },
        { tool: "packer-plugins-final", by: "f" },
      ],
      run,
    );
    expect(p).toEqual([
      "packer plugins for packer/final (qemu, ansible): not installed: github.com/hashicorp/ansible; needed by f; " +
        "install: Debian/Ubuntu: packer init packer/final; macOS: packer init packer/final; Windows: run this " +
        "project inside WSL2 (Ubuntu) and use the Debian/Ubuntu command",
    ]);
  });
});

describe("image.accelerator", () => {
  const works = () => ({ ok: true, why: "a test guest ran under kvm in 0.4 s" });
  const hangs = () => ({ ok: false, why: "a test guest did not finish under kvm within 8 s (it hangs)" });

  it("auto is kvm when a guest ran under KVM, else tcg, saying why", () => {
    if (process.platform !== "linux") return;
    expect(chooseAccelerator("auto", undefined, works)).toEqual({
      accelerator: "kvm",
      why: "a test guest ran under kvm in 0.4 s",
    });
    expect(chooseAccelerator("auto", undefined, hangs)).toEqual({
      accelerator: "tcg",
      why: "software emulation, slower: a test guest did not finish under kvm within 8 s (it hangs)",
    });
  });

  it("kvm is a problem when a guest does not run under it; tcg is never probed", () => {
    expect(chooseAccelerator("kvm", undefined, hangs).problem).toBe(
      '"kvm" cannot be used here: a test guest did not finish under kvm within 8 s (it hangs)',
    );
    expect(chooseAccelerator("kvm", undefined, works).problem).toBeUndefined();
    const never = () => {
      throw new Error("probed");
    };
    expect(chooseAccelerator("tcg", undefined, never)).toEqual({ accelerator: "tcg", why: "as configured" });
  });

  it("the probe guest is one boot sector that writes 0x21 to the isa-debug-exit port", () => {
    const b = bootSector();
    expect(b.length).toBe(512);
    expect([...b.subarray(0, 7)]).toEqual([0xb0, 0x21, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]);
    expect([b[510], b[511]]).toEqual([0x55, 0xaa]);
  });
});

describe("image.compression", () => {
  it("auto is zstd for the local target (this machine's QEMU runs the image) and zlib for OpenStack, saying why", () => {
    const local = resolveCompression("auto", "local");
    expect(local.compression).toBe("zstd");
    expect(local.why).toMatch(/this machine's QEMU/);
    const cloud = resolveCompression("auto", "openstack");
    expect(cloud.compression).toBe("zlib");
    expect(cloud.why).toMatch(/set image\.compression zstd/);
    expect(cloud.why).toMatch(/openstack hypervisor show/);
    for (const c of ["zstd", "zlib", "none"] as const)
      for (const t of ["local", "openstack"]) expect(resolveCompression(c, t)).toEqual({ compression: c });
  });

  it("the plan needs zstd from qemu-img only when the final image is exported with zstd", () => {
    const cfg = defaults(path.join(tempDir("jhvm-host-"), "cache"));
    const tools = (c: typeof cfg) => plannedBuild(c).needs.map((n) => n.tool);
    expect(tools(cfg)).toContain("qemu-img-zstd");
    expect(tools({ ...cfg, image: { ...cfg.image, compression: "zlib" } })).not.toContain("qemu-img-zstd");
    expect(tools({ ...cfg, image: { ...cfg.image, exportFormat: "vmdk" } })).not.toContain("qemu-img-zstd");
  });

  it("each compression is its own qemu-img export, compressed ones on every core (-m 16 -W)", () => {
    const head = ["convert", "-p", "-f", "qcow2", "-O", "qcow2"];
    expect(exportArgs("qcow2", "zstd", "a", "b")).toEqual([
      ...head,
      ...["-c", "-o", "compression_type=zstd", "-m", "16", "-W", "a", "b"],
    ]);
    expect(exportArgs("qcow2", "zlib", "a", "b")).toEqual([...head, "-c", "-m", "16", "-W", "a", "b"]);
    expect(exportArgs("qcow2", "zlib", "a", "b", { parallel: false })).toEqual([...head, "-c", "a", "b"]);
    expect(exportArgs("qcow2", "none", "a", "b")).toEqual([...head, "a", "b"]);
    expect(exportArgs("vmdk", "zstd", "a", "b")).toEqual([
      ...["convert", "-p", "-f", "qcow2", "-O", "vmdk", "-o", "subformat=streamOptimized", "a", "b"],
    ]);
  });
});
