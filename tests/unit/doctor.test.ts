/**
 * `npm run doctor` on a PATH without the tools: every row says what is missing, what needs it and how to install it
 * (Debian/Ubuntu and macOS columns), and with --strict it exits 1 because the dev stack could not build.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { tempDir } from "./harness";
import { REPO } from "../support";

describe("npm run doctor", () => {
  it("lists each missing tool with what needs it and the install commands, and exits 1 with --strict", () => {
    const empty = tempDir("jhvm-doctor-");
    const r = spawnSync(
      process.execPath,
      [path.join(REPO, "node_modules/tsx/dist/cli.mjs"), "scripts/doctor.ts", "--strict"],
      {
        cwd: REPO,
        encoding: "utf8",
        env: { HOME: empty, PATH: empty, JHVM_CACHE_DIR: path.join(empty, "cache") },
      },
    );
    expect(r.status).toBe(1);
    const rows = r.stdout.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| tool"));
    expect(rows).toHaveLength(16);
    expect(rows).toContain(
      "| qemu-system-x86_64 | no: `qemu-system-x86_64` not found on PATH |  | builds; local.provider qemu | sudo apt install qemu-system-x86 | brew install qemu |",
    );
    expect(rows).toContain(
      "| ansible-playbook | no: `ansible-playbook` not found on PATH |  | image.source iso: final image build | sudo apt install ansible | brew install ansible |",
    );
    expect(r.stdout).toContain("Windows: run this project inside WSL2 (Ubuntu) and use the Debian/Ubuntu commands.");
    expect(r.stdout).toMatch(/image\.accelerator auto → (tcg|hvf)/);
    expect(r.stdout).toMatch(
      /the dev stack \(Pulumi\.dev\.yaml\) cannot build here yet: missing packer, .*qemu-system-x86_64/,
    );
    expect(r.stderr).toBe("");
  });
});
