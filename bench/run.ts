/**
 * `npm run bench`: prints figures for the running bot — how late expiry fires, how fast a batch of
 * grants closes, how fast Slack gets its ack, memory per grant, and the cost of the scheduler's
 * queries. Figures only: nothing here passes or fails on time. Every database lives in a temporary
 * directory that is removed afterwards.
 */
import { cpus, platform, release, totalmem } from 'node:os';
import { measureAckLatency } from './ack-latency';
import { measureAuditChain } from './audit-chain';
import { measureClosesAndMemory } from './closes-and-memory';
import { measureExpiryLateness } from './expiry-lateness';
import { measureCloseLatenessUnderSlackFaults } from './slack-faults';
import { measureSqliteStore } from './sqlite-store';
import { formatTable, mib, type Row } from './stats';

const EXPIRY_GRANTS = 50;
const BATCH_GRANTS = 500;
const MEMORY_GRANTS = 2_000;
const ACK_REQUESTS = 200;
const CLOSED_ROWS = 100_000;
const ACTIVE_ROWS = 1_000;
const SLACK_FAULT_GRANTS = 20;
const AUDIT_EVENTS = 100_000;

function machine(): Row[] {
  const cpu = cpus();
  return [
    { label: 'node', value: process.version, unit: '' },
    { label: 'platform', value: `${platform()} ${release()}`, unit: '' },
    { label: 'cpus', value: String(cpu.length), unit: `× ${cpu[0]?.model.trim() ?? 'unknown'}` },
    { label: 'memory', value: mib(totalmem()), unit: 'MiB' },
  ];
}

async function section(title: string, measure: () => Promise<Row[]> | Row[]): Promise<void> {
  const started = Date.now();
  const rows = await measure();
  console.log(`${formatTable(`${title}  (${((Date.now() - started) / 1000).toFixed(1)} s)`, rows)}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`${formatTable('hallpass benchmarks — machine', machine())}\n`);
  await section('1. Expiry lateness (system clock, real timers, real scheduler)', () =>
    measureExpiryLateness(EXPIRY_GRANTS),
  );
  await section('2 + 4. Close throughput and memory (one shared expires_at per batch)', () =>
    measureClosesAndMemory(BATCH_GRANTS, MEMORY_GRANTS),
  );
  await section('3. Request handling: signed /access POST to the HTTP answer (ack)', () =>
    measureAckLatency(ACK_REQUESTS),
  );
  await section('5. SQLite store: the scheduler queries', () => measureSqliteStore(CLOSED_ROWS, ACTIVE_ROWS));
  await section('6. Close lateness while Slack misbehaves (EC2 saw Revoke − expires_at)', () =>
    measureCloseLatenessUnderSlackFaults(SLACK_FAULT_GRANTS),
  );
  await section(
    '7. Audit log: verifying the chain, and the tables against it (start-up, verify, exports)',
    () => measureAuditChain(AUDIT_EVENTS),
  );
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
