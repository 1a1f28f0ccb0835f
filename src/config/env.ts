import { z } from 'zod';
import type { AuditKey, AuditKeyring } from '../app/audit-ports';
import { parseSourceAddress } from '../domain/cidr';
import { parseDuration } from '../domain/duration';
import type { Ok } from '../domain/result';

/** One heading and the problems under it, e.g. every bad variable of the environment. */
export type ConfigSection = { readonly title: string; readonly problems: readonly string[] };

/** Like the domain `Result`, but a failure carries every problem found, not the first. */
export type ConfigResult<T> = Ok<T> | { readonly ok: false; readonly section: ConfigSection };

/**
 * Start-up stops with this: one message naming each bad field, grouped by where it came from.
 * Messages never contain secret values (tokens, signing secret), only the variable names.
 */
export class ConfigError extends Error {
  readonly sections: readonly ConfigSection[];

  constructor(sections: readonly ConfigSection[]) {
    super(sections.map(formatSection).join('\n'));
    this.name = 'ConfigError';
    this.sections = sections;
  }

  /** Every problem, flattened, in the order reported. */
  get problems(): string[] {
    return this.sections.flatMap((s) => s.problems);
  }
}

const formatSection = (s: ConfigSection): string =>
  [`${s.title}:`, ...s.problems.map((p) => `  - ${p}`)].join('\n');

/** Log levels pino knows; `silent` turns logging off. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_POLICY_PATH = './policy.yml';
export const DEFAULT_DB_PATH = './data/hallpass.db';
export const DEFAULT_PORT = 3000;
/** `HALLPASS_BACKSTOP_GROUP` when unset: the schedule group every account and region has. */
export const DEFAULT_BACKSTOP_GROUP = 'default';

/** `HALLPASS_DEPLOYMENT` when unset. */
export const DEFAULT_DEPLOYMENT = 'default';
/**
 * A deployment's name: 1-32 of a-z 0-9 and `-`, starting with a letter or digit. Short and plain, so it
 * fits an AWS tag value anywhere and reads the same in logs and the console.
 */
export const DEPLOYMENT_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** `HALLPASS_RECONCILE_INTERVAL` when unset: compare AWS with the database every minute. */
export const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
/** Shortest periodic reconciliation allowed: each pass lists every group of the policy, and EC2 throttles. */
export const MIN_RECONCILE_INTERVAL_MS = 10_000;

/** Bounds of `HALLPASS_AWS_TIMEOUT`: under a second fails calls a busy AWS answers; over two minutes holds closes. */
export const MIN_AWS_TIMEOUT_MS = 1_000;
export const MAX_AWS_TIMEOUT_MS = 120_000;

