import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { DEFAULT_VISIBILITY, DEFAULTS, type Policy, type Resource } from '../../domain/policy';
import { ConfigError, type ConfigResult } from '../env';
import { describe, problemsOf } from './issues';
import { type PolicyInput, policySchema, type ResourceInput } from './schema';

function toResource(r: ResourceInput, fallbackTimeout: number): Resource {
  const base = {
    id: r.id,
    description: r.description,
    region: r.region,
    channel: r.channel,
    requesters: r.requesters,
    allowGuests: r.allowGuests,
    allowExternal: r.allowExternal,
    approvers: r.approvers,
    approvals: r.approvals,
    autoApprove: r.autoApprove,
    allowSelfApproval: r.allowSelfApproval,
    minDuration: r.minDuration ?? DEFAULTS.minDuration,
    maxDuration: r.maxDuration,
    defaultDuration: r.defaultDuration,
    approvalTimeout: r.approvalTimeout ?? fallbackTimeout,
    breakGlass: r.breakGlass,
    breakGlassMaxDuration: r.breakGlassMaxDuration ?? DEFAULTS.breakGlassMaxDuration,
    ...(r.automation === undefined
      ? {}
      : {
          automation: {
            autoApproveWithin: r.automation.autoApproveWithin,
            agents:
              r.automation.agents === undefined
                ? undefined
                : {
                    autoApproveWithin: r.automation.agents.autoApproveWithin,
                    maxDuration: r.automation.agents.maxDuration,
                  },
          },
        }),
  };
  if (r.kind === 'aws-role') return { ...base, kind: 'aws-role', roleArn: r.roleArn };
  return {
    ...base,
    kind: 'security-group',
    securityGroupId: r.securityGroupId,
    protocol: r.protocol,
    ports: r.ports,
    maxPrefix: { 4: r.maxPrefix, 6: r.maxPrefixV6 },
    assumeRoleArn: r.assumeRoleArn,
    backstopGrace: r.backstopGrace,
    backstopRoleArn: r.backstopRoleArn,
    cutConnections: r.cutConnections === 'nacl' ? 'nacl' : undefined,
  };
}

/** The checked file → the domain's `Policy`, with the defaults filled in. */
function toPolicy(p: PolicyInput): Policy {
  const approvalTimeout = p.approvalTimeout ?? DEFAULTS.approvalTimeout;
  return {
    visibility: p.visibility ?? DEFAULT_VISIBILITY,
    admins: p.admins,
    trustedWorkspaces: p.trustedWorkspaces,
    approvalTimeout,
    warnBefore: p.warnBefore ?? DEFAULTS.warnBefore,
    auditChannel: p.auditChannel,
    alertsChannel: p.alertsChannel,
    auditHeadInterval: p.auditHeadInterval,
    backstopGrace: p.backstopGrace,
    naclRuleNumbers: p.naclRuleNumbers,
    naclHold: p.naclHold,
    naclEntryLimit: p.naclEntryLimit,
    warnEstablishedAbove: p.warnEstablishedAbove,
    resources: p.resources.map((r) => toResource(r, approvalTimeout)),
  };
}

/**
 * Parses and validates a policy file's text, reporting every problem at once. `source` names the file in
 * the failure's title.
 */
export function checkPolicy(yamlText: string, source = 'policy.yml'): ConfigResult<Policy> {
  const fail = (problems: string[]): ConfigResult<Policy> => ({
    ok: false,
    section: { title: `Invalid policy file ${source}`, problems },
  });
  // uniqueKeys (the default) makes a repeated key an error instead of the last one silently winning.
  const doc = parseDocument(yamlText, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return fail(doc.errors.map((e) => `YAML: ${(e.message.split('\n')[0] ?? e.message).replace(/:$/, '')}`));
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    // e.g. an alias to an anchor defined later
    return fail([`YAML: ${e instanceof Error ? e.message : String(e)}`]);
  }
  if (raw === null || raw === undefined) return fail(['the file is empty; see policy.example.yml']);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return fail([`must be a mapping with admins, approvalTimeout and resources, not ${describe(raw)}`]);
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) return fail(parsed.error.issues.flatMap((issue) => problemsOf(issue, raw)));
  return { ok: true, value: toPolicy(parsed.data) };
}

/** Parses a policy file's text; throws a `ConfigError` listing every problem. */
export function parsePolicy(yamlText: string, source = 'policy.yml'): Policy {
  const result = checkPolicy(yamlText, source);
  if (!result.ok) throw new ConfigError([result.section]);
  return result.value;
}

/** Reads and checks the policy file at `path`; a missing file says where it was looked for. */
export function readPolicy(path: string): ConfigResult<Policy> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const where = resolve(path) === path ? path : `${path} (resolved to ${resolve(path)})`;
    const problem =
      code === 'ENOENT'
        ? `file not found: ${where}; copy policy.example.yml there and edit it, or set HALLPASS_POLICY`
        : `cannot read ${where}: ${code ?? (e instanceof Error ? e.message : String(e))}`;
    return { ok: false, section: { title: `Invalid policy file ${path}`, problems: [problem] } };
  }
  return checkPolicy(text, path);
}

/** Reads and parses the policy file at `path`; throws a `ConfigError` listing every problem. */
export function loadPolicy(path: string): Policy {
  const result = readPolicy(path);
  if (!result.ok) throw new ConfigError([result.section]);
  return result.value;
}
