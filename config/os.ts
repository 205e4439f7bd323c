/**
 * Everything the program knows about an operating system, in one place. Install defaults live in Packer's per-OS
 * variable files (`packer/os/<os>.pkrvars.hcl`), so Packer run by hand and this program agree: `osDefaults` reads
 * the two the program needs before Packer runs (the ISO URL and its sha256). `OS_INFO` holds what the cloud side
 * needs: Glance's os_distro/os_version properties and the cloud image's default SSH user.
 */
import * as fs from "fs";
import * as path from "path";

export const PACKER_DIR = path.resolve(__dirname, "..", "packer");

export interface OsDefaults {
  readonly varFile: string;
  readonly isoUrl?: string;
  readonly isoSha256?: string;
}

function hclString(text: string, name: string): string | undefined {
  const m = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`, "m").exec(text);
  return m ? m[1] : undefined;
}

export function osDefaults(osName: string, packerDir: string = PACKER_DIR): OsDefaults {
  const varFile = path.join(packerDir, "os", `${osName}.pkrvars.hcl`);
  if (!fs.existsSync(varFile)) return { varFile };
  const text = fs.readFileSync(varFile, "utf8");
  const checksum = hclString(text, "iso_checksum");
  const sha = checksum?.replace(/^sha256:/, "");
  return {
    varFile,
    isoUrl: hclString(text, "iso_url"),
    isoSha256: sha && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined,
  };
}

/** Glance image properties and the login user of each supported OS (`image.os`). */
export const OS_INFO: Record<string, { readonly distro: string; readonly version: string; readonly sshUser: string }> =
  {
    "ubuntu-22.04": { distro: "ubuntu", version: "22.04", sshUser: "ubuntu" },
    "ubuntu-24.04": { distro: "ubuntu", version: "24.04", sshUser: "ubuntu" },
    "debian-12": { distro: "debian", version: "12", sshUser: "debian" },
  };
