/**
 * What the SQLite schema (`schema.ts`) and the PostgreSQL schema (`pg-schema.ts`) share, written once
 * so the two engines cannot drift apart on it: the closed value lists (kept equal to the domain's
 * unions at compile time), every CHECK constraint — name and expression — and the predicates of the
 * partial unique indexes. Each schema turns these into its own dialect's `check(...)` / `.where(...)`;
 * the expressions are plain SQL both engines read the same way.
 */
import { type Column, type SQL, sql } from 'drizzle-orm';
import type { CutState } from '../../app/ports';
import type { EndReason, GrantState } from '../../domain/grant';
import type { RequestState } from '../../domain/request';

/** Every request state; the compile-time checks below keep it equal to the domain's union. */
export const REQUEST_STATES = ['pending', 'approved', 'denied', 'cancelled', 'timed_out', 'failed'] as const;
/** Every grant state. */
export const GRANT_STATES = ['opening', 'active', 'closing', 'closed', 'failed'] as const;
/** Why a grant ended. */
export const END_REASONS = ['expired', 'revoked', 'done', 'failed'] as const;
/** Grant states that hold (or are about to hold, or are still releasing) AWS access. */
export const LIVE_GRANT_STATES = ['opening', 'active', 'closing'] as const satisfies readonly GrantState[];
/** What a request asks for: new access, or more time on a grant. */
export const REQUEST_KINDS = ['access', 'extension'] as const;
/** The protocols an ingress rule (and a connection cut) can name. */
export const PROTOCOLS = ['tcp', 'udp'] as const;

/** Where a connection cut stands (see `connectionCuts` in `schema.ts`). */
export const CUT_STATES = [
  'planned',
  'adding',
  'in_place',
  'removing',
  'removed',
  'refused',
] as const satisfies readonly CutState[];
/** Cut states whose ACL entry exists (or is being made or removed) in AWS: its rule number is taken. */
export const HOLDING_CUT_STATES = ['adding', 'in_place', 'removing'] as const satisfies readonly CutState[];

/** What an outbox row delivers. */
export const DELIVERY_KINDS = ['card-post', 'card-update', 'thread', 'dm', 'channel'] as const;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when a domain union gains or loses a member the schema does not know about.
const statesMatch: [
  Same<(typeof REQUEST_STATES)[number], RequestState>,
  Same<(typeof GRANT_STATES)[number], GrantState>,
  Same<(typeof END_REASONS)[number], EndReason>,
  Same<(typeof CUT_STATES)[number], CutState>,
] = [true, true, true, true];
void statesMatch;

/** `'a', 'b'` for a CHECK … IN (…) list; the values are our own constants, never user input. */
const inList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

/** A named CHECK constraint, for either dialect's `check(name, expression)`. */
export type CheckRule = readonly [name: string, expression: SQL];

/** The CHECKs of `requests`. */
export const requestsChecks = (t: {
  state: Column;
  sourceCidr: Column;
  sourceFamily: Column;
  sourcePrefix: Column;
  messageChannel: Column;
  messageTs: Column;
}): CheckRule[] => [
  ['requests_state_check', sql`${t.state} IN (${inList(REQUEST_STATES)})`],
  [
    'requests_source_check',
    sql`(${t.sourceCidr} IS NULL AND ${t.sourceFamily} IS NULL AND ${t.sourcePrefix} IS NULL) OR (${t.sourceCidr} IS NOT NULL AND ${t.sourceFamily} IN (4, 6) AND ${t.sourcePrefix} IS NOT NULL)`,
  ],
  ['requests_message_check', sql`(${t.messageChannel} IS NULL) = (${t.messageTs} IS NULL)`],
];

/** The CHECKs of `grants`. */
export const grantsChecks = (t: { state: Column; endReason: Column }): CheckRule[] => [
  ['grants_state_check', sql`${t.state} IN (${inList(GRANT_STATES)})`],
  ['grants_end_reason_check', sql`${t.endReason} IS NULL OR ${t.endReason} IN (${inList(END_REASONS)})`],
];

/** The CHECKs of `rule_holds`: `managed` is a 0 / 1 flag on both engines. */
export const ruleHoldsChecks = (t: { protocol: Column; managed: Column }): CheckRule[] => [
  ['rule_holds_protocol_check', sql`${t.protocol} IN (${inList(PROTOCOLS)})`],
  ['rule_holds_managed_check', sql`${t.managed} IN (0, 1)`],
];

/** The CHECKs of `connection_cuts`. */
export const connectionCutsChecks = (t: { state: Column }): CheckRule[] => [
  ['connection_cuts_state_check', sql`${t.state} IN (${inList(CUT_STATES)})`],
];

/** `rule_holds_live_uq` covers only holds not yet released. */
export const unreleasedHold = (releasedAt: Column): SQL => sql`${releasedAt} IS NULL`;

/** `connection_cuts_entry_uq` covers only cuts whose ACL entry holds its rule number. */
export const holdingCut = (state: Column): SQL => sql`${state} IN (${inList(HOLDING_CUT_STATES)})`;
