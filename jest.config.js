/**
 * Unit tests run first (fast, pure); integration and e2e use real SQLite and a real Bolt app; faults
 * (a few minutes) runs real bot processes killed at every crash point, alone on SQLite and as three
 * replicas on PostgreSQL (tests/faults/replicas.test.ts). All run under `npm test`.
 * The PostgreSQL suites (integration, faults) use the server of `HALLPASS_TEST_DATABASE_URL`; their
 * global setup checks once that it answers, and says so when the suites skip for want of one.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/support/postgres-global-setup.ts',
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'],
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
