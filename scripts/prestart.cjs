#!/usr/bin/env node
/**
 * Before `npm start`: in a development checkout (TypeScript installed), `tsc -b` brings dist/ up to date —
 * but only when something it builds from changed. Loading TypeScript and checking the build costs about
 * half a second even when nothing changed, so when no file or folder under src/, nor tsconfig.json,
 * tsconfig.build.json or package.json, is newer than the build's record (dist/.tsbuildinfo), and
 * dist/main.js is there, nothing runs. A folder counts too: deleting or renaming a file changes its
 * folder's time. After a build the record is dated from when the build started, so an edit made while it
 * ran is seen by the next start. A production install (`npm ci --omit=dev`) has no TypeScript and runs
 * the dist/ it was shipped with, so this only checks that dist/main.js is there. After `tsc -b`, the EC2
 * SDK is bundled down to what hallpass uses, as `npm run build` does (scripts/slim-ec2.cjs).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, utimesSync } = require('node:fs');
const path = require('node:path');

/** What the build reads: newer than its record means the build may be stale. */
const INPUT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];
const BUILD_INFO = path.join('dist', '.tsbuildinfo');

/** The newest modification time (ms) of `dir` and everything under it; 0 when it does not exist. */
function newestUnder(dir) {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    return 0;
  }
  let newest = stat.mtimeMs;
  if (!stat.isDirectory()) return newest;
  for (const entry of readdirSync(dir)) newest = Math.max(newest, newestUnder(path.join(dir, entry)));
  return newest;
}

/**
 * Why `root` needs `tsc -b` before it starts (a sentence), or `undefined` when its dist/ is up to date:
 * dist/main.js and dist/.tsbuildinfo exist and nothing the build reads is newer than the latter.
 */
function buildNeeded(root) {
  if (!existsSync(path.join(root, 'dist', 'main.js'))) return 'dist/main.js is missing';
  let built;
  try {
    built = statSync(path.join(root, BUILD_INFO)).mtimeMs;
  } catch {
    return `${BUILD_INFO} is missing`;
  }
  const newest = Math.max(
    newestUnder(path.join(root, 'src')),
    ...INPUT_FILES.map((f) => newestUnder(path.join(root, f))),
  );
  return newest > built ? 'src/ or the build settings changed since the last build' : undefined;
}

function tscPath(root) {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    return undefined;
  }
}

/** Builds `root` if it needs it (a development checkout); returns the exit status. */
function prestart(root) {
  const tsc = tscPath(root);
  if (tsc !== undefined && existsSync(path.join(root, 'src', 'main.ts'))) {
    if (buildNeeded(root) === undefined) return 0;
    const startedAt = new Date();
    // The bot's NODE_OPTIONS (a 256 MiB heap, as npm start and the image set them) are not the build's:
    // tsc needs more than that and dies of an exhausted heap under them.
    const { NODE_OPTIONS: _botOptions, ...env } = process.env;
    const built = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
      cwd: root,
      env,
      stdio: 'inherit',
    });
    // The EC2 SDK bundled down to what hallpass sends (scripts/slim-ec2.cjs), as `npm run build` does.
    const slimmed =
      built.status === 0
        ? spawnSync(process.execPath, [path.join(__dirname, 'slim-ec2.cjs'), root], {
            cwd: root,
            env,
            stdio: 'inherit',
          })
        : built;
    // tsc -b leaves its record untouched when the sources' content did not change (a file only touched):
    // dated from the build's start, the record is then newer than them and the next start skips the build.
    if (slimmed.status === 0 && existsSync(path.join(root, BUILD_INFO)))
      utimesSync(path.join(root, BUILD_INFO), startedAt, startedAt);
    return slimmed.status ?? 1;
  }
  if (!existsSync(path.join(root, 'dist', 'main.js'))) {
    process.stderr.write(
      'hallpass: dist/main.js is missing and TypeScript is not installed: build it where the dev dependencies are (`npm ci && npm run build`) and ship dist/ with the package.\n',
    );
    return 1;
  }
  return 0;
}

module.exports = { buildNeeded, prestart };

if (require.main === module) process.exit(prestart(path.resolve(__dirname, '..')));