type EnvBase = {
  /** `SLACK_BOT_TOKEN`, `xoxb-…`. Secret: never log it. */
  readonly slackBotToken: string;
  /** `SLACK_API_URL`, always ending in `/` (the form the Slack WebClient expects); unset means Slack's own. */
  readonly slackApiUrl?: string | undefined;
  /** `PORT`; 0 asks the OS for an ephemeral port (tests). */
  readonly port: number;
  /** `HALLPASS_POLICY`. */
  readonly policyPath: string;
  /** `HALLPASS_DB`: a SQLite file path, or a `postgres://` / `postgresql://` URL. */
  readonly dbPath: string;
  /** `HALLPASS_DB_POOL_SIZE`: PostgreSQL connections for queries per replica (default 10). */
  readonly dbPoolSize?: number | undefined;
  /** `HALLPASS_API_RATE_LIMIT`: calls one API token may make per minute (default 120), across replicas. */
  readonly apiCallsPerMinute?: number | undefined;
  /** `LOG_LEVEL`, lowercased. */
  readonly logLevel: LogLevel;
  /**
   * `HALLPASS_RECONCILE_INTERVAL` in ms: pause between periodic reconciliations with AWS; 0 turns the
   * periodic sweep off (start-up still reconciles). Unset: `undefined`, and start-up applies
   * {@link DEFAULT_RECONCILE_INTERVAL_MS}.
   */
  readonly reconcileIntervalMs?: number | undefined;
  /**
   * `HALLPASS_AWS_TIMEOUT` in ms: the longest one attempt of an AWS call may take before it fails and is
   * retried. Unset: `undefined`, and the AWS clients apply their 10 s default.
   */
  readonly awsTimeoutMs?: number | undefined;
  /**
   * `HALLPASS_AUDIT_KEY` (seals new audit events) and `HALLPASS_AUDIT_OLD_KEYS` (verify older ones).
   * Secret: never log it, never store it. Unset: the audit chain is unkeyed (said plainly at start-up).
   */
  readonly auditKeys?: AuditKeyring | undefined;
  /**
   * `HALLPASS_AUDIT_ACCEPT_BROKEN`: the one break in the audit log (the event number start-up named) to
   * accept and put on the record, so hallpass starts anyway. Any other break still stops start-up.
   */
  readonly auditAcceptBroken?: number | undefined;
  /**
   * `HALLPASS_BACKSTOP_ROLE_ARN` and `HALLPASS_BACKSTOP_GROUP`: the role EventBridge Scheduler runs
   * hallpass's backstops with, and the schedule group they live in. Absent: no backstop.
   */
  readonly backstop?: { readonly roleArn: string; readonly group: string } | undefined;
  /**
   * `HALLPASS_DEPLOYMENT`: this deployment's name (production, staging, …), tagged on every rule it
   * opens as `hallpass:deployment`. A deployment reconciles away only its own rules, never another's
   * that share its security groups. Default `default`.
   */
  readonly deployment: string;
  /**
   * `HALLPASS_METRICS`: `on` (default) serves `GET /metrics` (Prometheus text, no authentication, resource
   * ids in its labels) on `PORT`; `off` answers it 404.
   */
  readonly metrics?: 'on' | 'off' | undefined;
  /**
   * `HALLPASS_AWS`: `live` (the default) calls AWS; `dry-run` calls no AWS API at all — every flow runs
   * against real Slack, the AWS calls it would make are logged, and every announcement says it is a dry run.
   */
  readonly aws: AwsMode;
  /**
   * `HALLPASS_PUBLIC_URL`: the public base URL of this hallpass (no trailing `/`), for one-time links
   * (`/access prod-db 30m` without `from` answers a link that records the browser's address). Unset: no links.
   */
  readonly publicUrl?: string | undefined;
  /**
   * `HALLPASS_TRUSTED_PROXIES`: the proxies (IPs or CIDRs) whose `X-Forwarded-For` is believed for the
   * address link. Empty (the default): the socket's peer address is the only one used.
   */
  readonly trustedProxies: readonly string[];
};

/** `HALLPASS_AWS` values. */
export const AWS_MODES = ['live', 'dry-run'] as const;
export type AwsMode = (typeof AWS_MODES)[number];

/**
 * The validated environment. `mode` is `socket` exactly when `SLACK_APP_TOKEN` is set; in HTTP mode the
 * signing secret is guaranteed present. Both secrets are secret: never log them.
 */
export type Env = EnvBase &
  (
    | { readonly mode: 'http'; readonly slackSigningSecret: string; readonly slackAppToken?: undefined }
    | {
        readonly mode: 'socket';
        readonly slackAppToken: string;
        readonly slackSigningSecret?: string | undefined;
      }
  );

/** The variables we read, in the order problems are reported. */
const KEYS = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'SLACK_API_URL',
  'PORT',
  'HALLPASS_POLICY',
  'HALLPASS_DB',
  'HALLPASS_DB_POOL_SIZE',
  'HALLPASS_API_RATE_LIMIT',
  'LOG_LEVEL',
  'HALLPASS_RECONCILE_INTERVAL',
  'HALLPASS_AWS_TIMEOUT',
  'HALLPASS_AUDIT_KEY',
  'HALLPASS_AUDIT_OLD_KEYS',
  'HALLPASS_AUDIT_ACCEPT_BROKEN',
  'HALLPASS_BACKSTOP_ROLE_ARN',
  'HALLPASS_BACKSTOP_GROUP',
  'HALLPASS_DEPLOYMENT',
  'HALLPASS_METRICS',
  'HALLPASS_AWS',
  'HALLPASS_PUBLIC_URL',
  'HALLPASS_TRUSTED_PROXIES',
] as const;
type Key = (typeof KEYS)[number];

