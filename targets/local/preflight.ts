/** The local target's preflight (see localPreflight). */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { LocalStackConfig } from "../../config";
import { throwIfProblems } from "../../config/problems";

/** Runs a tool briefly at preview time; its output, or undefined when it cannot be run or fails. */
export function probe(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}` : undefined;
}

/**
 * The local target's preflight: the tools the chosen runner needs are there and the libvirt connection works,
 * checked at preview (all problems at once, each naming the key), not after the image build.
 */
export function localPreflight(cfg: LocalStackConfig, run: typeof probe = probe): void {
  const l = cfg.local;
  const problems: string[] = [];
  const P = "jupyterhub-vm:local.provider";
  const need = (cmd: string, args: string[], why: string, fix: string) => {
    const out = run(cmd, args);
    if (out === undefined) problems.push(`${P}: ${JSON.stringify(l.provider)} needs ${why}; ${fix}`);
    return out;
  };
  if (l.provider === "vagrant-libvirt") {
    const otherwise = "or set local.provider to qemu";
    if (
      need(
        "vagrant",
        ["--version"],
        "`vagrant` on PATH",
        `install Vagrant (Debian/Ubuntu: apt install vagrant vagrant-libvirt) ${otherwise}`,
      )
    ) {
      const plugins = need(
        "vagrant",
        ["plugin", "list", "--no-color"],
        "`vagrant plugin list` to work",
        `repair the Vagrant installation ${otherwise}`,
      );
      if (plugins !== undefined && !/^vagrant-libvirt\b/m.test(plugins))
        problems.push(
          `${P}: "vagrant-libvirt" needs the vagrant-libvirt plugin, which Vagrant does not list; install it (apt install vagrant-libvirt, or vagrant plugin install vagrant-libvirt) ${otherwise}`,
        );
    }
    if (run("virsh", ["--version"]) === undefined)
      problems.push(
        `${P}: "vagrant-libvirt" needs \`virsh\` (libvirt clients) on PATH; install libvirt-clients ${otherwise}`,
      );
    else if (run("virsh", ["-c", l.libvirtUri, "uri"]) === undefined)
      problems.push(
        `jupyterhub-vm:local.libvirtUri: ${JSON.stringify(l.libvirtUri)} cannot be reached (\`virsh -c ${l.libvirtUri} uri\` fails); start libvirtd (and virtlogd), or fix the URI`,
      );
    need(
      "sh",
      ["-c", "command -v ssh-keygen"],
      "`ssh-keygen` on PATH (the per-VM login key)",
      "install openssh-client",
    );
  } else {
    need(
      "qemu-system-x86_64",
      ["--version"],
      "`qemu-system-x86_64` on PATH",
      "install QEMU (Debian/Ubuntu: apt install qemu-system-x86)",
    );
  }
  if (run("xorriso", ["-version"]) === undefined && run("genisoimage", ["-version"]) === undefined)
    problems.push(
      `${P}: ${JSON.stringify(l.provider)} needs xorriso or genisoimage (the NoCloud seed); install xorriso`,
    );
  if (l.dataDir && !fs.statSync(l.dataDir, { throwIfNoEntry: false })?.isDirectory())
    problems.push(
      `jupyterhub-vm:local.dataDir: ${JSON.stringify(l.dataDir)} is not a directory; create it or change the key`,
    );
  throwIfProblems(problems);
}
