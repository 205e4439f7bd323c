/**
 * A Jest reporter: each test file's wall time, printed as a Markdown table when the run ends (slowest first, with
 * its start and end relative to the run's start, so that what ran beside what can be read off), and written to
 * $JHVM_TEST_TIMES when that is set (.ci/run prints it again at the very end, after its own steps' times). The
 * next change that makes CI slower shows up in its own run, by file.
 */
const fs = require("fs");
const path = require("path");

class TimingReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.files = [];
    this.start = Date.now();
  }

  onRunStart(_results, _options) {
    this.start = Date.now();
  }

  onTestFileResult(test, result) {
    const { start, end } = result.perfStats;
    this.files.push({
      file: path.relative(this.rootDir, test.path),
      project: test.context.config.displayName?.name ?? "",
      seconds: (end - start) / 1000,
      from: (start - this.start) / 1000,
      to: (end - this.start) / 1000,
      tests: result.numPassingTests + result.numFailingTests + result.numPendingTests,
      failed: result.numFailingTests + (result.testExecError ? 1 : 0),
    });
  }

  onRunComplete() {
    const rows = [...this.files].sort((a, b) => b.seconds - a.seconds);
    const wall = (Date.now() - this.start) / 1000;
    const sum = rows.reduce((s, r) => s + r.seconds, 0);
    const lines = [
      `Test files by wall time (jest ${wall.toFixed(0)} s; files' times add up to ${sum.toFixed(0)} s)`,
      "",
      "| file | project | s | from s | to s | tests | failed |",
      "|---|---|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.file} | ${r.project} | ${r.seconds.toFixed(0)} | ${r.from.toFixed(0)} | ${r.to.toFixed(0)} | ${r.tests} | ${r.failed} |`,
      ),
    ];
    const table = lines.join("\n") + "\n";
    process.stderr.write("\n" + table);
    if (process.env.JHVM_TEST_TIMES) fs.writeFileSync(process.env.JHVM_TEST_TIMES, table);
  }
}

module.exports = TimingReporter;
