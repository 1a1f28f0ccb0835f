/** The EC2 stand-in, shared with `npm run demo` (demo/stand-ins/ec2.ts): one copy for tests and the demo. */
export * from '../../demo/stand-ins/ec2';
