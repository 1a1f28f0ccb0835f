#!/usr/bin/env node
/**
 * `npm run audit`, `db:copy`, `db:backup`, `check` and `iam-policy`: runs the command-line tool `src/cli/<name>`
 * with the arguments after its name.
 *
 * In a development checkout (the TypeScript sources and tsx, a dev dependency, are both there) it runs
 * the sources through tsx, in this process, so the command always runs the code as it stands, built or
 * not. In a production install (`npm ci --omit=dev`: no tsx, usually no src/) it runs the compiled
 * `dist/cli/<name>.js` that `npm run build` wrote. Either way the tool reads `process.argv.slice(2)`.
 */
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const [name] = process.argv.splice(2, 1);

/** Whether a (dev) dependency is installed. */
function installed(id) {
  try {
    require.resolve(id, { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

if (name === undefined || !/^[a-z][a-z-]*$/.test(name)) {
  process.stderr.write(
    'usage: node scripts/run-cli.cjs <audit|db-copy|db-backup|check|iam-policy> [arguments…]\n',
  );
  process.exit(2);
}
const source = path.join(ROOT, 'src', 'cli', `${name}.ts`);
const compiled = path.join(ROOT, 'dist', 'cli', `${name}.js`);
if (existsSync(source) && installed('tsx/cjs/api')) {
  require(require.resolve('tsx/cjs/api', { paths: [ROOT] })).register();
  require(source);
} else if (existsSync(compiled)) {
  require(compiled);
} else {
  process.stderr.write(
    `hallpass: ${path.relative(ROOT, compiled)} is missing: run \`npm run build\` (with the dev dependencies installed) first.\n`,
  );
  process.exit(2);
}
