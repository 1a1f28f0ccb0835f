import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createLogger } from '../../src/adapters/log/pino-logger';
import { FAULT_POINTS, type FaultPoint, type Faults } from '../../src/app/ports';
import { startHallpass } from '../../src/compose';
import { loadConfig, readPolicy } from '../../src/config';

/**
 * The bot as a real process for the fault-injection tests (`tests/faults/`), started like `src/main.ts`
 * (configuration from the environment) with one addition: `CRASH_AT=<fault point>` kills the process
 * with SIGKILL the `CRASH_AFTER`-th time (default 1) that point is reached — no handler runs, nothing
 * is flushed, exactly as a power cut or an OOM kill. Without `CRASH_AT` it runs like production.
 *
 * Talks to the parent in JSON lines on stdout, each with a `child` key:
 * `{"child":"ready","port":N}` once serving, `{"child":"fault","point":…,"n":…,"crashing":bool}` each
 * time a fault point is reached (written synchronously, so the line of the crashing point is out
 * before the kill). `CRASH_PLAN=<file>` instead arms and disarms the crash from the parent while the
 * process runs, for replicas that live across many cases (see `plannedFaults`).
 */

/** One line to the parent, written synchronously: a SIGKILL right after cannot lose it. */
function tell(message: { readonly child: 'ready' | 'fault' | 'reloaded' } & Record<string, unknown>): void {
  writeSync(1, `${JSON.stringify(message)}\n`);
}

function isFaultPoint(name: string): name is FaultPoint {
  return (FAULT_POINTS as readonly string[]).includes(name);
}

/** `CRASH_AT` / `CRASH_AFTER` as a `Faults`: every point is reported, the chosen one kills. */
function faultsFrom(env: NodeJS.ProcessEnv): Faults {
  const at = env['CRASH_AT'];
  if (at === undefined || at === '') {
    return {
      point(name) {
        tell({ child: 'fault', point: name, n: 0, crashing: false });
      },
    };
  }
  if (!isFaultPoint(at)) throw new Error(`CRASH_AT=${at} is not one of ${FAULT_POINTS.join(', ')}`);
  const after = Number(env['CRASH_AFTER'] ?? '1');
  if (!Number.isInteger(after) || after < 1)
    throw new Error(`CRASH_AFTER=${String(after)} must be 1 or more`);
  let reached = 0;
  return {
    point(name) {
      if (name !== at) {
        tell({ child: 'fault', point: name, n: 0, crashing: false });
        return;
      }
      reached += 1;
      const crashing = reached >= after;
      tell({ child: 'fault', point: name, n: reached, crashing });
      if (crashing) process.kill(process.pid, 'SIGKILL');
    },
  };
}

/** A crash plan as the test writes it (`armCrash` in replica-processes.ts); an empty file disarms. */
type CrashPlan = { readonly id: string; readonly at: FaultPoint; readonly after: number };

function readPlan(file: string): CrashPlan | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (text.trim() === '') return undefined;
  const plan = JSON.parse(text) as { id?: unknown; at?: unknown; after?: unknown };
  if (typeof plan.id !== 'string' || typeof plan.at !== 'string' || !isFaultPoint(plan.at))
    throw new Error(`CRASH_PLAN ${file} is not a crash plan: ${text}`);
  return { id: plan.id, at: plan.at, after: typeof plan.after === 'number' ? plan.after : 1 };
}

/** Creates `path` if nobody has: true for the one process that did. */
function claim(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx'));
    return true;
  } catch {
    return false;
  }
}

/**
 * `CRASH_PLAN=<file>` as a `Faults`, for replicas that live across many cases: the plan is read at every
 * point, so the test arms and disarms it case by case. When this process reaches the plan's point for
 * the `after`-th time under that plan, it dies — if it is the first of the replicas sharing the file to
 * get there (it claims `<file>.<plan id>`); the others pass the point, as production would.
 */
function plannedFaults(file: string): Faults {
  let planId: string | undefined;
  let reached = 0;
  return {
    point(name) {
      const plan = readPlan(file);
      if (plan?.id !== planId) {
        planId = plan?.id;
        reached = 0;
      }
      if (plan === undefined || name !== plan.at) {
        tell({ child: 'fault', point: name, n: 0, crashing: false });
        return;
      }
      reached += 1;
      const crashing = reached >= plan.after && claim(`${file}.${plan.id}`);
      tell({ child: 'fault', point: name, n: reached, crashing });
      if (crashing) process.kill(process.pid, 'SIGKILL');
    },
  };
}

/** The line src/main.ts logs for an uncaught error; tests assert it never appears. */
const UNCAUGHT = 'uncaught error (a bug): kept running';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const planFile = process.env['CRASH_PLAN'];
  const faults =
    planFile === undefined || planFile === '' ? faultsFrom(process.env) : plannedFaults(planFile);
  const logger = createLogger(config.env.logLevel);
  // As src/main.ts does: an error nothing caught is logged as a bug and the process goes on.
  const report = (kind: string) => (error: unknown) =>
    logger.error({ kind, err: error instanceof Error ? error.message : String(error) }, UNCAUGHT);
  process.on('unhandledRejection', report('unhandledRejection'));
  process.on('uncaughtException', report('uncaughtException'));
  const hallpass = await startHallpass({ env: config.env, policy: config.policy, logger, faults });
  // As src/main.ts does, an edited policy file on SIGHUP; told once its changes are announced.
  process.on('SIGHUP', () => {
    const read = readPolicy(config.env.policyPath);
    if (!read.ok) {
      tell({ child: 'reloaded', ok: false });
      return;
    }
    void hallpass.reloadPolicy(read.value).then(() => tell({ child: 'reloaded', ok: true }));
  });
  tell({ child: 'ready', port: hallpass.port });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `crash-child could not start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
