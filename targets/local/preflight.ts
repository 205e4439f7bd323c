/** The local target's preflight (see localNeeds and localPreflight). */
import { spawnSync } from "child_process";
import { LocalStackConfig } from "../../config";
import { setCommand } from "../../config/problems";
import type { Need } from "../../host";

/** Runs a tool briefly at preview time; its output, or undefined when it cannot be run or fails. */
export function probe(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}` : undefined;
}

/** The host tools the chosen runner needs (checked with the build's, host/index.ts, in one list). */
export function localNeeds(cfg: LocalStackConfig): Need[] {
  const p = cfg.local.provider;
  const by = `the local VM (local.provider: ${p})`;
  const tools =
    p === "vagrant-libvirt"
      ? (["vagrant", "vagrant-libvirt", "virsh", "ssh-keygen", "qemu-img", "iso"] as const)
      : (["qemu-system", "qemu-img", "iso"] as const);
  return tools.map((tool) => ({ tool, by }));
}

/**
 * What else the local target needs from the host, checked at preview (all problems at once, each naming the key):
 * the libvirt connection for vagrant-libvirt (when virsh is there: a missing virsh is a tool problem).
 */
export function localPreflight(cfg: LocalStackConfig, run: typeof probe = probe): string[] {
  const l = cfg.local;
  const problems: string[] = [];
  if (l.provider === "vagrant-libvirt" && run("virsh", ["--version"]) !== undefined) {
    if (run("virsh", ["-c", l.libvirtUri, "uri"]) === undefined)
      problems.push(
        `local.libvirtUri: ${JSON.stringify(l.libvirtUri)} cannot be reached (\`virsh -c ${l.libvirtUri} uri\` fails); start libvirtd (and virtlogd), fix the URI, or run the VM with QEMU alone: ${setCommand("local.provider", "qemu")}`,
      );
  }
  return problems;
}
