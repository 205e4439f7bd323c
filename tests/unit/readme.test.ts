/** The README's config reference is the config module's table: same keys, same defaults, same wording. */
import * as fs from "fs";
import { README, SCHEMA_KEYS, keysInReadme, renderReadme } from "../../scripts/config-docs";

describe("README config reference", () => {
  const text = fs.readFileSync(README, "utf8");

  it("lists exactly the keys the config module reads, in order", () => {
    expect(keysInReadme(text)).toEqual(SCHEMA_KEYS);
  });

  it("is the rendered table (run `npm run docs` after changing config/schema.ts)", () => {
    expect(renderReadme(text)).toBe(text);
  });

  it("names the test command that .ci/run runs", () => {
    expect(text).toContain("npm test");
    expect(fs.readFileSync(`${__dirname}/../../.ci/run`, "utf8")).toMatch(/npm test/);
  });

  it("every command in the README's sh blocks is run by a test (or is `npm test`, which .ci/run runs)", () => {
    const newcomer = fs.readFileSync(`${__dirname}/../e2e/newcomer.test.ts`, "utf8");
    const blocks = [...text.matchAll(/(?:<!-- ([\w-]+):start -->\s*)?```sh\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const [, marker, body] of blocks) {
      if (body.trim() === "npm test") continue;
      // a marked block, read and run by the newcomer test (it fails when the block is missing)
      expect(marker).toMatch(/^(newcomer|newcomer-image|readme-cache)$/);
      expect(newcomer).toContain(`readmeBlock("${marker}")`);
    }
    // lines the test skips say why: only the internet install of the CLI
    const skipped = text.split("\n").filter((l) => /#\s*needs internet/.test(l));
    expect(skipped).toEqual([expect.stringContaining("https://get.pulumi.com")]);
  });
});
