/**
 * CPU profile of a hallpass that is already running (a soak, a load test), without restarting it:
 * `npx tsx bench/profile-attach.ts <pid> [seconds=20] [out.cpuprofile]`. Sends SIGUSR1 (Node opens its
 * inspector on 127.0.0.1:9229), records `seconds` of samples over the inspector protocol, writes the
 * profile (open it in Chrome's DevTools) and prints the functions with the most self time and the
 * hallpass functions with the most inclusive time. Found the soak's slowdown on 2026-12-01 (see
 * docs/benchmarks.md). The inspector stays open in that process afterwards: profile test processes only.
 */
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[]; startTime: number; endTime: number };

const [pidText, secondsText = '20', out = `hallpass-${pidText}.cpuprofile`] = process.argv.slice(2);
const pid = Number(pidText);
if (!Number.isInteger(pid) || pid <= 0) {
  process.stderr.write('usage: npx tsx bench/profile-attach.ts <pid> [seconds=20] [out.cpuprofile]\n');
  process.exit(2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function record(seconds: number): Promise<Profile> {
  process.kill(pid, 'SIGUSR1');
  await sleep(1_000);
  const targets = (await (await fetch('http://127.0.0.1:9229/json/list')).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`process ${pid} opened no inspector`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      next += 1;
      waiting.set(next, resolve);
      ws.send(JSON.stringify({ id: next, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 1_000 });
  await send('Profiler.start');
  await sleep(seconds * 1_000);
  const { profile } = (await send('Profiler.stop')) as { profile: Profile };
  ws.close();
  return profile;
}

/** `function file:line`, with the paths cut to `node_modules/…` or `dist/…`. */
const nameOf = (frame: CallFrame): string =>
  `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, 'dist/')}:${frame.lineNumber}`;

function report(profile: Profile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const msPerSample = (profile.endTime - profile.startTime) / 1_000 / Math.max(1, profile.samples.length);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const id of profile.samples) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const name = nameOf(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + msPerSample);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) break;
      const up = nameOf(frame);
      if (seen.has(up)) continue;
      seen.add(up);
      inclusive.set(up, (inclusive.get(up) ?? 0) + msPerSample);
    }
  }
  const top = (m: Map<string, number>, n: number, keep: (name: string) => boolean = () => true) =>
    [...m]
      .filter(([name]) => keep(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => `${ms.toFixed(0).padStart(7)} ms  ${name}`)
      .join('\n');
  return [
    `self time (${((profile.endTime - profile.startTime) / 1_000).toFixed(0)} ms sampled):`,
    top(self, 30),
    '',
    'inclusive time, hallpass (dist/) functions:',
    top(inclusive, 40, (name) => name.includes(' dist/')),
  ].join('\n');
}

record(Number(secondsText)).then(
  (profile) => {
    writeFileSync(out, JSON.stringify(profile));
    process.stdout.write(`${report(profile)}\n\nwritten ${out}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
