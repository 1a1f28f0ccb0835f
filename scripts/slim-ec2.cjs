#!/usr/bin/env node
/**
 * After `tsc`: replaces dist/adapters/aws/ec2-sdk.js (tsc's re-export of all of `@aws-sdk/client-ec2`)
 * with a bundle of only what src/adapters/aws/ec2-sdk.ts exports, made by esbuild from the package's
 * ES module build, which it tree-shakes. Everything outside the EC2 package (`@smithy/*`,
 * `@aws-sdk/core`, …) stays an ordinary `require`, shared with the other AWS clients.
 *
 * The package's CommonJS build is one 2 MB file holding every EC2 operation; loaded, it costs a running
 * hallpass 6–31 MiB and 0.1–0.2 s of its start (docs/benchmarks.md). Run from `npm run build` and from
 * prestart after `tsc -b`; `node scripts/slim-ec2.cjs [root]` (default: the working directory). Without esbuild (a
 * production install has no dev dependencies) it does nothing, and the full re-export stays.
 */
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ENTRY = path.join('src', 'adapters', 'aws', 'ec2-sdk.ts');
const OUT = path.join('dist', 'adapters', 'aws', 'ec2-sdk.js');
const PACKAGE = '@aws-sdk/client-ec2';

/**
 * Bundles `root`'s EC2 exports (src/adapters/aws/ec2-sdk.ts) into `outfile` (default: its place in
 * dist/); resolves to the bundle's size in bytes, or undefined when esbuild is not installed.
 */
async function slimEc2(root, outfile = path.join(root, OUT)) {
  let esbuild;
  try {
    esbuild = require(require.resolve('esbuild', { paths: [root] }));
  } catch {
    return undefined;
  }
  const ec2Dir = path.dirname(require.resolve(`${PACKAGE}/package.json`, { paths: [root] }));
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The package's ES module build: its `export`s are what lets esbuild drop the operations unused.
    mainFields: ['module', 'main'],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    plugins: [
      {
        name: 'only-the-ec2-package',
        setup(build) {
          // The schemas name their traits with computed keys (`{ [_xN]: "Name" }`, `_xN` a string
          // constant), which esbuild must assume may have effects, so it would keep every schema: the
          // keys are written out as the strings they are, and the unused schemas can go.
          build.onLoad({ filter: /[\\/]schemas[\\/]schemas_\d+\.js$/ }, (args) => {
            const source = readFileSync(args.path, 'utf8');
            const strings = new Map();
            for (const [, name, value] of source.matchAll(/^const (\w+) = ("[^"\\\n]*");$/gm))
              strings.set(name, value);
            const contents = source.replace(/\[(\w+)\]:/g, (key, name) => {
              const value = strings.get(name);
              return value === undefined ? key : `${value}:`;
            });
            return { contents, loader: 'js' };
          });

          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            const relative = args.path.startsWith('.') || path.isAbsolute(args.path);
            const withinEc2 = args.importer.startsWith(ec2Dir + path.sep);
            if (args.path === PACKAGE || (relative && withinEc2)) return undefined;
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return Object.values(result.metafile.outputs)[0]?.bytes;
}

module.exports = { slimEc2 };

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? '.');
  // Nothing to replace: not a checkout (no src/), or tsc did not build.
  const built = existsSync(path.join(root, ENTRY)) && existsSync(path.join(root, OUT));
  (built ? slimEc2(root) : Promise.resolve(undefined)).then(
    (bytes) => {
      if (bytes !== undefined)
        process.stdout.write(
          `${OUT}: the EC2 client and its commands alone (${Math.round(bytes / 1024)} KiB)\n`,
        );
    },
    (error) => {
      process.stderr.write(`slim-ec2: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
