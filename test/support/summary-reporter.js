/**
 * Ends a Jest run with one plain line, `tests: N passed, N failed, N skipped`,
 * that any tool (CI included) can read without parsing Jest's own summary.
 * Written to stderr when the process exits, so it comes after Jest's own
 * summary (which goes to stderr too) and is the last line of the run.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `tests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped`;
    process.once('exit', () => process.stderr.write(`\n${line}\n`));
  }
}
module.exports = SummaryReporter;
