#!/usr/bin/env node
/**
 * Before `npm start`: in a development checkout (TypeScript installed), `tsc -b` brings dist/ up to date.
 * It is incremental (dist/.tsbuildinfo): with nothing changed since the last build it compiles nothing
 * and costs well under a second. A production install (`npm ci --omit=dev`) has no TypeScript and runs
 * the dist/ it was shipped with, so this only checks that dist/main.js is there.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

function tscPath() {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  } catch {
    return undefined;
  }
}

const tsc = tscPath();
if (tsc !== undefined && existsSync(path.join(ROOT, 'src', 'main.ts'))) {
  const built = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  process.exit(built.status ?? 1);
}
if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) {
  process.stderr.write(
    'hallpass: dist/main.js is missing and TypeScript is not installed: build it where the dev dependencies are (`npm ci && npm run build`) and ship dist/ with the package.\n',
  );
  process.exit(1);
}
