/**
 * The bot itself: what `hallpass` with no command (or only unknown options) starts, as it always has.
 * Loaded by src/main.ts only when the bot is wanted, so `hallpass run` and `hallpass mcp` never read
 * `.env` or need the bot's settings.
 */
import dotenv from 'dotenv';
import { createLogger } from './adapters/log/pino-logger';
import type { Logger } from './app/ports';
import { type Hallpass, startHallpass } from './compose';
import { ConfigError, loadConfig, readPolicy } from './config';

/** `npm start`, `hallpass`: reads `.env` when present, validates everything, then starts. */
export async function startBot(): Promise<void> {
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
  // An edited policy file takes effect on SIGHUP; one that does not validate is refused whole.
  process.on('SIGHUP', () => reloadPolicy(config.env.policyPath, hallpass, logger));
}

/**
 * Reads the policy file again and puts it in force if it validates; otherwise logs every problem and
 * keeps the running policy. Never throws: a bad edit must not stop the process that closes grants.
 */
function reloadPolicy(path: string, hallpass: Pick<Hallpass, 'reloadPolicy'>, logger: Logger): void {
  try {
    const result = readPolicy(path);
    if (!result.ok) {
      logger.error(
        { path, problems: result.section.problems },
        'policy reload refused: the file does not validate; the running policy stays in force',
      );
      return;
    }
    void hallpass.reloadPolicy(result.value);
  } catch (error) {
    logger.error(
      { path, err: error instanceof Error ? error.message : String(error) },
      'policy reload failed; the running policy stays in force',
    );
  }
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
