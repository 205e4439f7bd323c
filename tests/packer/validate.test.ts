// Offline checks of the Packer templates with the real (current) Packer and plugins:
// fmt, init (must be a no-op), validate for every OS x builder, the disk_image path, the rendered
// installer answer files, and invalid inputs that must be rejected without leaking secrets.
// Needs packer from scripts/install-packer.sh (or JHVM_PACKER); fails (never skips) without it.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  BUILDERS,
  Credentials,
  OSES,
  PACKER_DIR,
  REPO,
  findPacker,
  makeCredentials,
  run,
  secretEnv,
  tmpDir,
  writeSecretVarFile,
} from "./helpers";
import { baseBoxSettings } from "../support";

jest.setTimeout(180_000);

let packer: string;
let creds: Credentials;
let work: string;

beforeAll(() => {
  packer = findPacker();
  creds = makeCredentials();
  work = tmpDir("jhvm-packer-validate-");
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function varFile(osName: string): string {
  return `-var-file=${path.join(PACKER_DIR, "os", `${osName}.pkrvars.hcl`)}`;
}

function outDir(tag: string): string {
  // Must not exist: the builders refuse an existing output directory.
  return `-var=output_directory=${path.join(work, "out", tag)}`;
}

/** Packer wraps its messages: compare with whitespace runs collapsed. */
const flat = (s: string) => s.replace(/\s+/g, " ");

function expectNoSecrets(output: string): void {
  expect(output).not.toContain(creds.password);
  expect(output).not.toContain(creds.passwordHash);
}

test("packer is a current release (>= 1.11, required_plugins support)", () => {
  const r = run(packer, ["version"]);
  expect(r.status).toBe(0);
  const m = /Packer v(\d+)\.(\d+)\.(\d+)/.exec(r.output);
  expect(m).not.toBeNull();
  const [major, minor] = [Number(m![1]), Number(m![2])];
  expect(major > 1 || (major === 1 && minor >= 11)).toBe(true);
});

test("templates are formatted (packer fmt -check -recursive packer/)", () => {
  const r = run(packer, ["fmt", "-check", "-recursive", PACKER_DIR]);
  expect(r.output).toBe("");
  expect(r.status).toBe(0);
});

test("packer init is a no-op: every required plugin is already installed", () => {
  const r = run(packer, ["init", PACKER_DIR]);
  expect(r.status).toBe(0);
  expect(r.output).not.toMatch(/Installed plugin|Installing/);
  const req = run(packer, ["plugins", "required", PACKER_DIR]);
  expect(req.status).toBe(0);
  for (const name of ["qemu", "virtualbox", "vagrant", "ansible"]) {
    expect(req.output).toMatch(
      new RegExp(`^${name} github\\.com/hashicorp/${name} "= \\d+\\.\\d+\\.\\d+" \\S+/packer-plugin-${name}_v`, "m"),
    );
  }
});

describe.each(OSES.flatMap((osName) => BUILDERS.map((builder) => [osName, builder] as const)))(
  "packer validate %s with -only=%s",
  (osName, builder) => {
    test("succeeds (secrets from PKR_VAR_* environment variables)", () => {
      const r = run(
        packer,
        ["validate", varFile(osName), `-only=${builder}`, outDir(`${osName}-${builder}`), PACKER_DIR],
        { env: secretEnv(creds) },
      );
      expect(r.output).toContain("The configuration is valid.");
      // -only must really select the build (else validate passes vacuously with a warning).
      expect(r.output).not.toContain("not all matches were found");
      expect(r.status).toBe(0);
      expectNoSecrets(r.output);
    });
  },
);

test("validate succeeds with the secrets in a 0600 var-file and stack settings as -var", () => {
  const secrets = writeSecretVarFile(work, creds);
  expect(fs.statSync(secrets).mode & 0o777).toBe(0o600);
  const r = run(packer, [
    "validate",
    varFile("ubuntu-24.04"),
    `-var-file=${secrets}`,
    "-var=accelerator=tcg",
    "-var=http_proxy=http://proxy.example.org:3128",
    "-var=https_proxy=http://proxy.example.org:3128",
    "-var=no_proxy=localhost,127.0.0.1,.example.org",
    "-var=locale=fr_FR.UTF-8",
    "-var=timezone=Europe/Paris",
    "-var=keyboard=fr",
    "-var=mirror=https://mirror.example.org/ubuntu",
    "-var=disk_size=30720",
    "-var=memory=4096",
    "-var=cpus=4",
    "-var=vm_name=jhub-base",
    outDir("settings"),
    PACKER_DIR,
  ]);
  expect(r.output).toContain("The configuration is valid.");
  expect(r.status).toBe(0);
  expectNoSecrets(r.output);
});

test("the qemu source validates in disk_image mode (start from an existing qcow2)", () => {
  const disk = path.join(work, "input.qcow2");
  fs.writeFileSync(disk, "");
  const r = run(
    packer,
    [
      "validate",
      varFile("debian-12"),
      "-only=qemu.base",
      "-var=disk_image=true",
      `-var=iso_path=${disk}`,
      `-var=iso_checksum=sha256:${"0".repeat(64)}`,
      "-var=accelerator=tcg",
      outDir("disk-image"),
      PACKER_DIR,
    ],
    { env: secretEnv(creds) },
  );
  expect(r.output).toContain("The configuration is valid.");
  expect(r.output).not.toContain("not all matches were found");
  expect(r.status).toBe(0);
});

describe("rendered installer answer files", () => {
  // packer console evaluates the template's locals exactly as a build would. Packer masks sensitive
  // values in everything it prints ("<sensitive>"), so the expressions swap each secret for a marker
  // first: the markers show where the hash went, and that the plain password went nowhere.
  function evaluate(osName: string, expr: string, extra: string[] = []): string {
    const r = run(packer, ["console", varFile(osName), ...extra, PACKER_DIR], {
      env: secretEnv(creds),
      input: expr + "\n", // console reads expressions from stdin
    });
    expect(r.status).toBe(0);
    return r.stdout;
  }
  const unmask = (e: string) =>
    `replace(replace(replace(${e}, var.build_password_hash, "@@HASH@@"), var.build_password, "@@PASSWORD@@"), var.http_proxy, "@@PROXY@@")`;
  const PROXY = ["-var=http_proxy=http://proxy.example.org:3128"];

  test.each(["ubuntu-22.04", "ubuntu-24.04"])("%s user-data is valid autoinstall YAML with the hash only", (osName) => {
    const out = evaluate(osName, `jsonencode(${unmask('local.http_files.ubuntu["/user-data"]')})`, PROXY);
    const text = JSON.parse(out.trim()) as string;
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = yaml.load(text) as { autoinstall: Record<string, any> };
    const ai = doc.autoinstall;
    expect(ai.version).toBe(1);
    expect(ai.identity.username).toBe(creds.username);
    expect(ai.identity.password).toBe("@@HASH@@");
    expect(ai.identity.hostname).toBe(`base-${osName}`);
    expect(ai.ssh["install-server"]).toBe(true);
    expect(ai.ssh["allow-pw"]).toBe(true);
    expect(ai.proxy).toBe("@@PROXY@@");
    expect(ai.locale).toBe("en_US.UTF-8");
    expect(ai.timezone).toBe("UTC");
    expect(ai.keyboard.layout).toBe("us");
    expect(ai.apt.primary[0].uri).toBe("http://archive.ubuntu.com/ubuntu");
    expect(ai["late-commands"][0]).toBe(
      `printf '%s ALL=(ALL) NOPASSWD:ALL\\n' '${creds.username}' > /target/etc/sudoers.d/90-build-user`,
    );
    expect(text).not.toContain("@@PASSWORD@@");
    expect(text).not.toMatch(/vagrant/);
  });

  test("without a proxy the user-data has no proxy key", () => {
    const out = evaluate("ubuntu-22.04", 'jsonencode(local.http_files.ubuntu["/user-data"])');
    const doc = yaml.load(JSON.parse(out.trim()) as string) as { autoinstall: Record<string, unknown> };
    expect(doc.autoinstall).not.toHaveProperty("proxy");
  });

  test("ubuntu boot command uses autoinstall with the NoCloud seed on Packer's HTTP server", () => {
    const out = evaluate("ubuntu-22.04", "jsonencode(local.boot_command)");
    const cmd = (JSON.parse(out.trim()) as string[]).join("");
    expect(cmd).toContain("autoinstall ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/");
  });

  test("debian-12 preseed sets the hashed build user, no root login, the official mirror", () => {
    const out = evaluate("debian-12", `jsonencode(${unmask('local.http_files.debian["/preseed.cfg"]')})`, PROXY);
    const text = JSON.parse(out.trim()) as string;
    const lines = text.split("\n");
    expect(lines).toContain(`d-i passwd/username string ${creds.username}`);
    expect(lines).toContain("d-i passwd/user-password-crypted password @@HASH@@");
    expect(lines).toContain("d-i passwd/root-login boolean false");
    expect(lines).toContain("d-i mirror/protocol string http");
    expect(lines).toContain("d-i mirror/http/hostname string deb.debian.org");
    expect(lines).toContain("d-i mirror/http/directory string /debian");
    expect(lines).toContain("d-i mirror/http/proxy string @@PROXY@@");
    expect(lines).toContain("d-i time/zone string UTC");
    expect(lines).toContain("d-i debian-installer/locale string en_US.UTF-8");
    expect(text).not.toContain("@@PASSWORD@@");
    expect(text).not.toMatch(/root-password|vagrant/);
  });

  test("a custom https mirror is split into protocol, host and directory for the preseed", () => {
    const out = evaluate("debian-12", 'jsonencode(local.http_files.debian["/preseed.cfg"])', [
      "-var=mirror=https://mirror.example.org:8443/debian/",
    ]);
    const lines = (JSON.parse(out.trim()) as string).split("\n");
    expect(lines).toContain("d-i mirror/protocol string https");
    expect(lines).toContain("d-i mirror/https/hostname string mirror.example.org:8443");
    expect(lines).toContain("d-i mirror/https/directory string /debian");
  });

  test("disk_image mode serves nothing and types no boot command", () => {
    const out = evaluate(
      "debian-12",
      "jsonencode([local.http_content, local.boot_command])",
      ["-var=disk_image=true"],
    );
    expect(JSON.parse(out.trim())).toEqual([{}, []]);
  });
});

describe("invalid inputs are rejected", () => {
  test("accelerator=bogus fails its validation block", () => {
    const r = run(
      packer,
      ["validate", varFile("debian-12"), "-var=accelerator=bogus", outDir("bogus"), PACKER_DIR],
      { env: secretEnv(creds) },
    );
    expect(r.status).not.toBe(0);
    expect(flat(r.output)).toContain("The accelerator must be one of kvm, tcg, hvf, whpx, xen, none.");
  });

  test("a missing build_password (required, no default) fails", () => {
    const env = secretEnv(creds);
    delete env.PKR_VAR_build_password;
    const r = run(packer, ["validate", varFile("debian-12"), outDir("nopw"), PACKER_DIR], { env });
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/build_password/);
  });

  test("a plain-text password given as the hash is rejected without being printed", () => {
    const env = { ...secretEnv(creds), PKR_VAR_build_password_hash: creds.password };
    const r = run(packer, ["validate", varFile("debian-12"), outDir("badhash"), PACKER_DIR], { env });
    expect(r.status).not.toBe(0);
    expect(flat(r.output)).toContain("The build_password_hash must be a SHA-512 crypt string");
    expectNoSecrets(r.output);
  });

  test("build_username vagrant is refused", () => {
    const env = { ...secretEnv(creds), PKR_VAR_build_username: "vagrant" };
    const r = run(packer, ["validate", varFile("debian-12"), outDir("vagrant"), PACKER_DIR], { env });
    expect(r.status).not.toBe(0);
    expect(flat(r.output)).toContain("neither root nor vagrant");
  });

  test("an iso_checksum that is not sha256 is refused", () => {
    const r = run(
      packer,
      ["validate", varFile("ubuntu-22.04"), "-var=iso_checksum=md5:0123", outDir("md5"), PACKER_DIR],
      { env: secretEnv(creds) },
    );
    expect(r.status).not.toBe(0);
    expect(flat(r.output)).toContain("The iso_checksum must be");
  });
});

describe("the stage drivers' generated variable files (what a by-hand re-run uses)", () => {
  /**
   * Runs a stage driver with a packer wrapper that turns its `packer build` into `packer validate` with the same
   * variable files (then leaves the artifact the driver expects): the real Packer checks every value's type.
   */
  async function validateThroughDriver(stage: "base-box" | "final-image", settings: Record<string, unknown>) {
    const { spawn } = await import("child_process");
    const dir = tmpDir(`jhvm-${stage}-vars-`);
    const wrapper = path.join(dir, "packer");
    fs.writeFileSync(
      wrapper,
      `#!/bin/bash
args=(); for a in "$@"; do case "$a" in build|-color=false|-timestamp-ui) ;; *) args+=("$a");; esac; done
${JSON.stringify(packer)} validate "\${args[@]}" > "${dir}/validate.out" 2>&1 || { cat "${dir}/validate.out"; exit 1; }
for a in "$@"; do case "$a" in -var-file=*build.pkrvars.hcl) f=\${a#-var-file=};; esac; done
out=$(sed -n 's/^output_directory *= "\\(.*\\)"$/\\1/p' "$f"); vm=$(sed -n 's/^vm_name *= "\\(.*\\)"$/\\1/p' "$f")
mkdir -p "$out/qemu" && qemu-img create -q -f qcow2 "$out/qemu/$vm.qcow2" 16M && cp "$out/qemu/$vm.qcow2" "$out/$vm.qcow2"
`,
      { mode: 0o755 },
    );
    const file = path.join(dir, "settings.json");
    fs.writeFileSync(file, JSON.stringify({ stage, ...settings }));
    const child = spawn(process.execPath, [path.join(REPO, "node_modules/tsx/dist/cli.mjs"), `stages/${stage}/driver.ts`, "create"], {
      cwd: REPO,
      env: { ...process.env, JHVM_SETTINGS: file, JHVM_KEY: "v".repeat(64), JHVM_PACKER: wrapper },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { status, stderr, validate: fs.existsSync(`${dir}/validate.out`) ? fs.readFileSync(`${dir}/validate.out`, "utf8") : "" };
  }

  const runVars = { memoryMb: 2048, cpus: 2, headless: true, accelerator: "tcg" };

  it.each(OSES)("base box (%s, qemu): packer validate accepts the OS file + the generated file + the secrets", async (osName) => {
    const d = tmpDir("jhvm-bb-");
    const r = await validateThroughDriver("base-box", baseBoxSettings(d, { os: osName }));
    expect(r.validate).toContain("The configuration is valid.");
    expect(r.status).toBe(0);
  });

  it("final image: packer validate accepts the generated file + the secrets", async () => {
    const d = tmpDir("jhvm-fi-");
    // a base box entry as the BaseBox stage leaves it: the image and its build credentials
    const base = path.join(d, "cache", "base-box", "k");
    fs.mkdirSync(base, { recursive: true });
    run("qemu-img", ["create", "-q", "-f", "qcow2", path.join(base, "base.qcow2"), "16M"]);
    fs.writeFileSync(path.join(base, "build-credentials.json"), JSON.stringify({ username: "builder", password: "pw-for-validate" }), { mode: 0o600 });
    const r = await validateThroughDriver("final-image", {
      buildDir: path.join(d, "build"),
      cacheDir: path.join(d, "cache"),
      keepCache: true,
      basePath: path.join(base, "base.qcow2"),
      baseSha256: "b".repeat(64),
      baseFormat: "qcow2",
      provisioner: "packer",
      ansibleVars: { system_hostname: "hub" },
      exportFormat: "qcow2",
      compression: "none",
      diskSizeGb: 8,
      runVars,
    });
    // the driver goes on to export and check the (empty) image; only packer's verdict matters here
    expect(r.validate).toContain("The configuration is valid.");
  });
});
