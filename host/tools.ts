/**
 * The host tools a stack may need, each with how to find it, its version and how to install it on Debian/Ubuntu,
 * macOS (Homebrew) and Windows (WSL2). Preview checks the ones the stack's stages need (host/index.ts);
 * `npm run doctor` prints all of them as a table.
 */
import { spawnSync } from "child_process";

/** Install hints: one command per platform (Windows: the WSL2 route, no links). */
export interface InstallHint {
  readonly debian: string;
  readonly macos: string;
  readonly windows: string;
}

const WSL = "run this project inside WSL2 (Ubuntu) and use the Debian/Ubuntu command";

export interface ToolSpec {
  /** what the table and messages call it */
  readonly name: string;
  /** the program and its arguments that succeed when the tool works (exit 0); later entries are alternatives */
  readonly probe: () => readonly (readonly [string, string[]])[];
  /** picks the version out of the probe's output */
  readonly version?: (out: string) => string | undefined;
  /** further test of the probe's output: undefined when fine, else what is wrong */
  readonly accept?: (out: string) => string | undefined;
  readonly install: InstallHint;
  /** found is enough: the probe may exit non-zero */
  readonly anyExit?: boolean;
}

const firstVersion = (out: string) => /\d+\.\d+(?:\.\d+)?/.exec(out)?.[0];

/** Numeric comparison of dotted versions ("7.2.22" vs "5.1"). */
export function compareVersions(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** Packer plugins the templates pin (packer/plugins.pkr.hcl, packer/final/final.pkr.hcl). */
export const PACKER_PLUGINS = {
  base: ["github.com/hashicorp/qemu"],
  final: ["github.com/hashicorp/qemu", "github.com/hashicorp/ansible"],
} as const;

export function packerBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.JHVM_PACKER || "packer";
}

const APT = (pkgs: string) => `sudo apt install ${pkgs}`;

