/** Signed Slack requests, shared with `npm run demo` (demo/stand-ins/signing.ts): one copy for tests and the demo. */
export * from '../../demo/stand-ins/signing';
