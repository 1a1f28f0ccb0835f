/**
 * A valid security-group resource as written in a policy file; tests override one field at a time
 * (`{ ...SG_RESOURCE, maxDuration: '2h' }`, `undefined` removes it).
 */
export const SG_RESOURCE = {
  id: 'prod-db',
  kind: 'security-group',
  region: 'us-east-1',
  securityGroupId: 'sg-0123456789abcdef0',
  ports: [5432],
  maxDuration: '1h',
  channel: 'C0123ABCD',
  approvers: ['@sre'],
} as const;
