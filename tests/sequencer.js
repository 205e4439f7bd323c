/**
 * The order test files start in: longest first, so that the two workers end together (a long file that starts last
 * makes the run's tail). Jest orders by the previous run's times when its cache has them and by file size when it
 * has not, which on a new machine or a new clone started the 12-minute local-hub e2e after everything else. So the
 * files known to be long come first, in the order of their times in CI (`.ci/run` prints them: update the list when
 * that table changes a lot); the others follow in Jest's own order.
 */
const Sequencer = require("@jest/test-sequencer").default;

/** Slowest first (their order in CI runs of 2026-12-07: `.ci/run` prints each file's time). */
const LONGEST = [
  "tests/e2e/openstack-boot.test.ts",
  "tests/e2e/local-hub.test.ts",
  "tests/images/final-image.test.ts",
  "tests/e2e/vagrant-stack.test.ts",
  "tests/e2e/lab-stack.test.ts",
  "tests/ansible/image-build.test.ts",
  "tests/e2e/newcomer.test.ts",
  "tests/hub/hub-boot.test.ts",
  "tests/images/local-vm.test.ts",
  "tests/e2e/local-stacks.test.ts",
  "tests/packer/installer.test.ts",
  "tests/packer/build.test.ts",
  "tests/ansible/roles-config.test.ts",
];

class LongestFirst extends Sequencer {
  sort(tests) {
    const rank = (t) => {
      const i = LONGEST.findIndex((f) => t.path.endsWith(f));
      return i < 0 ? LONGEST.length : i;
    };
    const rest = super.sort(tests.filter((t) => rank(t) === LONGEST.length));
    return [...tests.filter((t) => rank(t) < LONGEST.length).sort((a, b) => rank(a) - rank(b)), ...rest];
  }
}

module.exports = LongestFirst;