export const TOOLS = {
  packer: {
    name: "packer",
    probe: () => [[packerBinary(), ["version"]]],
    version: firstVersion,
    install: {
      debian:
        "add HashiCorp's apt repository (apt.releases.hashicorp.com), then sudo apt install packer; without internet: bash scripts/install-packer.sh (builds it from Go modules)",
      macos: "brew tap hashicorp/tap && brew install hashicorp/tap/packer",
      windows: WSL,
    },
  },
  "packer-plugins-base": {
    name: "packer plugins for packer/ (qemu)",
    probe: () => [[packerBinary(), ["plugins", "installed"]]],
    accept: (out) => missingPlugins(out, PACKER_PLUGINS.base),
    install: { debian: "packer init packer/", macos: "packer init packer/", windows: WSL },
  },
  "packer-plugins-final": {
    name: "packer plugins for packer/final (qemu, ansible)",
    probe: () => [[packerBinary(), ["plugins", "installed"]]],
    accept: (out) => missingPlugins(out, PACKER_PLUGINS.final),
    install: { debian: "packer init packer/final", macos: "packer init packer/final", windows: WSL },
  },
  "qemu-system": {
    name: "qemu-system-x86_64",
    probe: () => [["qemu-system-x86_64", ["--version"]]],
    version: firstVersion,
    install: { debian: APT("qemu-system-x86"), macos: "brew install qemu", windows: WSL },
  },
  "qemu-img": {
    name: "qemu-img",
    probe: () => [["qemu-img", ["--version"]]],
    version: firstVersion,
    install: { debian: APT("qemu-utils"), macos: "brew install qemu", windows: WSL },
  },
  "qemu-img-zstd": {
    name: "qemu-img (zstd)",
    probe: () => [["qemu-img", ["--version"]]],
    version: firstVersion,
    accept: (out) => {
      const v = firstVersion(out);
      return v && compareVersions(v, "5.1") < 0
        ? `version ${v} cannot write zstd-compressed qcow2 (QEMU >= 5.1 can); upgrade QEMU or set image.compression zlib`
        : undefined;
    },
    install: { debian: APT("qemu-utils"), macos: "brew install qemu", windows: WSL },
  },
  ansible: {
    name: "ansible-playbook",
    probe: () => [["ansible-playbook", ["--version"]]],
    version: firstVersion,
    install: { debian: APT("ansible"), macos: "brew install ansible", windows: WSL },
  },
  iso: {
    name: "xorriso (or genisoimage)",
    probe: () => [
      ["xorriso", ["-version"]],
      ["genisoimage", ["-version"]],
    ],
    version: firstVersion,
    install: { debian: APT("xorriso"), macos: "brew install xorriso", windows: WSL },
  },
  curl: {
    name: "curl",
    probe: () => [["curl", ["--version"]]],
    version: firstVersion,
    install: { debian: APT("curl"), macos: "brew install curl", windows: WSL },
  },
  openssl: {
    name: "openssl",
    probe: () => [["openssl", ["version"]]],
    version: firstVersion,
    install: { debian: APT("openssl"), macos: "brew install openssl@3", windows: WSL },
  },
  python3: {
    name: "python3",
    probe: () => [["python3", ["--version"]]],
    version: firstVersion,
    install: { debian: APT("python3"), macos: "brew install python", windows: WSL },
  },
  root: {
    name: "root (loop-mounts for the image hygiene check)",
    probe: () => [["id", ["-u"]]],
    accept: (out) =>
      out.trim() === "0" ? undefined : "the image hygiene check loop-mounts the image read-only and needs root",
    install: {
      debian: "run the build as root (sudo -E pulumi up), or deploy a prebuilt image (image.source: file)",
      macos: "build on a Linux machine (the hygiene check mounts Linux file systems)",
      windows: WSL,
    },
  },
  vagrant: {
    name: "vagrant",
    probe: () => [["vagrant", ["--version"]]],
    version: firstVersion,
    install: {
      debian: APT("vagrant vagrant-libvirt"),
      macos: "brew install --cask vagrant (vagrant-libvirt needs Linux: use local.provider qemu)",
      windows: WSL,
    },
  },
  "vagrant-libvirt": {
    name: "vagrant-libvirt plugin",
    probe: () => [["vagrant", ["plugin", "list", "--no-color"]]],
    version: (out) => /^vagrant-libvirt \(([^,)]+)/m.exec(out)?.[1],
    accept: (out) => (/^vagrant-libvirt\b/m.test(out) ? undefined : "Vagrant does not list the vagrant-libvirt plugin"),
    install: {
      debian: `${APT("vagrant-libvirt")} (or vagrant plugin install vagrant-libvirt)`,
      macos: "not available on macOS: use local.provider qemu",
      windows: WSL,
    },
  },
  virsh: {
    name: "virsh (libvirt clients)",
    probe: () => [["virsh", ["--version"]]],
    version: firstVersion,
    install: { debian: APT("libvirt-clients"), macos: "brew install libvirt", windows: WSL },
  },
  "ssh-keygen": {
    name: "ssh-keygen",
    // ssh-keygen has no version flag that exits 0: `-l` on a missing file fails, but runs
    probe: () => [["ssh-keygen", ["-l", "-f", "/dev/null"]]],
    anyExit: true,
    install: { debian: APT("openssh-client"), macos: "(part of macOS)", windows: WSL },
  },
} satisfies Record<string, ToolSpec>;

export type ToolId = keyof typeof TOOLS;

function missingPlugins(out: string, plugins: readonly string[]): string | undefined {
  const missing = plugins.filter((p) => !out.includes(`${p}/`));
  return missing.length ? `not installed: ${missing.join(", ")}` : undefined;
}

/** What a probe found: `ok` with the version when known, else why not. */
export interface ToolStatus {
  readonly ok: boolean;
  readonly version?: string;
  readonly problem?: string;
}

export type Runner = (cmd: string, args: string[]) => { status: number | null; out: string; error?: string };

export const runProbe: Runner = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, error: r.error?.message };
};

export function checkTool(id: ToolId, run: Runner = runProbe): ToolStatus {
  const spec: ToolSpec = TOOLS[id];
  let first: string | undefined;
  for (const [cmd, args] of spec.probe()) {
    const r = run(cmd, args);
    const notFound = /ENOENT/.test(r.error ?? "");
    if (r.status === 0 || (spec.anyExit && !notFound && r.status !== null)) {
      const bad = spec.accept?.(r.out);
      if (bad) return { ok: false, problem: bad };
      return { ok: true, version: spec.version?.(r.out) };
    }
    first ??= notFound
      ? `\`${cmd}\` not found on PATH`
      : `\`${[cmd, ...args].join(" ")}\` failed${r.out.trim() ? ` (${r.out.trim().split("\n")[0].slice(0, 120)})` : ""}`;
  }
  return { ok: false, problem: first };
}

/** `<install hints>` as one message tail: `install: Debian/Ubuntu: …; macOS: …; Windows: …`. */
export function installHint(id: ToolId): string {
  const h: InstallHint = TOOLS[id].install;
  return `install: Debian/Ubuntu: ${h.debian}; macOS: ${h.macos}; Windows: ${h.windows}`;
}
