/** The STS and IAM stand-in, shared with `npm run demo` (demo/stand-ins/sts-iam.ts): one copy for tests and the demo. */
export * from '../../demo/stand-ins/sts-iam';
