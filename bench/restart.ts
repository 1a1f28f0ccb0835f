/**
 * Restarts the compiled bot on a database a `process` run kept (`BENCH_KEEP=1`), with the EC2 stand-in
 * seeded from its live rule holds (same rule ids, same tags) and a fresh Slack stand-in, and prints each
 * start-up's time to `/healthz` 200 and its steps. A quick loop for start-up work, without the 3 minutes
 * of opening 10,000 grants again: `npx tsx bench/restart.ts <kept dir> [times] [--cpu-prof <dir>]`.
 * The database is copied first: the kept one is never changed.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ruleDescription, ruleTags } from '../src/adapters/aws/ec2-network-access';
import { startFakeEc2 } from '../tests/support/fake-ec2';
import { startSlackStandIn } from '../tests/support/slack-stand-in';
import { botEnv } from './process';

const SECRET = 'bench-process-signing-secret-0123456789';

type Hold = {
  rule_id: string;
  group_id: string;
  cidr: string;
  protocol: string;
  from_port: number;
  to_port: number;
  grant_id: string;
  requester_id: string;
  expires_at: number;
};

async function main(): Promise<void> {
  const [kept, timesArg, flag, profDir] = process.argv.slice(2);
  if (kept === undefined)
    throw new Error('usage: tsx bench/restart.ts <kept dir> [times] [--cpu-prof <dir>]');
  const times = Number(timesArg ?? '3');
  const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-bench-restart-'));
  copyFileSync(path.join(kept, 'hallpass.db'), path.join(dir, 'hallpass.db'));
  copyFileSync(path.join(kept, 'policy.yml'), path.join(dir, 'policy.yml'));
  const db = new Database(path.join(dir, 'hallpass.db'), { readonly: true });
  const holds = db
    .prepare(
      `SELECT h.rule_id, h.group_id, h.cidr, h.protocol, h.from_port, h.to_port, g.id AS grant_id, g.requester_id, g.expires_at
       FROM rule_holds h JOIN grants g ON g.id = h.grant_id WHERE h.released_at IS NULL`,
    )
    .all() as Hold[];
  db.close();
  const groups = [...new Set(holds.map((h) => h.group_id))];
  const ec2 = await startFakeEc2({ groups });
  for (const h of holds) {
    const tags = { grantId: h.grant_id, requesterId: h.requester_id, expiresAt: new Date(h.expires_at) };
    ec2.addRule({
      id: h.rule_id,
      groupId: h.group_id,
      protocol: h.protocol,
      fromPort: h.from_port,
      toPort: h.to_port,
      cidr: h.cidr,
      tags: Object.fromEntries(ruleTags(tags, 'default').map((t) => [t.Key ?? '', t.Value ?? ''])),
      description: ruleDescription(tags),
    });
  }
  const slack = await startSlackStandIn();
  slack.setGroups([{ id: 'S0SRE', handle: 'sre', users: ['UAPPROVER1'] }]);
  process.stdout.write(`${holds.length} live rules on ${groups.length} groups\n`);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  for (let turn = 0; turn < times; turn++) {
    const log = openSync(path.join(dir, 'bot.log'), 'a');
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [
        ...(flag === '--cpu-prof' && profDir !== undefined
          ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`]
          : []),
        path.resolve(__dirname, '../dist/main.js'),
      ],
      {
        cwd: dir,
        stdio: ['ignore', log, log],
        env: {
          PATH: process.env['PATH'] ?? '',
          NODE_OPTIONS:
            process.env['BENCH_NODE_OPTIONS'] ?? '--max-old-space-size=256 --max-semi-space-size=4',
          SLACK_BOT_TOKEN: 'xoxb-bench-process',
          SLACK_SIGNING_SECRET: SECRET,
          SLACK_API_URL: slack.apiUrl,
          PORT: String(port),
          HALLPASS_DB: path.join(dir, 'hallpass.db'),
          HALLPASS_POLICY: path.join(dir, 'policy.yml'),
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIDBENCHPROCESS',
          AWS_SECRET_ACCESS_KEY: 'bench-process-aws-secret',
          AWS_ENDPOINT_URL_EC2: ec2.url,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          // `BENCH_BOT_ENV='NAME=value …'` as for `process` (e.g. `LD_PRELOAD=libjemalloc.so.2`).
          ...botEnv(),
        },
      },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - t0;
    // Read once the log has its lines (pino writes behind the start), after the reconciliation's too.
    await new Promise((r) => setTimeout(r, 3_000));
    const started = readFileSync(path.join(dir, 'bot.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"msg":"hallpass started"'))
      .pop();
    const steps = started === undefined ? {} : (JSON.parse(started) as { startupMs?: object }).startupMs;
    const reconciled = /"ms":(\d+),"msg":"start-up reconciliation finished"/.exec(
      readFileSync(path.join(dir, 'bot.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('start-up reconciliation'))
        .pop() ?? '',
    )?.[1];
    process.stdout.write(
      `restart ${turn + 1}: ${ms.toFixed(0)} ms to healthy; steps ${JSON.stringify(steps)}; reconciliation after it ${reconciled ?? '?'} ms\n`,
    );
    child.kill('SIGTERM');
    await exited;
  }
  process.stdout.write(`${dir}\n`);
  await ec2.close();
  await slack.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
