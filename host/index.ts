/**
 * What the stack needs from this machine, checked at preview: the host tools of the stages that will run (a cache
 * hit needs no Packer), each missing one a problem naming what needs it and how to install it; and the QEMU
 * accelerator (`image.accelerator: auto` resolved by running a guest). `npm run doctor` prints the same checks.
 */
import { ToolId, TOOLS, checkTool, installHint, runProbe, Runner, ToolStatus } from "./tools";

export { TOOLS, checkTool, installHint } from "./tools";
export type { ToolId, ToolStatus } from "./tools";
export { chooseAccelerator, probeKvm } from "./accelerator";
export type { AcceleratorChoice } from "./accelerator";

/** A tool and what needs it ("the base box build (no cached base box)"). */
export interface Need {
  readonly tool: ToolId;
  readonly by: string;
}

/** One problem per missing tool (all of them), each naming what needs it and the install commands. */
export function toolProblems(needs: readonly Need[], run: Runner = runProbe): string[] {
  const byTool = new Map<ToolId, string[]>();
  for (const n of needs) byTool.set(n.tool, [...new Set([...(byTool.get(n.tool) ?? []), n.by])]);
  const problems: string[] = [];
  const seen = new Map<ToolId, ToolStatus>();
  for (const [tool, by] of byTool) {
    // the plugin lists need packer itself: one problem for packer is enough
    if (tool.startsWith("packer-plugins") && seen.get("packer")?.ok === false) continue;
    // and the zstd check needs qemu-img
    if (tool === "qemu-img-zstd" && seen.get("qemu-img")?.ok === false) continue;
    const st = checkTool(tool, run);
    seen.set(tool, st);
    if (!st.ok) problems.push(`${TOOLS[tool].name}: ${st.problem}; needed by ${by.join(", ")}; ${installHint(tool)}`);
  }
  return problems;
}
