/**
 * The house matches the README's "Where things are" table: every relative import of the program (index.ts,
 * pipeline.ts and the product folders) goes to its own folder or to one the table lists for it.
 */
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support";

/** The table: folder (or root file) → the folders it may import from. */
function table(readme: string): Map<string, string[]> {
  const m = /<!-- architecture:start -->([\s\S]*?)<!-- architecture:end -->/.exec(readme);
  if (!m) throw new Error("README.md has no architecture table");
  const rows = new Map<string, string[]>();
  for (const line of m[1].split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || !cells[1].startsWith("`")) continue;
    const folder = cells[1].replace(/`/g, "");
    rows.set(folder, cells[3] === "—" ? [] : cells[3].split(",").map((c) => c.trim().replace(/`/g, "")));
  }
  return rows;
}

/** the table's unit a repo-relative path belongs to: a root file by name, else its top folder */
const unitOf = (rel: string) => (rel.includes("/") ? rel.split("/")[0] : rel);

function sources(units: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(REPO, rel);
    if (fs.statSync(abs).isDirectory()) for (const e of fs.readdirSync(abs)) walk(path.posix.join(rel, e));
    else if (rel.endsWith(".ts")) out.push(rel);
  };
  for (const u of units) walk(u);
  return out;
}

/** relative module specifiers of a file: import … from "./x", export … from "../y", import("./z"), require("./w") */
function relativeImports(text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g)];
  return specs.map((m) => m[1]);
}

function violations(rows: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const file of sources([...rows.keys()])) {
    const from = unitOf(file);
    for (const spec of relativeImports(fs.readFileSync(path.join(REPO, file), "utf8"))) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const to = unitOf(target);
      const toUnit = rows.has(to) ? to : rows.has(`${to}.ts`) ? `${to}.ts` : to;
      if (toUnit === from) continue;
      if (!(rows.get(from) ?? []).includes(toUnit)) found.push(`${file} imports ${spec} (${toUnit})`);
    }
  }
  return found;
}

describe("architecture", () => {
  const rows = table(fs.readFileSync(path.join(REPO, "README.md"), "utf8"));

  it("the README's table names every product folder and root file", () => {
    expect([...rows.keys()].sort()).toEqual(
      ["cloud-init", "config", "host", "index.ts", "pipeline.ts", "scripts", "stages", "targets"].sort(),
    );
  });

  it("every import goes to the importer's own folder or one the table lists for it", () => {
    expect(violations(rows)).toEqual([]);
  });

  it("finds an import the table does not allow (here: the stages' config imports, with config struck from their row)", () => {
    const strict = new Map(rows);
    strict.set("stages", []); // as if stages might import nothing: their config imports are then violations
    expect(violations(strict).some((v) => v.startsWith("stages/") && v.endsWith("(config)"))).toBe(true);
  });
});
