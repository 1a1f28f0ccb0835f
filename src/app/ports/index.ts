/** The ports: what the use cases need from the outside world, one file per port. */

export * from './address-link-store';
export * from './audit-log';
export * from './backstops';
export * from './directory';
export * from './due-query';
export * from './faults';
export * from './follow-ups';
export * from './grant-store';
export * from './metrics';
export * from './network-access';
export * from './network-acls';
export * from './notifier';
export * from './outbox-store';
export * from './pacing';
export * from './request-store';
export * from './role-sessions';
export * from './rule-store';
export * from './shared-state';
export * from './system';
export * from './token-store';
export * from './unit-of-work';
