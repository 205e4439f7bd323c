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
});