const REQUIRED = 'required';

/** How an audit key is written, for error messages (never with the value given). */
const AUDIT_KEY_FORM =
  'must be <id>:<base64 of at least 32 random bytes>, e.g. 2026a:$(openssl rand -base64 32); the id is 1-32 of A-Z a-z 0-9 . _ -';

const AUDIT_KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/;
/** 256 bits: as much as HMAC-SHA-256 can use. */
export const MIN_AUDIT_KEY_BYTES = 32;

/** `<id>:<base64>` as an audit key, or `undefined` when it is not one. */
export function parseAuditKey(text: string): AuditKey | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const id = text.slice(0, colon);
  const encoded = text.slice(colon + 1).trim();
  if (!AUDIT_KEY_ID.test(id) || !BASE64.test(encoded)) return undefined;
  const secret = Buffer.from(
    encoded,
    encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64',
  );
  return secret.length >= MIN_AUDIT_KEY_BYTES ? { id, secret } : undefined;
}

/** The keyring the two variables describe, or `undefined` when neither is set. */
function auditKeyringOf(current: string | undefined, old: string | undefined): AuditKeyring | undefined {
  if (current === undefined) return undefined;
  const key = parseAuditKey(current);
  if (key === undefined) return undefined;
  const olds = (old?.split(',') ?? [])
    .map((one) => parseAuditKey(one.trim()))
    .filter((k): k is AuditKey => k !== undefined);
  return { current: key, old: olds };
}

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
};

