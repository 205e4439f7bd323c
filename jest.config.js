/**
 * Test projects:
 * - unit: the Pulumi program under mocks, config validation, user-data, drivers with fake tools (seconds).
 * - tools: real tools on the repo's files: packer validate/fmt, ansible-lint, cloud-init schema, hygiene check.
 * - e2e: the real Pulumi engine against the test OpenStack on 127.0.0.1 (testbed/openstack-lab).
 * `npm test` runs all of them; each project can run alone with `npx jest --selectProjects <name>`.
 */
const tsJest = { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }] };
module.exports = {
  // Two test files at a time: most tests wait on one single-threaded guest or Python process (a TCG guest ~1.2 of
  // the 2 cores, a chroot Ansible run ~1), so one file at a time left ~45% of the machine idle. Tests that share
  // something machine-wide (the test OpenStack's ports, the private libvirt) are one file each; image caches are
  // flock'ed by their builders.
  maxWorkers: 2,
  // a unit test takes <1.5 s alone; the default 5 s would be tight beside a TCG guest
  testTimeout: 30_000,
  // scratch directories left behind by a run fail it (tests/leftovers.js)
  globalSetup: "<rootDir>/tests/global-setup.js",
  globalTeardown: "<rootDir>/tests/global-teardown.js",
  // each file's wall time as a table at the end (and in $JHVM_TEST_TIMES for .ci/run)
  reporters: ["default", "<rootDir>/tests/timing-reporter.js"],
  // the files known to be long start first (tests/sequencer.js), whatever Jest's cache holds
  testSequencer: "<rootDir>/tests/sequencer.js",
  projects: [
    {
      displayName: "unit",
      testEnvironment: "<rootDir>/tests/jest-environment.js",
      transform: tsJest,
      testMatch: ["<rootDir>/tests/unit/**/*.test.ts"],
    },
    {
      displayName: "tools",
      testEnvironment: "<rootDir>/tests/jest-environment.js",
      transform: tsJest,
      testMatch: ["<rootDir>/tests/{packer,ansible,cloud-init,images,provider,hub}/**/*.test.ts"],
    },
    {
      displayName: "e2e",
      testEnvironment: "<rootDir>/tests/jest-environment.js",
      transform: tsJest,
      testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"],
    },
  ],
};
