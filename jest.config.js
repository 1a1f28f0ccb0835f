/**
 * Unit tests run first (fast, pure); integration and e2e use real SQLite and a real Bolt app; faults
 * (a few minutes) runs real bot processes killed at every crash point, alone on SQLite and as three
 * replicas on PostgreSQL (tests/faults/replicas.test.ts). All run under `npm test`.
 * The PostgreSQL suites (integration, faults) use the server of `HALLPASS_TEST_DATABASE_URL`; their
 * global setup checks once that it answers, and says so when the suites skip for want of one.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
// A 30 s bound per test for the projects that run real apps, databases and processes (see the file).
const SLOW_TEST_BOUND = ['<rootDir>/tests/support/slow-test-bound.ts'];
module.exports = {
  // Most suites wait on real time, sockets, databases and child processes rather than the CPU, so three
  // workers on two cores finish sooner: measured here, the e2e project took 268 s in band, 157 s with
  // two workers and 142 s with four. With three, everything took 1,240 s on 2026-12-01 (179 suites,
  // 3,179 tests; crash-recovery 252 s, replicas 264 s, audit-cli about 125 s on each engine). Workers
  // also keep a suite's leaked handle out of jest's own process, which in band held a finished run open.
  maxWorkers: 3,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      setupFilesAfterEnv: SLOW_TEST_BOUND,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/support/postgres-global-setup.ts',
    },
    {
      displayName: 'e2e',
      setupFilesAfterEnv: SLOW_TEST_BOUND,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'],
    },
    {
      // The end-to-end tests again on PostgreSQL: same behaviour on both engines. Tests read and tamper
      // with the bot's database through the harness (`h.db`), on either engine. Left out: process.test.ts
      // (the built bot on its SQLite file), the tests that are about both engines already
      // (audit-cli-postgres, db-copy), and those about SQLite files and the production install
      // (db-backup, production-install).
      displayName: 'e2e-postgres',
      setupFilesAfterEnv: SLOW_TEST_BOUND,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      globalSetup: '<rootDir>/tests/support/postgres-global-setup.ts',
      setupFiles: ['<rootDir>/tests/support/engine-postgres.ts'],
      testMatch: [
        '<rootDir>/tests/e2e/access-flow.test.ts',
        '<rootDir>/tests/e2e/access-follows-person.test.ts',
        '<rootDir>/tests/e2e/address-link.test.ts',
        '<rootDir>/tests/e2e/api.test.ts',
        '<rootDir>/tests/e2e/automation-real-app.test.ts',
        '<rootDir>/tests/e2e/approval-rules.test.ts',
        '<rootDir>/tests/e2e/audit.test.ts',
        '<rootDir>/tests/e2e/audit-cli.test.ts',
        '<rootDir>/tests/e2e/audit-record.test.ts',
        '<rootDir>/tests/e2e/aws-failures.test.ts',
        '<rootDir>/tests/e2e/backstop.test.ts',
        '<rootDir>/tests/e2e/bad-input.test.ts',
        '<rootDir>/tests/e2e/cut-connections.test.ts',
        '<rootDir>/tests/e2e/lifecycle.test.ts',
        '<rootDir>/tests/e2e/monitoring.test.ts',
        '<rootDir>/tests/e2e/overlaps-and-restarts.test.ts',
        '<rootDir>/tests/e2e/policy-edits.test.ts',
        '<rootDir>/tests/e2e/policy-reload.test.ts',
        '<rootDir>/tests/e2e/reconcile.test.ts',
        '<rootDir>/tests/e2e/rights-rechecked.test.ts',
        '<rootDir>/tests/e2e/role-sessions.test.ts',
        '<rootDir>/tests/e2e/rollback-failure.test.ts',
        '<rootDir>/tests/e2e/slack-startup.test.ts',
        '<rootDir>/tests/e2e/slack-surface.test.ts',
        '<rootDir>/tests/e2e/slack-trouble.test.ts',
        '<rootDir>/tests/e2e/socket-mode.test.ts',
        '<rootDir>/tests/e2e/stray-requests.test.ts',
        '<rootDir>/tests/e2e/visibility.test.ts',
        '<rootDir>/tests/e2e/who-counts.test.ts',
      ],
    },
    {
      // `npm run demo` driven in the machine's Chromium (playwright-core); skipped, said once, without one.
      displayName: 'browser',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/browser/**/*.test.ts'],
    },
    {
      // Real bot processes killed with SIGKILL at every fault point, then restarted (real time, seconds each).
      displayName: 'faults',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/faults/**/*.test.ts'],
      // The replica tests run on PostgreSQL, and skip (said once) without a server.
      globalSetup: '<rootDir>/tests/support/postgres-global-setup.ts',
    },
  ],
};
