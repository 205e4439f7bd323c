/**
 * The stage drivers as the Command resources run them (`node tsx stages/<stage>/driver.ts create|delete` with
 * JHVM_SETTINGS/JHVM_KEY), with real files, a real HTTP server on 127.0.0.1 and, for Packer, a fake `packer` that
 * records how it was called. Checks: downloads verified, mismatches rejected, local copies preferred, cache hits,
 * corrupted cache entries rebuilt, logs written, failures carrying the tool's last lines, secrets kept off argv.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { tempDir } from "./harness";
import { REPO, baseBoxSettings } from "../support";

const TSX = path.join(REPO, "node_modules/tsx/dist/cli.mjs");
const sha256 = (b: Buffer | string) => crypto.createHash("sha256").update(b).digest("hex");

interface DriverRun {
  status: number | null;
  stdout: string;
  stderr: string;
  result?: any;
}

/** Runs a driver asynchronously (the HTTP server below lives in this process and must keep answering). */
async function runDriver(
  stage: string,
  action: string,
  settings: Record<string, unknown>,
  key: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<DriverRun> {
  const dir = tempDir("jhvm-drv-");
  const file = path.join(dir, "settings.json");
  fs.writeFileSync(file, JSON.stringify({ stage, ...settings }));
  const child = spawn(process.execPath, [TSX, path.join(REPO, "stages", stage, "driver.ts"), action], {
    cwd: REPO,
    env: { ...process.env, JHVM_SETTINGS: file, JHVM_KEY: key, ...extraEnv },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const line = stdout.trim().split("\n").pop() ?? "";
  return { status, stdout, stderr, result: line.startsWith("{") ? JSON.parse(line) : undefined };
}

describe("iso-image driver", () => {
  let server: http.Server;
  let base: string;
  const iso = Buffer.from("pretend this is an installer ISO\n".repeat(1000));
  const isoSha = sha256(iso);
  let hits = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits++;
      if (req.url === "/release/test.iso") res.end(iso);
      else if (req.url === "/release/SHA256SUMS") res.end(`${"0".repeat(64)} *other.iso\n${isoSha} *test.iso\n`);
      else {
        res.statusCode = 404;
        res.end("nope");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/release`;
  });
  afterAll(() => server.close());

  const settingsFor = (over: Record<string, unknown> = {}) => {
    const d = tempDir();
    return {
      buildDir: path.join(d, "build"),
      cacheDir: path.join(d, "cache"),
      keepCache: true,
      url: `${base}/test.iso`,
      sha256: isoSha,
      sha256SumsUrl: "",
      localPath: "",
      ...over,
    };
  };

  it("downloads, verifies and publishes into the cache with a manifest; a second run is a cache hit", async () => {
    const s = settingsFor();
    const r = await runDriver("iso-image", "create", s, "k1");
    expect(r.status).toBe(0);
    expect(r.result.sha256).toBe(isoSha);
    expect(r.result.path).toBe(path.join(s.cacheDir, "iso-image", "k1", "test.iso"));
    expect(fs.readFileSync(r.result.path)).toEqual(iso);
    const manifest = JSON.parse(fs.readFileSync(path.join(s.cacheDir, "iso-image", "k1", "manifest.json"), "utf8"));
    expect(manifest.result.sha256).toBe(isoSha);
    expect(manifest.inputs.url).toBe(s.url);
    expect(fs.readFileSync(path.join(s.buildDir, "logs", "iso-image.log"), "utf8")).toContain("downloading");
    const before = hits;
    const again = await runDriver("iso-image", "create", s, "k1");
    expect(again.status).toBe(0);
    expect(again.stderr).toContain("cache hit");
    expect(hits).toBe(before);
  });

  it("rebuilds a corrupted cache entry instead of using it", async () => {
    const s = settingsFor();
    const first = (await runDriver("iso-image", "create", s, "k2")).result;
    fs.truncateSync(first.path, 100);
    const r = await runDriver("iso-image", "create", s, "k2");
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain("cache hit");
    expect(fs.readFileSync(r.result.path)).toEqual(iso);
  });

  it("rejects a download whose checksum does not match and keeps nothing", async () => {
    const s = settingsFor({ sha256: "f".repeat(64) });
    const r = await runDriver("iso-image", "create", s, "k3");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch .* expected f{64}; the download was deleted/);
    expect(fs.existsSync(path.join(s.cacheDir, "iso-image", "k3"))).toBe(false);
  });

  it("reads the checksum from SHA256SUMS when none is pinned", async () => {
    const r = await runDriver(
      "iso-image",
      "create",
      settingsFor({ sha256: "", sha256SumsUrl: `${base}/SHA256SUMS` }),
      "k4",
    );
    expect(r.status).toBe(0);
    expect(r.result.sha256).toBe(isoSha);
  });

  it("uses a local copy whose checksum matches, without downloading", async () => {
    const d = tempDir();
    const local = path.join(d, "mine.iso");
    fs.writeFileSync(local, iso);
    const before = hits;
    const r = await runDriver("iso-image", "create", settingsFor({ localPath: local }), "k5");
    expect(r.status).toBe(0);
    expect(r.result.path).toBe(local);
    expect(hits).toBe(before);
  });

  it("ignores a local copy with the wrong content and downloads instead", async () => {
    const d = tempDir();
    const local = path.join(d, "stale.iso");
    fs.writeFileSync(local, "old");
    const r = await runDriver("iso-image", "create", settingsFor({ localPath: local }), "k6");
    expect(r.status).toBe(0);
    expect(r.result.path).not.toBe(local);
    expect(r.stderr).toContain("not used");
  });

  it("delete removes the cache entry unless keepCache", async () => {
    const s = settingsFor({ keepCache: false });
    const r = await runDriver("iso-image", "create", s, "k7");
    const entry = path.dirname(r.result.path);
    expect(fs.existsSync(entry)).toBe(true);
    const d = await runDriver("iso-image", "delete", s, "k7", { PULUMI_COMMAND_STDOUT: r.stdout });
    expect(d.status).toBe(0);
    expect(fs.existsSync(entry)).toBe(false);
  });
});

describe("base-box driver (fake packer)", () => {
  const fakePacker = (dir: string, behaviour: "ok" | "fail") => {
    const file = path.join(dir, "packer");
    fs.writeFileSync(
      file,
      `#!/bin/bash
printf '%s\\n' "$@" > "${dir}/argv"
for a in "$@"; do case "$a" in -var-file=*secrets*) f=\${a#-var-file=}; stat -c %a "$f" > "${dir}/secrets-mode"; cp "$f" "${dir}/secrets-copy";; -var-file=*build.pkrvars.hcl) f=\${a#-var-file=}; cp "$f" "${dir}/vars-copy"; out=$(sed -n 's/^output_directory *= "\\(.*\\)"$/\\1/p' "$f"); vm=$(sed -n 's/^vm_name *= "\\(.*\\)"$/\\1/p' "$f");; esac; done
echo "==> qemu.base: building with password $(grep build_password ${dir}/secrets-copy | head -1)"
${behaviour === "fail" ? "echo \"Build 'qemu.base' errored: ssh timeout\"; exit 1" : 'mkdir -p "$out/qemu"; echo disk > "$out/qemu/$vm.qcow2"'}
`,
      { mode: 0o755 },
    );
    return file;
  };

  const settings = (d: string) =>
    baseBoxSettings(d, {
      isoPath: "/isos/debian.iso",
      imageVars: { ...baseBoxSettings(d).imageVars, httpProxy: "http://user:pw@proxy:3128", noProxy: "localhost" },
    });

  it("runs packer with a 0600 secrets file, never a password on argv or in the log, and publishes the qcow2", async () => {
    const d = tempDir();
    const packer = fakePacker(d, "ok");
    const s = settings(d);
    const r = await runDriver("base-box", "create", s, "b1", { JHVM_PACKER: packer });
    expect(r.status).toBe(0);
    const argv = fs.readFileSync(path.join(d, "argv"), "utf8");
    expect(argv).toContain("-only=qemu.base");
    // precedence: the OS file, then the stack's variables (a generated, non-secret file), then the secrets
    const varFiles = argv.split("\n").filter((a) => a.startsWith("-var-file="));
    expect(varFiles).toEqual([
      `-var-file=${path.join(REPO, "packer/os/debian-12.pkrvars.hcl")}`,
      expect.stringMatching(/\/build\.pkrvars\.hcl$/),
      expect.stringMatching(/\/secrets\.pkrvars\.hcl$/),
    ]);
    expect(argv).not.toMatch(/^-var=/m); // every variable goes through a file
    const vars = fs.readFileSync(path.join(d, "vars-copy"), "utf8");
    expect(vars).toMatch(new RegExp(`^iso_checksum += "sha256:${"a".repeat(64)}"$`, "m"));
    expect(vars).toMatch(/^disk_size += 10240$/m);
    expect(vars).toMatch(/^headless += true$/m);
    expect(vars).toMatch(/^ssh_timeout += "180m"$/m); // tcg
    expect(vars).not.toContain("user:pw");
    expect(vars).not.toContain("build_password");
    expect(fs.readFileSync(path.join(d, "secrets-mode"), "utf8").trim()).toBe("600");
    const secrets = fs.readFileSync(path.join(d, "secrets-copy"), "utf8");
    const password = /build_password\s+= "([^"]+)"/.exec(secrets)![1];
    expect(secrets).toMatch(/build_password_hash = "\$6\$/);
    expect(argv).not.toContain(password);
    expect(argv).not.toContain("user:pw"); // the proxy URL may hold credentials: it goes through the file too
    const log = fs.readFileSync(path.join(s.buildDir, "logs", "base-box.log"), "utf8");
    expect(log).toContain("building with password");
    expect(log).not.toContain(password);
    // the command to re-run the build by hand: the same files, the secrets as PKR_VAR_* set by the user
    const byHand = /by hand \(from [^)]+\): (.*)$/m.exec(log)![1];
    expect(byHand).toMatch(/^PKR_VAR_build_username=\.\.\. PKR_VAR_build_password=\.\.\. .* packer build /);
    expect(byHand).toContain(varFiles[1]);
    expect(byHand).not.toContain("secrets.pkrvars.hcl");
    expect(r.result.format).toBe("qcow2");
    expect(r.result.path).toBe(path.join(s.cacheDir, "base-box", "b1", "base-debian-12.qcow2"));
    const creds = path.join(s.cacheDir, "base-box", "b1", "build-credentials.json");
    expect(fs.statSync(creds).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(creds, "utf8")).password).toBe(password);
    // the secrets file itself is gone
    expect(fs.readdirSync(path.join(s.cacheDir, "base-box", "b1")).sort()).toEqual([
      "base-debian-12.qcow2",
      "build-credentials.json",
      "manifest.json",
    ]);
  });

  it("fails with the tool's last lines when packer fails", async () => {
    const d = tempDir();
    const r = await runDriver("base-box", "create", settings(d), "b2", { JHVM_PACKER: fakePacker(d, "fail") });
    const password = /build_password\s+= "([^"]+)"/.exec(fs.readFileSync(path.join(d, "secrets-copy"), "utf8"))![1];
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/packer failed \(exit 1\); last lines of .*base-box\.log/);
    expect(r.stderr).toContain("Build 'qemu.base' errored: ssh timeout");
    expect(r.stderr).toContain('build_password      = "***"'); // the tool printed it: redacted
    expect(r.stderr).not.toContain(password);
  });
});
