import dotenv from 'dotenv';
import { createLogger } from './adapters/log/pino-logger';
import type { Logger } from './app/ports';
import { startHallpass } from './compose';
import { ConfigError, loadConfig } from './config';

/** Entry point: `npm start`. Reads `.env` when present, validates everything, then starts. */
async function main(): Promise<void> {
  dotenv.config({ quiet: true });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.env.logLevel);
  keepRunningOnUncaught(logger);
  const hallpass = await startHallpass({ env: config.env, policy: config.policy, logger });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    hallpass.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** The last-resort line; tests assert it never appears (every known cause is handled where it arises). */
const UNCAUGHT = 'uncaught error (a bug): kept running';

/**
 * Defence in depth only: an error nothing caught is logged as a bug and the process goes on. A
 * hallpass that keeps running still closes every grant on time; one that exits closes none until
 * it is restarted.
 */
function keepRunningOnUncaught(logger: Logger): void {
  const report = (kind: string) => (error: unknown) =>
    logger.error(
      { kind, err: error instanceof Error ? (error.stack ?? error.message) : String(error) },
      UNCAUGHT,
    );
  process.on('unhandledRejection', report('unhandledRejection'));
  process.on('uncaughtException', report('uncaughtException'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `hallpass could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
