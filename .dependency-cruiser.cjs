/**
 * The layer rules of STYLE.md, made executable: `npm run deps:validate` fails on a wrong import.
 * domain → domain only; app → domain and app; an adapter never imports another adapter;
 * SDKs (@slack, @aws-sdk, drizzle, better-sqlite3, pg) only in adapters/ and main.ts.
 */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: {
        pathNot: ['^src/domain/', '^node_modules/(ipaddr\\.js|date-fns)/'],
        dependencyTypesNot: ['core', 'type-only'],
      },
    },
    {
      name: 'domain-no-node-io',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { dependencyTypes: ['core'], path: '^(fs|child_process|http|https|net|dgram|worker_threads)$' },
    },
    {
      name: 'app-imports-domain-and-app',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { pathNot: ['^src/domain/', '^src/app/', '^node_modules/date-fns/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/adapters/', pathNot: '^src/adapters/$1/' },
    },
    {
      name: 'sdks-only-in-adapters-and-main',
      severity: 'error',
      from: { pathNot: ['^src/adapters/', '^src/main\\.ts$', '^src/compose\\.ts$'] },
      to: { path: '^node_modules/(@slack|@aws-sdk|@smithy|drizzle-orm|better-sqlite3|pg)/' },
    },
    {
      // The demo (demo/) composes the product with stand-ins around it; the product never reaches back.
      name: 'product-does-not-import-demo-or-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(demo|tests)/' },
    },
    {
      // Tests import the demo's stand-ins (tests/support re-exports them), never the other way round.
      name: 'demo-does-not-import-tests',
      severity: 'error',
      from: { path: '^demo/' },
      to: { path: '^tests/' },
    },
    {
      // The build bundles only what ec2-sdk.ts exports (scripts/slim-ec2.cjs): a value taken from the
      // package elsewhere would load all of it again, and be another copy of its classes.
      name: 'ec2-sdk-values-through-ec2-sdk',
      severity: 'error',
      from: { path: '^(src|demo)/', pathNot: '^src/adapters/aws/ec2-sdk\\.ts$' },
      to: { path: '^node_modules/@aws-sdk/client-ec2/', dependencyTypesNot: ['type-only'] },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // A worktree's node_modules is a symlink to another checkout's: keep its paths as node_modules/…,
    // which the rules above name, instead of where the link points.
    preserveSymlinks: true,
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