// Every message below is fixed text: a zod default message could one day include the input, and the input
// may be a secret.
const EnvSchema = z
  .object({
    SLACK_BOT_TOKEN: z
      .string({ error: REQUIRED })
      .startsWith('xoxb-', { error: 'must be a bot token (starts with xoxb-)' }),
    SLACK_SIGNING_SECRET: z.string().optional(),
    SLACK_APP_TOKEN: z
      .string()
      .startsWith('xapp-', { error: 'must be an app-level token (starts with xapp-)' })
      .optional(),
    SLACK_API_URL: z
      .string()
      .refine(isHttpUrl, { error: 'must be an http(s) URL' })
      .transform((url) => (url.endsWith('/') ? url : `${url}/`))
      .optional(),
    PORT: z
      .string()
      .regex(/^\d{1,5}$/, { error: 'must be an integer between 0 and 65535' })
      .transform(Number)
      .refine((n) => n <= 65535, { error: 'must be an integer between 0 and 65535' })
      .default(DEFAULT_PORT),
    HALLPASS_POLICY: z.string().default(DEFAULT_POLICY_PATH),
    HALLPASS_DB: z.string().default(DEFAULT_DB_PATH),
    HALLPASS_DB_POOL_SIZE: z
      .string()
      .regex(/^\d{1,3}$/, { error: 'must be a whole number of connections between 1 and 100' })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 100, { error: 'must be a whole number of connections between 1 and 100' })
      .optional(),
    HALLPASS_API_RATE_LIMIT: z
      .string()
      .regex(/^\d{1,5}$/, { error: 'must be a whole number of calls per minute between 1 and 10000' })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 10_000, {
        error: 'must be a whole number of calls per minute between 1 and 10000',
      })
      .optional(),
    LOG_LEVEL: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }))
      .default('info'),
    HALLPASS_RECONCILE_INTERVAL: z
      .string()
      .transform((text) => parseDuration(text) ?? -1)
      .refine((ms) => ms === 0 || ms >= MIN_RECONCILE_INTERVAL_MS, {
        error: 'must be a duration of at least 10s, such as 60s or 5m, or 0s to turn the periodic sweep off',
      })
      .optional(),
    HALLPASS_AWS_TIMEOUT: z
      .string()
      .transform((text) => parseDuration(text) ?? -1)
      .refine((ms) => ms >= MIN_AWS_TIMEOUT_MS && ms <= MAX_AWS_TIMEOUT_MS, {
        error: 'must be a duration from 1s to 2m, such as 10s or 30s',
      })
      .optional(),
    HALLPASS_AUDIT_KEY: z
      .string()
      .refine((text) => parseAuditKey(text) !== undefined, { error: AUDIT_KEY_FORM })
      .optional(),
    HALLPASS_AUDIT_OLD_KEYS: z
      .string()
      .refine((text) => text.split(',').every((one) => parseAuditKey(one.trim()) !== undefined), {
        error: `must be a comma-separated list of old keys, each ${AUDIT_KEY_FORM.replace('must be ', '')}`,
      })
      .optional(),
    HALLPASS_BACKSTOP_ROLE_ARN: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, {
        error: 'must be an IAM role ARN (arn:aws:iam::123456789012:role/hallpass-backstop)',
      })
      .optional(),
    HALLPASS_BACKSTOP_GROUP: z
      .string()
      .regex(/^[0-9a-zA-Z._-]{1,64}$/, {
        error: 'must be an EventBridge Scheduler schedule group name (1-64 of 0-9 a-z A-Z . _ -)',
      })
      .optional(),
    HALLPASS_DEPLOYMENT: z
      .string()
      .regex(DEPLOYMENT_NAME, {
        error:
          'must be a short name: 1-32 of a-z 0-9 and -, starting with a letter or digit (e.g. production)',
      })
      .default(DEFAULT_DEPLOYMENT),
    HALLPASS_METRICS: z.enum(['on', 'off'], { error: 'must be on or off' }).optional(),
    HALLPASS_AWS: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(AWS_MODES, { error: `must be ${AWS_MODES.join(' or ')}` }))
      .default('live'),
    HALLPASS_PUBLIC_URL: z
      .url({
        protocol: /^https?$/,
        error:
          'must be the http(s) URL hallpass is reached at from browsers, e.g. https://hallpass.example.com',
      })
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    HALLPASS_TRUSTED_PROXIES: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((one) => one.trim())
          .filter((one) => one !== ''),
      )
      .refine((list) => list.every((one) => parseSourceAddress(one).ok), {
        error: 'must be IP addresses or CIDRs separated by commas, e.g. 10.0.0.0/8,192.0.2.10',
      })
      .optional(),
    HALLPASS_AUDIT_ACCEPT_BROKEN: z
      .string()
      .regex(/^[1-9]\d{0,14}$/, {
        error: 'must be the number of the event where the audit log breaks, as start-up named it (e.g. 1234)',
      })
      .transform(Number)
      .optional(),
  })
  .superRefine(
    (v, ctx) => {
      const current = v.HALLPASS_AUDIT_KEY === undefined ? undefined : parseAuditKey(v.HALLPASS_AUDIT_KEY);
      const old = (v.HALLPASS_AUDIT_OLD_KEYS?.split(',') ?? []).map((one) => parseAuditKey(one.trim()));
      if (v.HALLPASS_BACKSTOP_GROUP !== undefined && v.HALLPASS_BACKSTOP_ROLE_ARN === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['HALLPASS_BACKSTOP_GROUP'],
          message: 'needs HALLPASS_BACKSTOP_ROLE_ARN too: without the role there is no backstop',
        });
      }
      if (v.HALLPASS_AUDIT_OLD_KEYS !== undefined && v.HALLPASS_AUDIT_KEY === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['HALLPASS_AUDIT_OLD_KEYS'],
          message:
            'needs HALLPASS_AUDIT_KEY too: old keys only verify older events, new events need the current key',
        });
      }
      // Key ids are not secret (they are stored on every event); the keys are, and are never echoed.
      const ids = [current, ...old].filter((k) => k !== undefined).map((k) => k.id);
      const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
      if (repeated !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['HALLPASS_AUDIT_OLD_KEYS'],
          message: `key id ${JSON.stringify(repeated)} is used twice: give every audit key its own id`,
        });
      }
      if (v.SLACK_APP_TOKEN === undefined && v.SLACK_SIGNING_SECRET === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['SLACK_SIGNING_SECRET'],
          message: 'required in HTTP mode (set SLACK_APP_TOKEN to use Socket Mode instead)',
        });
      }
    },
    // Run even when a field failed, so this problem is reported together with the others.
    { when: () => true },
  );

