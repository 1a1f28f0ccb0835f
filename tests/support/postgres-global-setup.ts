import { PROBE_ENV, printable, testServerUrl, withClient } from './postgres';

/**
 * Jest global setup of the integration project: asks the PostgreSQL server of
 * `HALLPASS_TEST_DATABASE_URL` whether it answers, once per run, and leaves the answer in an
 * environment variable the test workers inherit. When it does not, the run says so in one line and the
 * PostgreSQL suites skip.
 */
export default async function probePostgres(): Promise<void> {
  const url = testServerUrl();
  try {
    await withClient(url, (c) => c.query('SELECT 1'));
    process.env[PROBE_ENV] = 'up';
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    process.env[PROBE_ENV] = `down: ${why}`;
    process.stderr.write(
      `\nPostgreSQL suites skipped: no server at ${printable(url)} (${why}). ` +
        'Set HALLPASS_TEST_DATABASE_URL to a server where this user may CREATE DATABASE.\n',
    );
  }
}
