import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BotProcess, runProcess, standInEnv, startedPort, until } from '../support/bot-process';
import {
  contextAllowList,
  execForm,
  inRoot,
  linkModules,
  parseDockerfile,
  type Replayed,
  readText,
  replayStages,
  sh,
} from '../support/dockerfile';
import { type FakeEc2, startFakeEc2 } from '../support/fake-ec2';
import { DEFAULT_POLICY } from '../support/harness';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in';

/**
 * The Dockerfile's production install, carried out without Docker (tests/support/dockerfile.ts replays
 * its stages in temporary folders): `npm run build` where the dev dependencies are, `npm ci --omit=dev`
 * in a clean folder from the lockfile, then the image's CMD and HEALTHCHECK and the command-line tools
 * as an operator runs them in the container. The stages, COPY lines, ENV, CMD and HEALTHCHECK are read
 * from the Dockerfile itself, so the two cannot drift apart; a RUN line this test cannot replay fails it.
 *
 * Two steps differ from a Docker build, on purpose: the build stage's full `npm ci` is the one this
 * checkout already had (linked, not repeated), and `npm ci --omit=dev` prefers the npm cache that
 * install filled (`--prefer-offline`, still from the lockfile). The image's own OS packages (apt-get)
 * are this machine's.
 */

const ROOT = path.resolve(__dirname, '../..');
// A full TypeScript build and an npm install from the cache (about a minute together on 2 cores).
jest.setTimeout(5 * 60_000);

/** The environment of a clean shell: npm's own variables from the `npm test` around jest left out. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') || k.toLowerCase() === 'npm_config_cache') env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * better-sqlite3's install script (prebuild-install) fetches a prebuilt binary from GitHub, as it does
 * in a Docker build, and compiles SQLite (a minute or more) when it cannot. GitHub is out of reach
 * here, so its binary comes from a local prebuilds folder (prebuild-install's `local-prebuilds` option,
 * made for offline installs): the tarball it would download, packed from this checkout's own install of
 * the same version. Everything else about the install script runs as it would.
 */
function localPrebuilds(dir: string): Record<string, string> {
  const moduleDir = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readText(path.join(moduleDir, 'package.json'))) as { version: string };
  const libc = isMusl() ? 'musl' : '';
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}${libc}-${process.arch}.tar.gz`;
  mkdirSync(dir, { recursive: true });
  sh(
    `tar -czf ${JSON.stringify(path.join(dir, name))} build/Release/better_sqlite3.node`,
    moduleDir,
    process.env,
  );
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}

/** Whether Node runs on musl (Alpine): prebuilt binaries are named for it. */
function isMusl(): boolean {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report.header?.glibcVersionRuntime === undefined;
}

/** Files under `dir` with their size and modification time, to show nothing was written there. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      const s = statSync(file, { throwIfNoEntry: false });
      return `${path.relative(dir, file)} ${s?.size ?? '-'} ${s?.mtimeMs ?? '-'}`;
    })
    .sort();
}

/** `GET /healthz`'s status, or undefined when nothing answers. */
const health = (port: number): Promise<number | undefined> =>
  fetch(`http://127.0.0.1:${port}/healthz`).then(
    (r) => r.status,
    () => undefined,
  );

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Whether this machine's dynamic loader can preload `library` (a process started with it says nothing on stderr). */
const preloads = (library: string): boolean => {
  const probe = spawnSync(process.execPath, ['-e', '0'], {
    env: { PATH: process.env['PATH'] ?? '', LD_PRELOAD: library },
    encoding: 'utf8',
  });
  return probe.status === 0 && probe.stderr === '';
};