/**
 * Only our variables, trimmed; an empty value counts as unset, so a copied `.env.example` with blank
 * secrets reads as "required", and a blank `SLACK_APP_TOKEN=` does not switch to Socket Mode.
 */
function pick(env: NodeJS.ProcessEnv): Partial<Record<Key, string>> {
  const out: Partial<Record<Key, string>> = {};
  for (const key of KEYS) {
    const value = env[key]?.trim();
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/** The policy path the environment names, valid or not, so the policy can be checked even when other variables are bad. */
export const policyPathOf = (env: NodeJS.ProcessEnv): string =>
  pick(env).HALLPASS_POLICY ?? DEFAULT_POLICY_PATH;

/**
 * Validates the environment (pass `process.env`, or a literal in tests). Every bad variable is reported,
 * by name, in one failure; values are never echoed.
 */
export function loadEnv(env: NodeJS.ProcessEnv): ConfigResult<Env> {
  const parsed = EnvSchema.safeParse(pick(env));
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => ({ key: String(issue.path[0] ?? ''), message: issue.message }))
      .sort((a, b) => KEYS.indexOf(a.key as Key) - KEYS.indexOf(b.key as Key))
      .map(({ key, message }) => `${key}: ${message}`);
    return { ok: false, section: { title: 'Invalid configuration', problems } };
  }
  const v = parsed.data;
  const base: EnvBase = {
    slackBotToken: v.SLACK_BOT_TOKEN,
    slackApiUrl: v.SLACK_API_URL,
    port: v.PORT,
    policyPath: v.HALLPASS_POLICY,
    dbPath: v.HALLPASS_DB,
    dbPoolSize: v.HALLPASS_DB_POOL_SIZE,
    apiCallsPerMinute: v.HALLPASS_API_RATE_LIMIT,
    logLevel: v.LOG_LEVEL,
    reconcileIntervalMs: v.HALLPASS_RECONCILE_INTERVAL,
    awsTimeoutMs: v.HALLPASS_AWS_TIMEOUT,
    auditKeys: auditKeyringOf(v.HALLPASS_AUDIT_KEY, v.HALLPASS_AUDIT_OLD_KEYS),
    auditAcceptBroken: v.HALLPASS_AUDIT_ACCEPT_BROKEN,
    backstop:
      v.HALLPASS_BACKSTOP_ROLE_ARN === undefined
        ? undefined
        : {
            roleArn: v.HALLPASS_BACKSTOP_ROLE_ARN,
            group: v.HALLPASS_BACKSTOP_GROUP ?? DEFAULT_BACKSTOP_GROUP,
          },
    deployment: v.HALLPASS_DEPLOYMENT,
    metrics: v.HALLPASS_METRICS,
    aws: v.HALLPASS_AWS,
    publicUrl: v.HALLPASS_PUBLIC_URL,
    trustedProxies: v.HALLPASS_TRUSTED_PROXIES ?? [],
  };
  if (v.SLACK_APP_TOKEN !== undefined) {
    return {
      ok: true,
      value: {
        ...base,
        mode: 'socket',
        slackAppToken: v.SLACK_APP_TOKEN,
        slackSigningSecret: v.SLACK_SIGNING_SECRET,
      },
    };
  }
  // The refinement above guarantees the secret in HTTP mode; checked again so the type follows.
  if (v.SLACK_SIGNING_SECRET === undefined)
    throw new Error('unreachable: HTTP mode without a signing secret');
  return { ok: true, value: { ...base, mode: 'http', slackSigningSecret: v.SLACK_SIGNING_SECRET } };
}
