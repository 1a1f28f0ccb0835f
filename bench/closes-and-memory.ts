import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type BatchResult, runBatchExpiry } from './batch-expiry';
import { BenchClock } from './bench-clock';
import { type BenchStack, startBenchStack } from './stack';
import { mib, num, type Row } from './stats';

/**
 * A full collection, so memory figures compare live data rather than garbage. `npm run bench` runs
 * plain `tsx` without `--expose-gc`, so the flag is set at run time and `gc` taken from a fresh context.
 */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') return () => {};
  return () => {
    gc();
    gc();
  };
}

type Memory = { readonly rss: number; readonly heapUsed: number; readonly external: number };

/**
 * Memory as the bot holds it: the stand-ins run in this same process and keep every call and message
 * they received, so their records are dropped before measuring (they are not hallpass's memory).
 */
function settledMemory(stack: BenchStack, gc: () => void): Memory {
  stack.slack.reset();
  stack.ec2.calls.length = 0;
  stack.revokes.reset();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/** Closes per second from the shared expiry to the last revoke. */
const closeRate = (r: BatchResult): number => (r.count * 1000) / Math.max(r.lastRevokeMs, 1);

/**
 * Figures 2 and 4, on one stack whose clock can be pinned (timers stay real). Figure 2: `closeCount`
 * grants sharing one `expires_at`; wall time from that instant to the last revoke EC2 received.
 * Figure 4: RSS and heap after a full collection, before and after `memoryCount` more grants were
 * opened and closed, in rounds of `closeCount` (the fake EC2's duplicate check costs time linear in
 * the rules it holds, so a single round of thousands would mostly measure the fake).
 */
export async function measureClosesAndMemory(closeCount: number, memoryCount: number): Promise<Row[]> {
  const gc = collector();
  const clock = new BenchClock();
  const stack = await startBenchStack({ clock });
  try {
    const batch = await runBatchExpiry(stack, clock, closeCount, 3);
    const before = settledMemory(stack, gc);
    const rounds: BatchResult[] = [];
    for (let done = 0, block = 4; done < memoryCount; done += closeCount, block += 1) {
      rounds.push(await runBatchExpiry(stack, clock, Math.min(closeCount, memoryCount - done), block));
    }
    const after = settledMemory(stack, gc);
    const peakRss = process.resourceUsage().maxRSS * 1024;
    const rates = rounds.map(closeRate);
    return [
      { label: 'grants sharing one expires_at', value: String(closeCount), unit: 'grants' },
      { label: 'time to open them (16 in flight)', value: String(batch.openMs), unit: 'ms' },
      { label: 'expiry → first revoke', value: num(batch.firstRevokeMs, 0), unit: 'ms' },
      { label: 'expiry → last revoke', value: num(batch.lastRevokeMs, 0), unit: 'ms' },
      { label: 'max ended_at − expires_at', value: num(batch.lastEndedMs, 0), unit: 'ms' },
      { label: 'closes per second', value: num(closeRate(batch), 0), unit: 'grants/s' },
      {
        label: `closes per second, ${rounds.length} more round${rounds.length === 1 ? '' : 's'} (min–max)`,
        value: `${num(Math.min(...rates), 0)}–${num(Math.max(...rates), 0)}`,
        unit: 'grants/s',
      },
      { label: `RSS before ${memoryCount} grants (after gc)`, value: mib(before.rss), unit: 'MiB' },
      { label: `RSS after ${memoryCount} opened + closed`, value: mib(after.rss), unit: 'MiB' },
      { label: `heap used before ${memoryCount} grants`, value: mib(before.heapUsed), unit: 'MiB' },
      { label: `heap used after ${memoryCount} opened + closed`, value: mib(after.heapUsed), unit: 'MiB' },
      { label: `external (Buffers, native) before`, value: mib(before.external), unit: 'MiB' },
      { label: `external (Buffers, native) after`, value: mib(after.external), unit: 'MiB' },
      {
        label: 'heap used growth per grant',
        value: num((after.heapUsed - before.heapUsed) / memoryCount, 0),
        unit: 'bytes',
      },
      { label: 'peak RSS of the whole run so far', value: mib(peakRss), unit: 'MiB' },
    ];
  } finally {
    await stack.close();
  }
}
