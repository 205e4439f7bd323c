/**
 * `npm run doctor`: the host checks preview runs, as a table, without Pulumi: every tool this project can use, whether
 * it was found, its version, what needs it and how to install it; then the QEMU accelerator `auto` would choose.
 * It only reports (exit status 0); with --strict it exits 1 when something the dev stack needs to build from the ISO
 * (QEMU runner) is missing.
 *
 *   npm run doctor [-- --strict] [-- --cache-dir DIR]
 */
import * as os from "os";
import * as path from "path";
import { TOOLS, ToolId, checkTool, chooseAccelerator } from "../host";

/** What needs each tool, in the words of the stack config. */
export const NEEDED_BY: Record<ToolId, string> = {
  packer: "image.source iso: base box and final image builds",
  "packer-plugins-base": "image.source iso: base box build",
  "packer-plugins-final": "image.source iso: final image build",
  "qemu-system": "builds; local.provider qemu",
  "qemu-img": "builds; the local target",
  "qemu-img-zstd": "image.compression zstd (auto with target local): the final image's export",
  ansible: "image.source iso: final image build",
  iso: "the local target (its NoCloud seed)",
  curl: "image.source iso: the ISO download",
  openssl: "image.source iso: base box build (the build user's password hash)",
  python3: "image.source iso: final image build (hygiene check)",
  root: "image.source iso: final image build (hygiene check mounts)",
  vagrant: "local.provider vagrant-libvirt",
  "vagrant-libvirt": "local.provider vagrant-libvirt",
  virsh: "local.provider vagrant-libvirt",
  "ssh-keygen": "local.provider vagrant-libvirt (the per-VM login key)",
};

/** Needed by the dev stack as shipped (Pulumi.dev.yaml: QEMU runner, a build from the ISO). */
const DEV_STACK: ToolId[] = [
  "packer",
  "packer-plugins-base",
  "packer-plugins-final",
  "qemu-system",
  "qemu-img",
  "qemu-img-zstd",
  "ansible",
  "iso",
  "curl",
  "openssl",
  "python3",
  "root",
];

export function doctorTable(): { lines: string[]; missingForDev: string[] } {
  const lines = [
    "| tool | found | version | needed by | install: Debian/Ubuntu | install: macOS |",
    "|---|---|---|---|---|---|",
  ];
  const missingForDev: string[] = [];
  for (const id of Object.keys(TOOLS) as ToolId[]) {
    const st = checkTool(id);
    const found = st.ok ? "yes" : `no: ${st.problem}`;
    if (!st.ok && DEV_STACK.includes(id)) missingForDev.push(TOOLS[id].name);
    const h = TOOLS[id].install;
    const hints = st.ok ? "|  |  |" : `| ${h.debian} | ${h.macos} |`;
    lines.push(`| ${TOOLS[id].name} | ${found} | ${st.version ?? ""} | ${NEEDED_BY[id]} ${hints}`);
  }
  return { lines, missingForDev };
}

function main(argv: string[]): number {
  const i = argv.indexOf("--cache-dir");
  const raw = i >= 0 ? argv[i + 1] : (process.env.JHVM_CACHE_DIR ?? "~/.cache/jupyterhub-vm");
  const cacheDir = raw.startsWith("~/") ? path.join(os.homedir(), raw.slice(2)) : path.resolve(raw);
  const { lines, missingForDev } = doctorTable();
  console.log(lines.join("\n"));
  console.log("Windows: run this project inside WSL2 (Ubuntu) and use the Debian/Ubuntu commands.");
  const accel = chooseAccelerator("auto", cacheDir);
  console.log(`\nimage.accelerator auto → ${accel.accelerator}: ${accel.why}`);
  console.log(
    missingForDev.length
      ? `\nthe dev stack (Pulumi.dev.yaml) cannot build here yet: missing ${missingForDev.join(", ")}`
      : "\nthe dev stack (Pulumi.dev.yaml) has every tool it needs",
  );
  return missingForDev.length && argv.includes("--strict") ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
