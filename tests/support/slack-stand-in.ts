/** The Slack Web API stand-in, shared with `npm run demo` (demo/stand-ins/slack.ts): one copy for tests and the demo. */
export * from '../../demo/stand-ins/slack';
