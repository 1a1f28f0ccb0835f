/**
 * The policy file: its schema (schema.ts), the messages for what is wrong in it (issues.ts), and the
 * entry points that read and check it (load.ts).
 */

export { checkPolicy, loadPolicy, parsePolicy, readPolicy } from './load';