describe('the production install, as the Dockerfile builds it (replayed without Docker)', () => {
  let work: string;
  let replayed: Replayed;
  let slack: SlackStandIn;
  let ec2: FakeEc2;
  const timings: Record<string, string> = {};

  /** How each RUN line of the Dockerfile is carried out here. */
  function replayRun(command: string, at: { readonly cwd: string; readonly root: string }): void {
    if (/^apt-get /.test(command)) return; // the image's OS packages: this machine has its own toolchain
    if (/^npm ci\b/.test(command) && !command.includes('--omit=dev')) {
      linkModules(at.cwd, path.join(ROOT, 'node_modules'));
      return;
    }
    if (/^npm ci\b.*--omit=dev/.test(command)) {
      const started = Date.now();
      sh(
        `${command} --prefer-offline --ignore-scripts=false`,
        at.cwd,
        cleanEnv(localPrebuilds(path.join(work, 'prebuilds'))),
      );
      timings['npm ci --omit=dev'] = seconds(Date.now() - started);
      return;
    }
    if (command === 'npm run build') {
      const started = Date.now();
      sh(command, at.cwd, cleanEnv());
      timings['npm run build'] = seconds(Date.now() - started);
      return;
    }
    const dirs = /^mkdir -p ((?:\/\S+\s+)+)&& chown \S+ (?:\/\S+\s*)+$/.exec(command)?.[1];
    if (dirs !== undefined) {
      for (const d of dirs.trim().split(/\s+/)) mkdirSync(inRoot(at.root, d), { recursive: true });
      return;
    }
    throw new Error(
      `the production-install test does not replay "RUN ${command}": teach replayRun in ${path.relative(ROOT, __filename)}`,
    );
  }

  const runtime = () => {
    const root = replayed.roots.get('runtime');
    const workdir = replayed.workdirs.get('runtime');
    const env = replayed.env.get('runtime');
    if (root === undefined || workdir === undefined || env === undefined) throw new Error('no runtime stage');
    return { root, app: inRoot(root, workdir), imageEnv: env };
  };

  /** The container's environment: the image's ENV (its paths under the runtime root), stand-ins, and `extra`. */
  const containerEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const { root, imageEnv } = runtime();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(imageEnv)) env[k] = v.startsWith('/') ? inRoot(root, v) : v;
    // The image installs jemalloc (an apt-get line, not replayed) and preloads it. Where this machine
    // cannot preload it, ld.so would warn on every process's stderr: the replay then runs without it.
    if (env['LD_PRELOAD'] !== undefined && !preloads(env['LD_PRELOAD'])) delete env['LD_PRELOAD'];
    const {
      HALLPASS_DB: _db,
      PORT: _port,
      ...standIns
    } = standInEnv({
      name: 'production-install',
      signingSecret: 'production-install-secret',
      slackApiUrl: slack.apiUrl,
      ec2Url: ec2.url,
    });
    return {
      PATH: process.env['PATH'] ?? '',
      HOME: path.join(work, 'home'),
      ...env,
      ...standIns,
      PORT: '0',
      ...extra,
    };
  };

  const stage = (name: string) => {
    const found = parseDockerfile(readText(path.join(ROOT, 'Dockerfile'))).find((s) => s.name === name);
    if (found === undefined) throw new Error(`no stage ${name} in the Dockerfile`);
    return found;
  };
  const instruction = (stageName: string, op: string): string => {
    const found = stage(stageName).instructions.find((i) => i.op === op)?.args;
    if (found === undefined) throw new Error(`no ${op} in the Dockerfile's ${stageName} stage`);
    return found;
  };
  const instructions = (stageName: string, op: string): string[] =>
    stage(stageName)
      .instructions.filter((i) => i.op === op)
      .map((i) => i.args);

  /** Runs an exec-form command of the image (`node …`) in the container's working directory. */
  const exec = (argv: readonly string[], env: NodeJS.ProcessEnv) => {
    const [command, ...args] = argv;
    return spawnSync(command === 'node' ? process.execPath : (command ?? ''), args, {
      cwd: runtime().app,
      env,
      encoding: 'utf8',
    });
  };

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'hallpass-production-'));
    mkdirSync(path.join(work, 'home'));
    replayed = replayStages(parseDockerfile(readText(path.join(ROOT, 'Dockerfile'))), {
      context: ROOT,
      allowed: contextAllowList(readText(path.join(ROOT, '.dockerignore'))),
      into: path.join(work, 'stages'),
      run: replayRun,
    });
  });

  beforeEach(async () => {
    slack = await startSlackStandIn();
    ec2 = await startFakeEc2();
  });

  afterEach(async () => {
    await slack.close();
    await ec2.close();
  });

  afterAll(() => {
    process.stdout.write(
      `production install: ${Object.entries(timings)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`,
    );
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('holds dist/ with the bot and every command-line tool, the migrations and the production dependencies only', () => {
    const { app } = runtime();
    for (const file of [
      'dist/main.js',
      'dist/cli/audit.js',
      'dist/cli/db-copy.js',
      'dist/cli/db-backup.js',
      'dist/cli/check.js',
      'dist/cli/iam-policy.js',
      'drizzle/sqlite/meta/_journal.json',
      'drizzle/postgres/meta/_journal.json',
      'node_modules/better-sqlite3/package.json',
      'node_modules/@slack/bolt/package.json',
      'LICENSE',
    ]) {
      expect([file, existsSync(path.join(app, file))]).toEqual([file, true]);
    }
    for (const devOnly of [
      'src',
      'tests',
      'node_modules/typescript',
      'node_modules/tsx',
      'node_modules/jest',
    ]) {
      expect([devOnly, existsSync(path.join(app, devOnly))]).toEqual([devOnly, false]);
    }
    // The EC2 SDK bundled down to what hallpass sends (scripts/slim-ec2.cjs), not tsc's re-export of
    // the whole package: a few tens of KiB where the package's own build is 2 MB.
    const ec2Sdk = readText(path.join(app, 'dist/adapters/aws/ec2-sdk.js'));
    expect(ec2Sdk).not.toMatch(/require\(["']@aws-sdk\/client-ec2["']\)/);
    expect(ec2Sdk).toContain('RevokeSecurityGroupIngressRequest$');
    expect(ec2Sdk.length).toBeLessThan(200 * 1024);
    // jemalloc: installed in the runtime stage and preloaded by name (ld.so finds it whatever the arch).
    expect(runtime().imageEnv['LD_PRELOAD']).toBe('libjemalloc.so.2');
    expect(instructions('runtime', 'RUN').some((r) => /apt-get install .*\blibjemalloc2\b/.test(r))).toBe(
      true,
    );
    expect(instruction('runtime', 'USER')).not.toBe('root');
    expect(instruction('runtime', 'EXPOSE')).toBe(runtime().imageEnv['PORT']);
  });

  it('runs the CMD on a SQLite database under /data: /healthz answers, HEALTHCHECK passes, the audit CLI and a backup verify, and nothing is written outside /data', async () => {
    const { root, app, imageEnv } = runtime();
    expect(imageEnv['HALLPASS_DB']).toMatch(/^\/data\//);
    const policy = inRoot(root, imageEnv['HALLPASS_POLICY'] ?? '/config/policy.yml');
    mkdirSync(path.dirname(policy), { recursive: true });
    writeFileSync(policy, DEFAULT_POLICY);
    const env = containerEnv();
    const before = [...snapshot(app), ...snapshot(path.join(work, 'home'))];

    const [command, ...args] = execForm(instruction('runtime', 'CMD'));
    const bot: BotProcess = runProcess(command === 'node' ? process.execPath : (command ?? ''), args, {
      cwd: app,
      env,
    });
    try {
      const port = await startedPort(bot);
      expect(await until(() => health(port), '/healthz')).toBe(200);
      expect(existsSync(inRoot(root, imageEnv['HALLPASS_DB'] ?? ''))).toBe(true);
      // The allocator the image preloads is the one the bot runs on (where this machine has it).
      const maps = readText(`/proc/${bot.child.pid}/maps`);
      expect(maps.includes('libjemalloc.so.2')).toBe(env['LD_PRELOAD'] !== undefined);

      const check = exec(execForm(instruction('runtime', 'HEALTHCHECK')), { ...env, PORT: String(port) });
      expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });

      // In the container: `docker exec hallpass node dist/cli/audit.js verify`, or `npm run audit -- verify`.
      const verify = exec(['node', 'dist/cli/audit.js', 'verify'], env);
      expect(verify.stdout).toMatch(/^Audit log intact: \d+ event\(s\), head [0-9a-f]{64}\n/);
      expect(verify.status).toBe(0);
      // npm keeps its own logs under HOME: a production install outside a read-only container.
      const viaNpm = spawnSync('npm', ['run', '--silent', 'audit', '--', 'verify'], {
        cwd: app,
        env: { ...env, HOME: process.env['HOME'] ?? '' },
        encoding: 'utf8',
      });
      expect(viaNpm.stdout).toMatch(/^Audit log intact: /);
      expect(viaNpm.status).toBe(0);

      // A backup while the bot runs, onto the data volume, and its audit log verified on its own.
      const backup = inRoot(root, '/data/backup.db');
      const made = exec(['node', 'dist/cli/db-backup.js', backup], env);
      expect(made.stdout).toMatch(/^Backed up .* integrity_check ok\./);
      expect(made.status).toBe(0);
      const verified = exec(['node', 'dist/cli/audit.js', 'verify'], { ...env, HALLPASS_DB: backup });
      expect(verified.stdout).toMatch(/^Audit log intact: /);
      expect(verified.status).toBe(0);

      bot.child.kill('SIGTERM');
      expect(await bot.exited).toBe(0);
      const after = exec(execForm(instruction('runtime', 'HEALTHCHECK')), { ...env, PORT: String(port) });
      expect(after.status).toBe(1);
    } finally {
      bot.child.kill('SIGKILL');
    }
    // A read-only root file system would have refused any write outside /data (and /config, mounted).
    expect([...snapshot(app), ...snapshot(path.join(work, 'home'))]).toEqual(before);
    expect(bot.output()).not.toContain('uncaught error');
  });

  /** The build stage's checkout (its dependencies and a fresh build), with the rest of a checkout added. */
  const builtCheckout = (): string => {
    const build = replayed.roots.get('build');
    const workdir = replayed.workdirs.get('build');
    if (build === undefined || workdir === undefined) throw new Error('no build stage');
    const checkout = inRoot(build, workdir);
    for (const dir of ['scripts', 'drizzle'])
      cpSync(path.join(ROOT, dir), path.join(checkout, dir), { recursive: true });
    return checkout;
  };

  /**
   * `npm start` in `checkout` on a database of its own under `name`, until /healthz answers 200; then
   * stopped. `startMs`: how long to wait for the started line (a rebuild by prestart first takes longer
   * on a loaded machine than 20 s).
   */
  const npmStartUntilHealthy = async (checkout: string, name: string, startMs?: number): Promise<void> => {
    const data = path.join(work, name);
    mkdirSync(data);
    writeFileSync(path.join(data, 'policy.yml'), DEFAULT_POLICY);
    const bot = runProcess('npm', ['start'], {
      cwd: checkout,
      env: cleanEnv({
        ...containerEnv(),
        NODE_ENV: 'development',
        HALLPASS_DB: path.join(data, 'hallpass.db'),
        HALLPASS_POLICY: path.join(data, 'policy.yml'),
      } as Record<string, string>),
      detached: true,
    });
    try {
      const port = await startedPort(bot, startMs);
      expect(await until(() => health(port), '/healthz')).toBe(200);
    } finally {
      if (bot.child.pid !== undefined) process.kill(-bot.child.pid, 'SIGTERM');
      await bot.exited;
    }
  };

  it('npm start in a checkout whose dist/ is built compiles nothing and reaches /healthz', async () => {
    const checkout = builtCheckout();
    const built = ['dist/main.js', 'dist/.tsbuildinfo'].map((f) => statSync(path.join(checkout, f)).mtimeMs);

    const started = Date.now();
    await npmStartUntilHealthy(checkout, 'npm-start');
    timings['npm start to /healthz, nothing to build'] = seconds(Date.now() - started);
    expect(
      ['dist/main.js', 'dist/.tsbuildinfo'].map((f) => statSync(path.join(checkout, f)).mtimeMs),
    ).toEqual(built);
  });

  it('npm start after ec2-sdk.ts changed rebuilds it and bundles the EC2 SDK down again, as npm run build does', async () => {
    const checkout = builtCheckout();
    const source = path.join(checkout, 'src/adapters/aws/ec2-sdk.ts');
    writeFileSync(source, `${readText(source)}// changed\n`);
    const bundle = path.join(checkout, 'dist/adapters/aws/ec2-sdk.js');
    const before = statSync(bundle).mtimeMs;

    await npmStartUntilHealthy(checkout, 'npm-start-rebuilt', 3 * 60_000);
    // tsc wrote its re-export of the whole package; prestart then replaced it with the bundle. The
    // image's NODE_OPTIONS (a 256 MiB heap) are in this environment: the build must not run under them.
    expect(statSync(bundle).mtimeMs).toBeGreaterThan(before);
    const rebuilt = readText(bundle);
    expect(rebuilt).not.toMatch(/require\(["']@aws-sdk\/client-ec2["']\)/);
    expect(rebuilt).toContain('RevokeSecurityGroupIngressRequest$');
  });
});
