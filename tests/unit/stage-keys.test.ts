/** Every input of a stage's content key matters, and nothing else does. */
import * as fs from "fs";
import * as path from "path";
import { baseBoxFiles, baseBoxKey } from "../../stages/base-box/component";
import { FINAL_IMAGE_FILES, finalImageKey } from "../../stages/final-image/component";
import { canonicalJson, hashPaths } from "../../stages/runner";
import { ansibleVars } from "../../stages/final-image/ansible-vars";
import { SCHEMA } from "../../config/schema";
import { tempDir } from "./harness";

const IMAGE_VARS = {
  diskSizeGb: 20,
  locale: "en_US.UTF-8",
  timezone: "UTC",
  keyboard: "us",
  mirror: "",
  httpProxy: "",
  httpsProxy: "",
  noProxy: "localhost",
};
const BASE = { os: "ubuntu-24.04" as const, builder: "qemu" as const, imageVars: IMAGE_VARS };
const FINAL = {
  provisioner: "packer" as const,
  ansibleVars: { a: 1 },
  exportFormat: "qcow2" as const,
  compression: "zlib" as const,
};

describe("base box key", () => {
  const k = baseBoxKey(BASE, "iso-sha");
  it.each([
    ["os", { ...BASE, os: "debian-12" as const }, "iso-sha"],
    ["builder", { ...BASE, builder: "virtualbox" as const }, "iso-sha"],
    ["disk size", { ...BASE, imageVars: { ...IMAGE_VARS, diskSizeGb: 40 } }, "iso-sha"],
    ["mirror", { ...BASE, imageVars: { ...IMAGE_VARS, mirror: "http://m/" } }, "iso-sha"],
    ["proxy", { ...BASE, imageVars: { ...IMAGE_VARS, httpProxy: "http://p:3128" } }, "iso-sha"],
    ["ISO checksum", BASE, "other-sha"],
  ])("changes with the %s", (_what, args, iso) => {
    expect(baseBoxKey(args, iso)).not.toBe(k);
  });

  it("covers every Packer template, the OS variable file and the install seed files", () => {
    const files = baseBoxFiles("ubuntu-24.04");
    const templates = fs.readdirSync(path.join(__dirname, "../../packer")).filter((f) => f.endsWith(".pkr.hcl"));
    expect(templates.length).toBeGreaterThan(0);
    for (const t of templates) expect(files).toContain(`packer/${t}`);
    expect(files).toContain("packer/os/ubuntu-24.04.pkrvars.hcl");
    expect(files).toContain("packer/http/ubuntu");
    expect(files).not.toContain("packer/os/debian-12.pkrvars.hcl");
  });
});

describe("final image key", () => {
  const k = finalImageKey(FINAL, "base-sha");
  it.each([
    ["Ansible variables", { ...FINAL, ansibleVars: { a: 2 } }, "base-sha"],
    ["export format", { ...FINAL, exportFormat: "vmdk" as const }, "base-sha"],
    ["compression", { ...FINAL, compression: "zstd" as const }, "base-sha"],
    ["base box checksum", FINAL, "other-base"],
    ["content files", { ...FINAL, contentHash: "abc" }, "base-sha"],
  ])("changes with the %s", (_what, args, base) => {
    expect(finalImageKey(args, base)).not.toBe(k);
  });

  it("covers the Ansible tree and the hygiene check", () => {
    expect(FINAL_IMAGE_FILES).toEqual(expect.arrayContaining(["ansible", "tools/image-hygiene-check", "packer/final"]));
  });
});

describe("hashing", () => {
  it("hashPaths changes when a file's content, name or presence changes, and not otherwise", () => {
    const d = tempDir();
    fs.mkdirSync(path.join(d, "roles/x"), { recursive: true });
    fs.writeFileSync(path.join(d, "roles/x/main.yml"), "a: 1\n");
    const h1 = hashPaths(d, ["roles", "extra.yml"]);
    expect(hashPaths(d, ["roles", "extra.yml"])).toBe(h1);
    fs.writeFileSync(path.join(d, "roles/x/main.yml"), "a: 2\n");
    const h2 = hashPaths(d, ["roles", "extra.yml"]);
    expect(h2).not.toBe(h1);
    fs.writeFileSync(path.join(d, "extra.yml"), "");
    expect(hashPaths(d, ["roles", "extra.yml"])).not.toBe(h2);
    fs.renameSync(path.join(d, "roles/x"), path.join(d, "roles/y"));
    expect(hashPaths(d, ["roles", "extra.yml"])).not.toBe(h2);
  });

  it("canonicalJson ignores key order", () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe(canonicalJson({ a: [1, { c: 3, d: 2 }], b: 1 }));
  });
});

describe("content source", () => {
  it("maps hub.content to the content role's variables", () => {
    const { contentVars } = require("../../stages/final-image/ansible-vars");
    expect(contentVars("", "/p")).toEqual({ content_source: "none" });
    expect(contentVars("https://example.org/course.git#v1.2", "/p")).toEqual({
      content_source: "git",
      content_git_url: "https://example.org/course.git",
      content_git_ref: "v1.2",
    });
    expect(contentVars("notebooks", "/p")).toEqual({ content_source: "local", content_local_dir: "/p/notebooks" });
  });
});

describe("what config/schema.ts says a change does", () => {
  // a value other than the default, of the key's type (validity beyond the type does not matter to the mapping)
  const other = (k: (typeof SCHEMA)[number]): unknown => {
    const t = k.type as { kind: string; values?: readonly string[] };
    const d = k.default as unknown;
    if (t.kind === "enum") return t.values?.find((v) => v !== d);
    if (t.kind === "bool") return !d;
    if (t.kind === "int" || t.kind === "number") return Number(d) + 1;
    if (t.kind === "stringList") return [...(d as string[]), "x"];
    if (k.name === "content") return "https://example.org/lessons.git#v1";
    return `${String(d)}x`;
  };
  const defaults = (section: string) =>
    Object.fromEntries(SCHEMA.filter((k) => k.section === section).map((k) => [k.name, k.default]));
  const vars = (image: Record<string, unknown>, hub: Record<string, unknown>) =>
    ansibleVars({ image, hub } as unknown as Parameters<typeof ansibleVars>[0], "/nonexistent");
  const base = vars(defaults("image"), defaults("hub"));
  const keys = SCHEMA.filter((k) => (k.section === "image" || k.section === "hub") && k.type.kind !== "secret");

  it.each(keys.map((k) => [`${k.section}.${k.name}`, k] as const))(
    "%s: a key that reaches the image's Ansible variables says it rebuilds the image",
    (_name, k) => {
      const image = { ...defaults("image"), ...(k.section === "image" ? { [k.name]: other(k) } : {}) };
      const hub = { ...defaults("hub"), ...(k.section === "hub" ? { [k.name]: other(k) } : {}) };
      const changes = JSON.stringify(vars(image, hub)) !== JSON.stringify(base);
      if (changes) expect(["rebuild image", "rebuild final image"]).toContain(k.onChange);
      // and a hub key documented as rebuilding the final image does reach it
      if (k.section === "hub" && k.onChange === "rebuild final image") expect(changes).toBe(true);
    },
  );
});
