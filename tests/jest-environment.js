/**
 * The test environment of every project: Node's, plus the removal of each scratch directory a test file made with
 * tests/support.ts `tempDir` once the file is done (after its own afterAll hooks, which may still need them, e.g.
 * for `pulumi destroy`). JHVM_KEEP_TEST_OUTPUT=1 keeps them for a look after a failure.
 */
const fs = require("fs");
const { TestEnvironment } = require("jest-environment-node");

class JhvmEnvironment extends TestEnvironment {
  async teardown() {
    const dirs = this.global.__jhvmTempDirs ?? [];
    if (process.env.JHVM_KEEP_TEST_OUTPUT === "1") {
      if (dirs.length) console.log(`kept (JHVM_KEEP_TEST_OUTPUT=1): ${dirs.join(" ")}`);
    } else {
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
    await super.teardown();
  }
}

module.exports = JhvmEnvironment;
