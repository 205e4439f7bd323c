/**
 * Renders the config reference table from config/schema.ts into README.md between the markers
 * <!-- config-table:start --> and <!-- config-table:end -->. `npm run docs` writes it; the unit tests check that
 * README.md matches.
 */
import * as fs from "fs";
import * as path from "path";
import { SCHEMA, fullKey } from "../config/schema";

export const README = path.resolve(__dirname, "..", "README.md");
const START = "<!-- config-table:start -->";
const END = "<!-- config-table:end -->";

function fmtDefault(v: unknown): string {
  if (v === undefined) return "(none)";
  if (v === "") return '`""`';
  return "`" + JSON.stringify(v) + "`";
}

export function configTable(): string {
  const rows = SCHEMA.map((s) => {
    const key = s.section ? `\`${s.section}.${s.name}\`` : `\`${s.name}\``;
    const type =
      s.type.kind === "enum"
        ? s.type.values.map((v) => `\`${v}\``).join(" \\| ")
        : s.type.kind === "secret"
          ? "secret"
          : s.type.kind;
    return `| ${key} | ${type} | ${fmtDefault(s.default)} | ${s.doc.replace(/\|/g, "\\|")} | ${s.onChange} |`;
  });
  return ["| key | type | default | meaning | changing it after deployment |", "|---|---|---|---|---|", ...rows].join(
    "\n",
  );
}

export function renderReadme(text: string): string {
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  return text.slice(0, a + START.length) + "\n" + configTable() + "\n" + text.slice(b);
}

export function keysInReadme(text: string): string[] {
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  return [...text.slice(a, b).matchAll(/^\| `([A-Za-z0-9.]+)` \|/gm)].map((m) => m[1]);
}

export const SCHEMA_KEYS = SCHEMA.map(fullKey);

if (require.main === module) {
  const text = fs.readFileSync(README, "utf8");
  const next = renderReadme(text);
  if (process.argv.includes("--check")) {
    if (next !== text) {
      console.error("README.md's config table is out of date: run `npm run docs`");
      process.exit(1);
    }
  } else fs.writeFileSync(README, next);
}
