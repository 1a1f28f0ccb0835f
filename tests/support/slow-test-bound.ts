/**
 * A 30 s bound for tests that run real apps, databases and processes on a shared two-core machine.
 * Jest reads `testTimeout` from the global config only (a project's own `testTimeout` is ignored by
 * jest-circus), so the projects that need it set it here, in `setupFilesAfterEnv`. The bound is
 * for a hang, never a speed check (those are benchmarks): jest's 5 s default failed healthy
 * PostgreSQL runs in a loaded CI.
 */
jest.setTimeout(30_000);
