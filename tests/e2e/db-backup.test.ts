import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type Harness, REQUESTER, startHarness } from '../support/harness';

const ROOT = path.resolve(__dirname, '../..');
// Each CLI run starts a fresh process.
jest.setTimeout(60_000);

type Run = { status: number | null; stdout: string; stderr: string };

/** `npm run <script> -- <args>` in the checkout, as an operator types it, with `HALLPASS_DB` and no audit key. */
const npmEnv = (db: string): NodeJS.ProcessEnv => ({
  ...process.env,
  HALLPASS_AUDIT_KEY: '',
  HALLPASS_AUDIT_OLD_KEYS: '',
  HALLPASS_POLICY: path.join(tmpdir(), 'no-such-policy.yml'),
  HALLPASS_DB: db,
});

function npmRun(script: string, db: string, ...args: string[]): Run {
  const r = spawnSync('npm', ['run', '--silent', script, '--', ...args], {
    cwd: ROOT,
    env: npmEnv(db),
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking: the bot in this process goes on writing while it runs. */
function npmRunAsync(script: string, db: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', script, '--', ...args], { cwd: ROOT, env: npmEnv(db) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const auditEvents = async (h: Harness): Promise<number> =>
  (await h.db.rows<{ n: number }>('SELECT count(*) AS n FROM audit_events'))[0]?.n ?? 0;

describe('npm run db:backup: a consistent copy of the live SQLite database', () => {
  let h: Harness;
  let dir: string;
  let asked = 0;

  /** One more request from the requester: a request row, its audit events and its outbox messages. */
  async function write(): Promise<void> {
    // `npmRun` blocks the event loop (spawnSync) for seconds: let the bot's server close the keep-alive
    // connections that timed out meanwhile before the next request, or fetch may reuse one as it closes
    // (ECONNRESET, seen once in CI).
    await new Promise((resolve) => setTimeout(resolve, 50));
    asked += 1;
    await h.command(REQUESTER, `prod-db 30m from 203.0.113.${(asked % 250) + 1} written during a backup`);
    // Under the rate limit of ten commands a minute.
    await h.advance(7_000);
  }

  beforeAll(async () => {
    h = await startHarness();
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-backup-'));
    for (let i = 0; i < 5; i++) await write();
  });

  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('taken while the bot writes, is one file that npm run audit -- verify accepts on its own', async () => {
    const committed = await auditEvents(h);
    const target = path.join(dir, 'taken', 'hallpass-backup.db');

    let done = false;
    const backup = npmRunAsync('db:backup', h.dbPath, target).finally(() => {
      done = true;
    });
    const before = asked;
    while (!done) await write();
    const r = await backup;
    await write();

    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      new RegExp(
        `^Backed up ${h.dbPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} in [\\d.]+ s: [\\d.]+ MB, \\d+ audit event\\(s\\), \\d+ migration\\(s\\); integrity_check ok\\.\n`,
      ),
    );
    expect(r.status).toBe(0);
    expect(asked).toBeGreaterThan(before); // the bot wrote while the backup ran
    // One self-contained file: no write-ahead log beside it, and none needed.
    expect(readdirSync(path.dirname(target))).toEqual(['hallpass-backup.db']);
    const copy = new Database(target, { readonly: true });
    try {
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    } finally {
      copy.close();
    }

    // Moved on its own (as a restore would), it verifies: the chain intact and the tables agreeing.
    const moved = path.join(dir, 'moved', 'hallpass.db');
    mkdirSync(path.dirname(moved));
    copyFileSync(target, moved);
    const v = npmRun('audit', moved, 'verify');
    const events = Number(/^Audit log intact: (\d+) event\(s\)/.exec(v.stdout)?.[1]);
    expect(events).toBeGreaterThanOrEqual(committed);
    expect(v.stdout).toMatch(
      /\nTables agree: every request and grant row matches the chain \(\d+ request\(s\)\)\.\n$/,
    );
    expect(v.status).toBe(0);
  });

  it('restored in place of the database (the bot stopped), is what the bot starts on', async () => {
    const target = path.join(dir, 'restore.db');
    expect(npmRun('db:backup', h.dbPath, target).status).toBe(0);
    const copy = new Database(target, { readonly: true });
    const inBackup = (copy.prepare('SELECT id FROM requests ORDER BY id').all() as { id: string }[]).map(
      (r) => r.id,
    );
    copy.close();
    expect(inBackup.length).toBeGreaterThan(0);
    await write(); // after the backup: gone once it is restored
    await h.stopBot();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${h.dbPath}${suffix}`, { force: true });
    copyFileSync(target, h.dbPath);

    h = await h.restart();
    expect((await h.db.rows<{ id: string }>('SELECT id FROM requests ORDER BY id')).map((r) => r.id)).toEqual(
      inBackup,
    );
    expect(npmRun('audit', h.dbPath, 'verify').status).toBe(0);
  });

  it('refuses a target that exists, a missing database and PostgreSQL, leaving nothing behind', () => {
    const existing = path.join(dir, 'existing.db');
    writeFileSync(existing, 'not to be overwritten');
    const taken = npmRun('db:backup', h.dbPath, existing);
    expect(taken.stderr).toBe(
      `hallpass db:backup: ${existing} already exists: give the backup a new file name\n`,
    );
    expect(taken.status).toBe(2);

    const missing = npmRun('db:backup', path.join(dir, 'nowhere', 'hallpass.db'), path.join(dir, 'b1.db'));
    expect(missing.stderr).toContain('no database at');
    expect(missing.status).toBe(2);
    expect(existsSync(path.join(dir, 'b1.db'))).toBe(false);

    const pg = npmRun(
      'db:backup',
      'postgres://hallpass:secret@db.example:5432/hallpass',
      path.join(dir, 'b2.db'),
    );
    expect(pg.stderr).toContain('back it up with pg_dump');
    expect(pg.stderr).not.toContain('secret');
    expect(pg.status).toBe(2);

    const usage = npmRun('db:backup', h.dbPath);
    expect(usage.stderr).toContain('give one argument: the new backup file.');
    expect(usage.status).toBe(2);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });
});
