import { z } from 'zod';
import { RESERVED_WORDS } from '../../domain/command';
import { formatDuration, parseDuration } from '../../domain/duration';
import { DEFAULTS, type PortRange } from '../../domain/policy';

/*
 * The policy file is a security boundary: every field is checked, unknown keys are errors (a typo such as
 * `aproverss` must not silently leave a resource open to anyone), and every problem is reported at once with
 * its path, e.g. `resources[0].ports[1]: "80-70" is not a port or a range low-high within 1-65535`.
 */

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const GROUP_HANDLE = /^@[a-z0-9][a-z0-9._-]*$/i;
// At most 64 characters: `/access` parses no longer resource names (src/domain/command.ts).
const RESOURCE_ID = /^[a-z0-9-]{1,64}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const CHANNEL = /^[CG][A-Z0-9]{2,}$/;
// A Slack workspace (T…) or Enterprise Grid organisation (E…) id.
const WORKSPACE_ID = /^[TE][A-Z0-9]{2,}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const PORT_RANGE = /^(\d{1,5})\s*-\s*(\d{1,5})$/;

const MAX_ROLE_SESSION = 12 * 3_600_000;

/** How a YAML value reads in a message: strings quoted, so `"80-70"` and `80` are told apart. */
export const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

const isUserId = (p: string): boolean => USER_ID.test(p);

const principal = z.string().refine((p) => isUserId(p) || GROUP_HANDLE.test(p), {
  error: (iss) => `${show(iss.input)} is not a Slack user id (U…/W…) or a user-group handle (@name)`,
});
const principals = z.array(principal);

/** A duration as users type it (`90s`, `1h30m`) → milliseconds, never zero. */
const durationOf = (allowZero: boolean) =>
  z.unknown().transform((v, ctx): number => {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (v === undefined) ctx.addIssue({ code: 'custom', message: 'required' });
    else if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${show(v)} is not a duration (write e.g. 90s, 15m, 1h, 1h30m)`,
      });
    } else if (ms === 0 && !allowZero) ctx.addIssue({ code: 'custom', message: 'must be longer than zero' });
    return ms ?? 0;
  });
const duration = durationOf(false);
/**
 * A backstop's grace: at least a minute (EventBridge Scheduler fires within the minute, and hallpass's
 * own close comes first), at most a day.
 */
const backstopGrace = duration.refine((ms) => ms >= 60_000 && ms <= 86_400_000, {
  error: 'must be between 1m and 24h',
});

const validPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

/** `5432`, `"5432"` or `"8000-8080"` → an inclusive range. */
function toPortRange(v: unknown): PortRange | undefined {
  if (typeof v === 'number') return validPort(v) ? { from: v, to: v } : undefined;
  if (typeof v !== 'string') return undefined;
  const text = v.trim();
  if (/^\d{1,5}$/.test(text)) return toPortRange(Number(text));
  const m = PORT_RANGE.exec(text);
  if (m === null) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  return validPort(from) && validPort(to) && from <= to ? { from, to } : undefined;
}

const port = z.unknown().transform((v, ctx): PortRange => {
  const range = toPortRange(v);
  if (range === undefined) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is not a port or a range low-high within 1-65535` });
    return { from: 0, to: 0 };
  }
  return range;
});

const intBetween = (min: number, max: number) =>
  z.number().refine((n) => Number.isInteger(n) && n >= min && n <= max, {
    error: (iss) => `${show(iss.input)} must be an integer between ${min} and ${max}`,
  });

const pattern = (re: RegExp, what: string) =>
  z.string().regex(re, { error: (iss) => `${show(iss.input)} is not ${what}` });

const roleArn = pattern(ROLE_ARN, 'an IAM role ARN (arn:aws:iam::123456789012:role/Name)');

