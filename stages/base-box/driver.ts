/**
 * Driver of the BaseBox stage (component.ts): `packer build` of packer/ for one OS and builder.
 *
 * Build credentials: a user name and a random password are generated here for each build; the password and its
 * SHA-512 crypt hash reach Packer only through a 0600 variable file (never a command line, never the log). The
 * base box is an intermediate artifact that still has this build user; its credentials are kept beside it in the
 * cache entry (0600) for the FinalImage stage, whose sysprep removes the user and whose hygiene check proves it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { StageError, main, publish, workDir } from "../driver";
import { BASE_BOX } from "./settings";
import {
  BUILD_USER,
  CREDENTIALS_FILE,
  PACKER_DIR,
  byHand,
  hcl,
  packerBinary,
  sha512Crypt,
  writeVarFile,
} from "../packer";

main(BASE_BOX, {
  async create(stage) {
    const s = stage.settings;
    const dir = workDir(s, stage.key);
    const password = crypto.randomBytes(18).toString("base64url");
    const secretsFile = path.join(dir, "secrets.pkrvars.hcl");
    fs.writeFileSync(
      secretsFile,
      [
        `build_username      = ${hcl(BUILD_USER)}`,
        `build_password      = ${hcl(password)}`,
        `build_password_hash = ${hcl(sha512Crypt(password))}`,
        `http_proxy          = ${hcl(s.imageVars.httpProxy)}`,
        `https_proxy         = ${hcl(s.imageVars.httpsProxy)}`,
      ].join("\n") + "\n",
      { mode: 0o600 },
    );
    const only = s.builder === "qemu" ? "qemu.base" : "virtualbox-iso.base";
    // a hostname label (the template checks it): "ubuntu-24.04" → "base-ubuntu-24-04"
    const vmName = `base-${s.os.replace(/[^a-z0-9-]/g, "-")}`;
    const out = path.join(dir, "out");
    const varsFile = path.join(dir, "build.pkrvars.hcl");
    writeVarFile(varsFile, "stages/base-box/driver.ts", {
      iso_path: s.isoPath,
      iso_checksum: `sha256:${s.isoSha256}`,
      disk_size: s.imageVars.diskSizeGb * 1024,
      memory: s.runVars.memoryMb,
      cpus: s.runVars.cpus,
      headless: s.runVars.headless,
      accelerator: s.runVars.accelerator,
      locale: s.imageVars.locale,
      timezone: s.imageVars.timezone,
      keyboard: s.imageVars.keyboard,
      mirror: s.imageVars.mirror,
      no_proxy: s.imageVars.noProxy,
      vm_name: vmName,
      // a software-emulated (tcg) install takes an hour or more; with kvm the template's default applies
      ...(s.runVars.accelerator === "tcg" ? { ssh_timeout: "180m" } : {}),
      output_directory: out,
    });
    const args = [
      "build",
      "-color=false",
      "-timestamp-ui",
      `-only=${only}`,
      `-var-file=${path.join(PACKER_DIR, "os", `${s.os}.pkrvars.hcl`)}`,
      `-var-file=${varsFile}`,
      `-var-file=${secretsFile}`,
      PACKER_DIR,
    ];
    stage.log(
      `by hand (from ${process.cwd()}): ${byHand(args, secretsFile, ["build_username", "build_password", "build_password_hash", "http_proxy", "https_proxy"])}`,
    );
    stage.log(`packer build ${only} for ${s.os} (log: ${stage.logFile})`);
    try {
      await stage.run(packerBinary(), args, {
        redact: [password],
        env: { CHECKPOINT_DISABLE: "1", PACKER_NO_COLOR: "1", PACKER_CACHE_DIR: path.join(s.cacheDir, "packer_cache") },
      });
    } finally {
      fs.rmSync(secretsFile, { force: true });
    }
    const built =
      s.builder === "qemu" ? path.join(out, "qemu", `${vmName}.qcow2`) : path.join(out, `${vmName}-virtualbox.box`);
    if (!fs.existsSync(built)) throw new StageError(`packer succeeded but ${built} is missing`);
    const artifact = path.basename(built);
    fs.renameSync(built, path.join(dir, artifact));
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(varsFile); // kept only while a failed build may be re-run by hand
    fs.writeFileSync(path.join(dir, CREDENTIALS_FILE), JSON.stringify({ username: BUILD_USER, password }) + "\n", {
      mode: 0o600,
    });
    return publish(
      s,
      stage.key,
      dir,
      artifact,
      { format: s.builder === "qemu" ? "qcow2" : "box", buildUser: BUILD_USER },
      { os: s.os, builder: s.builder, isoSha256: s.isoSha256, imageVars: s.imageVars },
    );
  },
});
