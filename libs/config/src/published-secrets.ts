/**
 * Secret values anyone can read in this repository, now or in its history:
 * the old development defaults, the examples, and the constants of the tests
 * and benchmarks. Production refuses every one of them (see secret-rules.ts),
 * whatever variable it is given to. One list: add a value here when a new
 * one is committed (published-secrets.spec.ts scans the repository for them).
 */
export const PUBLISHED_SECRETS: readonly string[] = [
  // The development defaults libs/config and the CLI shipped with until they were removed.
  'local-admin-token-change-me',
  'local-token-hash-secret-change-me-0123456789',
  // test/support/stack.ts, the end-to-end harness.
  'e2e-admin-token-0123456789abcdef',
  'e2e-token-hash-secret-0123456789abcdef',
  // bench/run.ts, before it drew its secrets at random.
  'bench-admin-token-0123456789abcdef',
  'bench-token-hash-secret-0123456789abcdef',
  // Metrics tokens and dashboard passwords of the e2e and security specs.
  'board-full-password-7Qm2',
  'board-readonly-password-4Kx9',
  'board-full-password-9Wd3',
  'board-readonly-password-2Lp8',
  'sec-metrics-token-0123456789abcdef',
  'sec-board-password-0123456789',
  'sec-viewer-password-0123456789',
  'sec-scan-metrics-token-0123456789',
  'sec-scan-board-password-0123456789',
  'fuzz-metrics-token-0123456789abcdef',
  // Unit and integration specs.
  'admin-token-0123456789abcdef',
  'send-token-handler-test-secret-0123456789',
  'dispatch-queue-test-secret-0123456789',
  'dispatch-queue-test-admin-token-0123456789',
  'a-test-secret-that-is-long-enough-0000',
  'another-secret-that-is-long-enough-111',
];