const common = {
  id: z
    .string()
    .regex(RESOURCE_ID, {
      error: (iss) => `${show(iss.input)} must be 1-64 characters of a-z, 0-9 and -`,
    })
    .refine((id) => !(RESERVED_WORDS as readonly string[]).includes(id), {
      error: (iss) => `${show(iss.input)} is reserved (a subcommand of /access)`,
    }),
  description: z.string().min(1, { error: 'must not be empty (omit it instead)' }).optional(),
  region: pattern(REGION, 'an AWS region (like us-east-1)'),
  channel: pattern(CHANNEL, 'a Slack channel id (C… or G…)'),
  // An empty list would lock everyone out; absence is how "anyone" is written.
  requesters: principals.min(1, { error: 'must not be empty (omit it to let anyone ask)' }).optional(),
  /**
   * Guests (`is_restricted` / `is_ultra_restricted` in Slack) count for this resource — as "anyone"
   * when `requesters` is absent, and through the lists or groups that name them. Default false: a
   * guest is refused (GUEST_NOT_ALLOWED) even when named.
   */
  allowGuests: z.boolean().default(false),
  /**
   * Users of another workspace or organisation — Slack Connect users, or anyone acting from a team
   * that is neither the installed one nor in `trustedWorkspaces` — count for this resource, as
   * `allowGuests`. Default false (EXTERNAL_NOT_ALLOWED).
   */
  allowExternal: z.boolean().default(false),
  approvers: principals.default([]),
  approvals: z
    .number()
    .refine((n) => Number.isInteger(n) && n >= 1, {
      error: (iss) => `${show(iss.input)} must be a whole number, at least 1`,
    })
    .default(DEFAULTS.approvals),
  autoApprove: z.boolean().default(false),
  allowSelfApproval: z.boolean().default(false),
  maxDuration: duration,
  minDuration: duration.optional(),
  defaultDuration: duration.optional(),
  approvalTimeout: duration.optional(),
  breakGlass: z.boolean().default(false),
  breakGlassMaxDuration: duration.optional(),
  /**
   * Automations (API tokens) and AI agents on this resource: `autoApproveWithin` lets a token's own
   * `--auto-approve-within` approve its requests of at most this long; agents auto-approve only where
   * `agents.autoApproveWithin` says so, and their windows are capped at `agents.maxDuration` (default 15m).
   */
  automation: z
    .strictObject({
      autoApproveWithin: duration.optional(),
      agents: z
        .strictObject({ autoApproveWithin: duration.optional(), maxDuration: duration.optional() })
        .optional(),
    })
    .optional(),
};

export const securityGroup = z.strictObject({
  kind: z.literal('security-group'),
  ...common,
  securityGroupId: pattern(SECURITY_GROUP_ID, 'a security group id (sg- and 8 to 17 hex digits)'),
  protocol: z
    .enum(['tcp', 'udp'], { error: (iss) => `${show(iss.input)} must be tcp or udp` })
    .default('tcp'),
  ports: z.array(port).min(1, { error: 'must list at least one port' }),
  maxPrefix: intBetween(1, 32).default(DEFAULTS.maxPrefix[4]),
  maxPrefixV6: intBetween(1, 128).default(DEFAULTS.maxPrefix[6]),
  assumeRoleArn: roleArn.optional(),
  backstopGrace: backstopGrace.optional(),
  backstopRoleArn: roleArn.optional(),
  cutConnections: z
    .enum(['none', 'nacl'], { error: (iss) => `${show(iss.input)} must be nacl or none` })
    .optional(),
});

export const awsRole = z.strictObject({ kind: z.literal('aws-role'), ...common, roleArn });

/** A resource as zod sees it while checking: fields that failed keep their raw YAML value. */
type Loose = {
  readonly [K in
    | 'id'
    | 'kind'
    | 'minDuration'
    | 'maxDuration'
    | 'defaultDuration'
    | 'autoApprove'
    | 'approvers'
    | 'approvals']?: unknown;
};

const resource = z.discriminatedUnion('kind', [securityGroup, awsRole]).superRefine(
  (value, ctx) => {
    const r: Loose = value;
    const num = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
    const max = num(r.maxDuration);
    const def = r.defaultDuration === undefined ? undefined : num(r.defaultDuration);
    const minGiven = r.minDuration !== undefined;
    const min = minGiven ? num(r.minDuration) : DEFAULTS.minDuration;
    const d = (ms: number) => formatDuration(ms);

    if (min !== undefined && max !== undefined && min > max) {
      ctx.addIssue(
        minGiven
          ? {
              code: 'custom',
              path: ['minDuration'],
              message: `${d(min)} is longer than maxDuration ${d(max)}`,
            }
          : {
              code: 'custom',
              path: ['maxDuration'],
              message: `${d(max)} is shorter than minDuration (default ${d(min)}); set minDuration too`,
            },
      );
    }
    if (def !== undefined && min !== undefined && def < min) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultDuration'],
        message: `${d(def)} is shorter than minDuration ${d(min)}`,
      });
    }
    if (def !== undefined && max !== undefined && def > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultDuration'],
        message: `${d(def)} is longer than maxDuration ${d(max)}`,
      });
    }

    // STS refuses sessions longer than 12 hours whatever the role allows.
    if (r.kind === 'aws-role' && max !== undefined && max > MAX_ROLE_SESSION) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxDuration'],
        message: `${d(max)} is longer than the ${d(MAX_ROLE_SESSION)} an STS role session can last`,
      });
    }

    if (r.autoApprove === true) return;
    const approvers = r.approvers;
    if (!Array.isArray(approvers)) return;
    if (approvers.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'required unless autoApprove: true' });
      return;
    }
    // Only a list of plain user ids has a known size; a group may have any number of members.
    const approvals = r.approvals;
    const strings = approvers.filter((p): p is string => typeof p === 'string');
    if (typeof approvals === 'number' && strings.length === approvers.length && strings.every(isUserId)) {
      const distinct = new Set(strings).size;
      if (approvals > distinct) {
        ctx.addIssue({
          code: 'custom',
          path: ['approvals'],
          message: `${approvals} approvals needed but approvers names only ${distinct} user${distinct === 1 ? '' : 's'}`,
        });
      }
    }
  },
  // Run even when some field failed, so every problem is reported in one pass; the checks above skip
  // anything that did not parse.
  { when: () => true },
);

