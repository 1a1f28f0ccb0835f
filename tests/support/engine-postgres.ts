import { postgresAvailable } from './postgres';

/**
 * Setup of the `e2e-postgres` project: the same end-to-end tests, each bot on a PostgreSQL database of
 * its own (see `startHarness`). Without a server (the global setup said so once) they run on SQLite.
 */
if (postgresAvailable()) process.env['HALLPASS_TEST_ENGINE'] = 'postgres';
