/**
 * Driver of the FinalImage stage (component.ts):
 * 1. `packer build packer/final`: boots the base box, runs ansible/playbook.yml over SSH as the build user
 *    (content roles, then sysprep, which removes that user in a detached last step and powers off);
 * 2. exports the disk with `qemu-img convert` (compressed qcow2 by default, raw or streamOptimized vmdk);
 * 3. runs tools/image-hygiene-check on the export, forbidding the build user and searching for its password;
 *    any finding fails the stage, so an image with build credentials never reaches the cache.
 * Secrets (the build user's password) reach Packer and Ansible only through 0600 files, deleted afterwards.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

import { StageError, main, publish, workDir } from "../driver";
import { FINAL_IMAGE } from "./settings";
import { exportArgs } from "./export";
import { CREDENTIALS_FILE, PACKER_DIR, byHand, hcl, packerBinary, writeVarFile } from "../packer";

const REPO = path.resolve(__dirname, "..", "..");
export const HYGIENE_CHECK = path.join(REPO, "tools", "image-hygiene-check");

main(FINAL_IMAGE, {
  async create(stage) {
    const s = stage.settings;
    if (s.baseFormat !== "qcow2")
      throw new StageError(`the final image starts from a qcow2 base box, got ${s.baseFormat}`);
    const credsFile = path.join(path.dirname(s.basePath), CREDENTIALS_FILE);
    if (!fs.existsSync(credsFile))
      throw new StageError(
        `${credsFile} is missing: the base box must come from the BaseBox stage (it keeps its build credentials there)`,
      );
    const creds = JSON.parse(fs.readFileSync(credsFile, "utf8")) as { username: string; password: string };
    const dir = workDir(s, stage.key);
    const secretFiles = {
      packer: path.join(dir, "secrets.pkrvars.hcl"),
      ansible: path.join(dir, "ansible-secrets.yml"),
      hygiene: path.join(dir, "forbidden-strings"),
    };
    fs.writeFileSync(secretFiles.packer, `build_password = ${hcl(creds.password)}\n`, { mode: 0o600 });
    fs.writeFileSync(secretFiles.ansible, yaml.dump({ ansible_password: creds.password }), { mode: 0o600 });
    fs.writeFileSync(secretFiles.hygiene, creds.password + "\n", { mode: 0o600 });
    const varsFile = path.join(dir, "ansible-vars.yml");
    fs.writeFileSync(
      varsFile,
      "# generated from the stack config by stages/final-image/driver.ts\n" +
        yaml.dump({ ...s.ansibleVars, build_username: creds.username, sysprep_poweroff: true }),
    );
    const out = path.join(dir, "out");
    const env = {
      CHECKPOINT_DISABLE: "1",
      PACKER_NO_COLOR: "1",
      PACKER_CACHE_DIR: path.join(s.cacheDir, "packer_cache"),
    };
    const packerVars = path.join(dir, "build.pkrvars.hcl");
    writeVarFile(packerVars, "stages/final-image/driver.ts", {
      base_image: s.basePath,
      base_checksum: `sha256:${s.baseSha256}`,
      build_username: creds.username,
      ansible_vars_file: varsFile,
      ansible_secrets_file: secretFiles.ansible,
      disk_size: s.diskSizeGb * 1024,
      memory: s.runVars.memoryMb,
      cpus: s.runVars.cpus,
      headless: s.runVars.headless,
      accelerator: s.runVars.accelerator,
      output_directory: out,
      vm_name: "final",
      ...(s.runVars.accelerator === "tcg" ? { ssh_timeout: "60m" } : {}),
    });
    const args = [
      "build",
      "-color=false",
      "-timestamp-ui",
      `-var-file=${packerVars}`,
      `-var-file=${secretFiles.packer}`,
      path.join(PACKER_DIR, "final"),
    ];
    try {
      stage.log(`packer build packer/final: Ansible on the base box (log: ${stage.logFile})`);
      stage.log(
        `by hand (from ${process.cwd()}; build_password is the base box's, in ${credsFile}; ` +
          `${secretFiles.ansible} must hold ansible_password: <it>): ${byHand(args, secretFiles.packer, ["build_password"])}`,
      );
      await stage.run(packerBinary(), args, { redact: [creds.password], env });
      const artifact = `jupyterhub.${s.exportFormat}`;
      stage.log(`exporting ${s.exportFormat} (${s.compression})`);
      await stage.run(
        "qemu-img",
        exportArgs(s.exportFormat, s.compression, path.join(out, "final.qcow2"), path.join(dir, artifact)),
      );
      fs.rmSync(out, { recursive: true, force: true });
      fs.rmSync(packerVars); // kept only while a failed build may be re-run by hand
      stage.log("hygiene check of the exported image");
      await stage.run(
        HYGIENE_CHECK,
        ["--forbid-user", creds.username, "--secret-file", secretFiles.hygiene, path.join(dir, artifact)],
        {
          redact: [creds.password],
        },
      );
      for (const f of Object.values(secretFiles)) fs.rmSync(f, { force: true });
      return await publish(
        s,
        stage.key,
        dir,
        artifact,
        { format: s.exportFormat },
        {
          baseSha256: s.baseSha256,
          exportFormat: s.exportFormat,
          compression: s.compression,
          ansibleVars: s.ansibleVars,
        },
      );
    } catch (e) {
      for (const f of Object.values(secretFiles)) fs.rmSync(f, { force: true });
      throw e;
    }
  },
});
