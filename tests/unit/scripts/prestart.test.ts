import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// The script npm runs before `npm start` (CommonJS, run by node as it is): what it exports is tested here.
const { buildNeeded } = require('../../../scripts/prestart.cjs') as {
  buildNeeded: (root: string) => string | undefined;
};

describe('prestart: does npm start need tsc -b first?', () => {
  let root: string;
  /** Seconds since the epoch for a file's times: `at(0)` is the build, negative is before it. */
  const at = (seconds: number): Date => new Date((1_800_000_000 + seconds) * 1000);
  const touch = (file: string, seconds: number): void => {
    const full = path.join(root, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, '');
    utimesSync(full, at(seconds), at(seconds));
  };
  const dateDir = (dir: string, seconds: number): void =>
    utimesSync(path.join(root, dir), at(seconds), at(seconds));

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'hallpass-prestart-'));
    for (const f of [
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src/main.ts',
      'src/app/deep/use-case.ts',
    ])
      touch(f, -100);
    for (const d of ['src/app/deep', 'src/app', 'src']) dateDir(d, -100);
    touch('dist/main.js', 0);
    touch('dist/.tsbuildinfo', 0);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('skips the build when nothing it reads is newer than the last build', () => {
    expect(buildNeeded(root)).toBeUndefined();
  });

  it.each([
    ['a source file deep under src/', 'src/app/deep/use-case.ts'],
    ['tsconfig.json', 'tsconfig.json'],
    ['tsconfig.build.json', 'tsconfig.build.json'],
    ['package.json', 'package.json'],
  ])('builds when %s changed after the last build', (_what, file) => {
    touch(file, 5);
    expect(buildNeeded(root)).toContain('changed');
  });

  it('builds when a file under src/ was deleted after the last build (its folder changed)', () => {
    rmSync(path.join(root, 'src/app/deep/use-case.ts'));
    dateDir('src/app/deep', 5);
    expect(buildNeeded(root)).toContain('changed');
  });

  it('builds when there has been no build, or its output is gone', () => {
    rmSync(path.join(root, 'dist/.tsbuildinfo'));
    expect(buildNeeded(root)).toBe('dist/.tsbuildinfo is missing');
    touch('dist/.tsbuildinfo', 0);
    rmSync(path.join(root, 'dist/main.js'));
    expect(buildNeeded(root)).toBe('dist/main.js is missing');
  });
});