const audience = z.enum(['involved', 'everyone'], {
  error: 'must be involved (the requester, the approvers and the admins) or everyone',
});

/** Who sees addresses and reasons in the workspace-wide lists (App Home, `/access list`). */
const visibility = z.strictObject({
  addresses: audience.default('involved'),
  reasons: audience.default('involved'),
});

export const policySchema = z
  .strictObject({
    visibility: visibility.optional(),
    admins: principals.default([]),
    /**
     * Other workspaces (`T…`) or Enterprise Grid organisations (`E…`) whose full members count as
     * members, as those of the installed workspace (or organisation) always do. Their guests are
     * still guests. Default: none.
     */
    trustedWorkspaces: z
      .array(pattern(WORKSPACE_ID, 'a Slack workspace id (T…) or organisation id (E…)'))
      .default([]),
    approvalTimeout: duration.optional(),
    // 0s turns warnings off.
    warnBefore: durationOf(true).optional(),
    /** Where hallpass publishes the audit log's head: a channel the database cannot rewrite. */
    auditChannel: pattern(CHANNEL, 'a Slack channel id (C… or G…)').optional(),
    /** Where every alert is posted too (failing closes, stranded grants, reconciliation findings). */
    alertsChannel: pattern(CHANNEL, 'a Slack channel id (C… or G…)').optional(),
    /** How often the head is published there (exports publish it too); at least 1m. Default: 24h. */
    auditHeadInterval: duration.refine((ms) => ms >= 60_000, { error: 'must be at least 1m' }).optional(),
    /** How long after a grant's end AWS's backstop revokes its rules. Default: 2m. */
    backstopGrace: backstopGrace.optional(),
    /** Network-ACL rule numbers reserved for hallpass's deny entries, `low-high` within 1-32766. */
    naclRuleNumbers: z
      .unknown()
      .transform((v, ctx) => {
        const m = typeof v === 'string' ? /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(v.trim()) : null;
        const from = Number(m?.[1]);
        const to = Number(m?.[2]);
        if (m === null || from < 1 || to > 32766 || from > to) {
          ctx.addIssue({
            code: 'custom',
            message: `${show(v)} is not a range of network ACL rule numbers low-high within 1-32766 (e.g. "100-119")`,
          });
        }
        return { from, to };
      })
      .optional(),
    naclHold: duration.refine((ms) => ms >= 60_000, { error: 'must be at least 1m' }).optional(),
    naclEntryLimit: intBetween(1, 40).optional(),
    warnEstablishedAbove: duration.optional(),
    resources: z.array(resource).min(1, { error: 'must list at least one resource' }),
  })
  .superRefine(
    (value, ctx) => {
      const resources: unknown = value.resources;
      if (!Array.isArray(resources)) return;
      const cutting = resources.findIndex(
        (r: unknown) =>
          typeof r === 'object' &&
          r !== null &&
          (r as { cutConnections?: unknown }).cutConnections === 'nacl',
      );
      if (cutting >= 0 && value.naclRuleNumbers === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['naclRuleNumbers'],
          message: `is required by resources[${cutting}].cutConnections: nacl — reserve a range of network ACL rule numbers for hallpass's deny entries, lower than your own allow entries (e.g. "100-119")`,
        });
      }
      const firstIndex = new Map<string, number>();
      resources.forEach((r: unknown, i) => {
        const id = typeof r === 'object' && r !== null ? (r as Loose).id : undefined;
        if (typeof id !== 'string') return;
        const first = firstIndex.get(id);
        if (first === undefined) firstIndex.set(id, i);
        else {
          ctx.addIssue({
            code: 'custom',
            path: ['resources', i, 'id'],
            message: `${show(id)} is already used by resources[${first}]`,
          });
        }
      });
    },
    { when: () => true },
  );

export type PolicyInput = z.output<typeof policySchema>;
export type ResourceInput = z.output<typeof resource>;
