import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * An in-memory EC2 that keeps security-group ingress rules the way EC2 does, served over HTTP and
 * speaking the EC2 Query protocol the real SDK sends (form-encoded POST, `Action=…&Version=2016-11-15`,
 * XML answers). Point a real `EC2Client` at `url` (or set `AWS_ENDPOINT_URL_EC2`). Signatures are not
 * checked. Supported actions: AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress (by rule id),
 * DescribeSecurityGroupRules, CreateTags.
 */

/** One ingress rule as the fake stores it. */
export type FakeRule = {
  readonly id: string;
  readonly groupId: string;
  readonly protocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  /** As it was given; EC2 compares rules by the address, not by its spelling. */
  readonly cidr: string;
  readonly family: 4 | 6;
  readonly tags: Record<string, string>;
  readonly description?: string | undefined;
};

/** One request the fake received (including those answered with an injected fault). */
export type FakeEc2Call = {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  /** The access key that signed the call (from the SigV4 Authorization header): whose credentials were used. */
  readonly accessKeyId?: string | undefined;
};

/** Seed for a rule added behind the adapter's back, like one a person created in the console. */
export type SeedRule = {
  readonly groupId: string;
  readonly protocol?: string;
  readonly fromPort: number;
  readonly toPort?: number;
  readonly cidr: string;
  readonly tags?: Record<string, string>;
  readonly description?: string;
};

export type FailOptions = {
  /** Carry out the action, then answer with the error anyway: a response lost after the change. */
  readonly afterApply?: boolean;
  /** Let this many calls of the action through first (e.g. 1: the second call fails). */
  readonly skip?: number;
};

export interface FakeEc2 {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly calls: FakeEc2Call[];
  /** A snapshot of the ingress rules, optionally of one group, in creation order. */
  rules(groupId?: string): FakeRule[];
  /** Adds a rule directly (no call recorded); tags default to none, so it is not managed by hallpass. */
  addRule(seed: SeedRule): FakeRule;
  /** Makes a security group exist (when the fake was started with an explicit group list). */
  addGroup(groupId: string): void;
  /**
   * Puts a group in an AWS account (default: 123456789012, hallpass's own). As in EC2, a caller from
   * another account does not see it: its calls on the group answer `InvalidGroup.NotFound`, its rules
   * are not listed and cannot be revoked or tagged.
   */
  placeGroup(groupId: string, account: string): void;
  /** Which account a caller is in, from the access key that signed the call (default: every key is 123456789012's). */
  setAccountOf(accountOf: (accessKeyId: string | undefined) => string): void;
  /**
   * Changes a rule in place behind the adapter's back, as `ModifySecurityGroupRules` (or the console)
   * does: same rule id and tags, new protocol, ports or source (reconciliation tests: a rule widened by hand).
   */
  modifyRule(
    ruleId: string,
    change: Partial<Pick<FakeRule, 'protocol' | 'fromPort' | 'toPort' | 'cidr'>>,
  ): FakeRule;
  /** Answers the next `times` calls of `action` with this AWS error code and HTTP status. */
  failNext(action: string, code: string, httpStatus?: number, times?: number, options?: FailOptions): void;
  /** Forgets every queued fault: AWS is healthy again. */
  clearFaults(): void;
  /** Stops the server, dropping keep-alive connections. */
  close(): Promise<void>;
}

export type FakeEc2Options = {
  /** Groups that exist; any other id is `InvalidGroup.NotFound`. Absent: every `sg-…` id exists. */
  readonly groups?: readonly string[];
};

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const OWNER_ID = '123456789012';
const DESCRIPTION_CHARS = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
const MAX_TAGS_PER_RESOURCE = 50;

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Params = Map<string, string>;
type Fault = { code: string; status: number; remaining: number; afterApply: boolean; skip: number };
type Handler = (params: Params, ctx: { region: string; account: string }) => string;
type MutableRule = Omit<FakeRule, 'tags' | 'description'> & {
  tags: Record<string, string>;
  description?: string | undefined;
};

const escapeXml = (text: string): string =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

const el = (name: string, value: string | number | boolean | undefined): string =>
  value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;

/** The distinct list indices under `prefix` (`Filter.1.Name`, `Filter.2.Value.1` → [1, 2]), ascending. */
function indices(params: Params, prefix: string): number[] {
  const found = new Set<number>();
  const head = `${prefix}.`;
  for (const key of params.keys()) {
    if (!key.startsWith(head)) continue;
    const n = Number.parseInt(key.slice(head.length).split('.')[0] ?? '', 10);
    if (Number.isInteger(n) && n > 0) found.add(n);
  }
  return [...found].sort((a, b) => a - b);
}

/** The values of a flattened string list: `SecurityGroupRuleId.1`, `SecurityGroupRuleId.2`, … */
function stringList(params: Params, prefix: string): string[] {
  return indices(params, prefix).flatMap((n) => {
    const v = params.get(`${prefix}.${n}`);
    return v === undefined ? [] : [v];
  });
}

function parseTags(params: Params, prefix: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const n of indices(params, prefix)) {
    const key = params.get(`${prefix}.${n}.Key`);
    if (key === undefined || key === '')
      throw new Ec2Error('InvalidParameterValue', 'Tag key must not be empty');
    if (key.toLowerCase().startsWith('aws:')) {
      throw new Ec2Error(
        'InvalidParameterValue',
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
    tags[key] = params.get(`${prefix}.${n}.Value`) ?? '';
  }
  return tags;
}

function parseCidr(cidr: string, family: 4 | 6): string {
  const valid =
    family === 4
      ? ipaddr.IPv4.isValidCIDR(cidr) && ipaddr.IPv4.isValidFourPartDecimal(cidr.split('/')[0] ?? '')
      : ipaddr.IPv6.isValidCIDR(cidr);
  if (!valid) throw new Ec2Error('InvalidParameterValue', `CIDR block ${cidr} is malformed`);
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  return `${addr.toNormalizedString()}/${prefix}`;
}

function normalizeProtocol(raw: string | undefined): string {
  const p = (raw ?? '').toLowerCase();
  if (p === '6' || p === 'tcp') return 'tcp';
  if (p === '17' || p === 'udp') return 'udp';
  if (p === '1' || p === 'icmp') return 'icmp';
  if (p === '-1' || p === 'all') return '-1';
  throw new Ec2Error(
    'InvalidParameterValue',
    `Invalid value '${raw ?? ''}' for IP protocol. Unknown protocol.`,
  );
}

function parsePorts(protocol: string, from: string | undefined, to: string | undefined): [number, number] {
  if (protocol === '-1') return [-1, -1];
  const fromPort = Number(from);
  const toPort = Number(to);
  if (from === undefined || to === undefined || !Number.isInteger(fromPort) || !Number.isInteger(toPort)) {
    throw new Ec2Error('MissingParameter', `Missing FromPort or ToPort for protocol ${protocol}`);
  }
  if (protocol === 'icmp') return [fromPort, toPort];
  if (fromPort < 0 || toPort > 65535 || fromPort > toPort) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Invalid port range ${fromPort}-${toPort}: ports must be 0-65535 and FromPort <= ToPort`,
    );
  }
  return [fromPort, toPort];
}

function checkDescription(description: string | undefined): void {
  if (description === undefined) return;
  if (description.length > 255 || !DESCRIPTION_CHARS.test(description)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      'Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*',
    );
  }
}

const ruleKey = (r: Pick<FakeRule, 'groupId' | 'protocol' | 'fromPort' | 'toPort' | 'cidr' | 'family'>) =>
  `${r.groupId}|${r.protocol}|${r.fromPort}|${r.toPort}|${parseCidr(r.cidr, r.family)}`;

const newRuleId = (): string => `sgr-${randomBytes(9).toString('hex').slice(0, 17)}`;

function ruleXml(rule: FakeRule, region: string, withTags = true): string {
  const tags = Object.entries(rule.tags)
    .map(([k, v]) => `<item>${el('key', k)}${el('value', v)}</item>`)
    .join('');
  return (
    '<item>' +
    el('securityGroupRuleId', rule.id) +
    el('groupId', rule.groupId) +
    el('groupOwnerId', OWNER_ID) +
    el('isEgress', false) +
    el('ipProtocol', rule.protocol) +
    el('fromPort', rule.fromPort) +
    el('toPort', rule.toPort) +
    el(rule.family === 6 ? 'cidrIpv6' : 'cidrIpv4', rule.cidr) +
    el('description', rule.description) +
    (withTags ? `<tagSet>${tags}</tagSet>` : '') +
    (withTags
      ? el('securityGroupRuleArn', `arn:aws:ec2:${region}:${OWNER_ID}:security-group-rule/${rule.id}`)
      : '') +
    '</item>'
  );
}

/** `*` and `?` as in EC2 filter values. */
const globMatches = (pattern: string, value: string): boolean => {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(value);
};

const copyRule = (r: MutableRule): FakeRule => ({ ...r, tags: { ...r.tags } });

/** Starts the fake on an ephemeral port of 127.0.0.1. */
export async function startFakeEc2(opts: FakeEc2Options = {}): Promise<FakeEc2> {
  const groups = opts.groups === undefined ? undefined : new Set(opts.groups);
  const rules: MutableRule[] = [];
  const calls: FakeEc2Call[] = [];
  const faults = new Map<string, Fault[]>();
  const owners = new Map<string, string>();
  let accountOf: (accessKeyId: string | undefined) => string = () => OWNER_ID;
  const ownerOf = (groupId: string): string => owners.get(groupId) ?? OWNER_ID;
  /** Whether a caller in `account` can see this rule (its group is the account's). */
  const visible = (account: string) => (r: MutableRule) => ownerOf(r.groupId) === account;

  const requireGroup = (groupId: string | undefined, account: string): string => {
    if (groupId === undefined || groupId === '') {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter groupId');
    }
    const exists = groups === undefined ? /^sg-[0-9a-f]+$/.test(groupId) : groups.has(groupId);
    // A group of another account does not exist as far as this caller can tell: the same answer.
    if (!exists || ownerOf(groupId) !== account)
      throw new Ec2Error('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`);
    return groupId;
  };
  const ruleNotFound = (id: string) =>
    new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`);

  const authorize: Handler = (params, { region, account }) => {
    const groupId = requireGroup(params.get('GroupId'), account);
    const permissions = indices(params, 'IpPermissions');
    if (permissions.length === 0) {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter ipPermissions');
    }
    const specs = indices(params, 'TagSpecification');
    let tags: Record<string, string> = {};
    for (const n of specs) {
      const type = params.get(`TagSpecification.${n}.ResourceType`);
      if (type !== 'security-group-rule') {
        throw new Ec2Error(
          'InvalidParameterValue',
          `'${type ?? ''}' is not a valid taggable resource type for this operation.`,
        );
      }
      tags = { ...tags, ...parseTags(params, `TagSpecification.${n}.Tag`) };
    }
    const created: MutableRule[] = [];
    for (const p of permissions) {
      const prefix = `IpPermissions.${p}`;
      const protocol = normalizeProtocol(params.get(`${prefix}.IpProtocol`));
      const [fromPort, toPort] = parsePorts(
        protocol,
        params.get(`${prefix}.FromPort`),
        params.get(`${prefix}.ToPort`),
      );
      const ranges = [
        ...indices(params, `${prefix}.IpRanges`).map((r) => ({
          family: 4 as const,
          cidr: params.get(`${prefix}.IpRanges.${r}.CidrIp`),
          description: params.get(`${prefix}.IpRanges.${r}.Description`),
        })),
        ...indices(params, `${prefix}.Ipv6Ranges`).map((r) => ({
          family: 6 as const,
          cidr: params.get(`${prefix}.Ipv6Ranges.${r}.CidrIpv6`),
          description: params.get(`${prefix}.Ipv6Ranges.${r}.Description`),
        })),
      ];
      if (ranges.length === 0) {
        throw new Ec2Error(
          'InvalidParameterValue',
          'fake-ec2 supports only CIDR sources (IpRanges, Ipv6Ranges)',
        );
      }
      for (const range of ranges) {
        if (range.cidr === undefined) throw new Ec2Error('MissingParameter', 'Missing CIDR in IP range');
        parseCidr(range.cidr, range.family);
        checkDescription(range.description);
        created.push({
          id: newRuleId(),
          groupId,
          protocol,
          fromPort,
          toPort,
          cidr: range.cidr,
          family: range.family,
          tags: { ...tags },
          description: range.description,
        });
      }
    }
    // All or nothing, as EC2: one duplicate refuses the whole call.
    const existing = new Set(rules.map(ruleKey));
    for (const rule of created) {
      if (existing.has(ruleKey(rule))) {
        throw new Ec2Error(
          'InvalidPermission.Duplicate',
          `the specified rule "peer: ${rule.cidr}, ${rule.protocol.toUpperCase()}, from port: ${rule.fromPort}, to port: ${rule.toPort}, ALLOW" already exists`,
        );
      }
      existing.add(ruleKey(rule));
    }
    rules.push(...created);
    return `<return>true</return><securityGroupRuleSet>${created.map((r) => ruleXml(r, region)).join('')}</securityGroupRuleSet>`;
  };

  const revoke: Handler = (params, { account }) => {
    const groupId = requireGroup(params.get('GroupId'), account);
    const ids = stringList(params, 'SecurityGroupRuleId');
    if (ids.length === 0) {
      throw new Ec2Error('InvalidParameterValue', 'fake-ec2 supports revoking by SecurityGroupRuleId only');
    }
    // Validate every id before removing any, as EC2 does.
    for (const id of ids) {
      if (!/^sgr-[0-9a-f]+$/.test(id)) {
        throw new Ec2Error('InvalidSecurityGroupRuleId.Malformed', `Invalid id: "${id}"`);
      }
      if (!rules.some((r) => r.id === id && r.groupId === groupId)) throw ruleNotFound(id);
    }
    const revoked = rules.filter((r) => ids.includes(r.id));
    for (const rule of revoked) rules.splice(rules.indexOf(rule), 1);
    return `<return>true</return><revokedSecurityGroupRuleSet>${revoked.map((r) => ruleXml(r, '', false)).join('')}</revokedSecurityGroupRuleSet>`;
  };

  const describe: Handler = (params, { region, account }) => {
    const mine = rules.filter(visible(account));
    const ids = stringList(params, 'SecurityGroupRuleId');
    const maxResultsText = params.get('MaxResults');
    if (maxResultsText !== undefined && ids.length > 0) {
      throw new Ec2Error(
        'InvalidParameterCombination',
        'The parameter SecurityGroupRuleIds cannot be used with the parameter MaxResults',
      );
    }
    const maxResults = maxResultsText === undefined ? 1000 : Number(maxResultsText);
    if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
      throw new Ec2Error(
        'InvalidParameterValue',
        `Value ( ${maxResultsText ?? ''} ) for parameter maxResults is invalid`,
      );
    }
    for (const id of ids) if (!mine.some((r) => r.id === id)) throw ruleNotFound(id);
    let selected = ids.length > 0 ? mine.filter((r) => ids.includes(r.id)) : [...mine];
    for (const n of indices(params, 'Filter')) {
      const name = params.get(`Filter.${n}.Name`) ?? '';
      const values = stringList(params, `Filter.${n}.Value`);
      if (
        name !== 'group-id' &&
        name !== 'security-group-rule-id' &&
        name !== 'tag-key' &&
        !name.startsWith('tag:')
      ) {
        throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
      }
      const fieldOf = (r: MutableRule): string | undefined => {
        if (name === 'group-id') return r.groupId;
        if (name === 'security-group-rule-id') return r.id;
        return r.tags[name.slice('tag:'.length)];
      };
      if (name === 'tag-key') {
        selected = selected.filter((r) =>
          Object.keys(r.tags).some((k) => values.some((v) => globMatches(v, k))),
        );
        continue;
      }
      selected = selected.filter((r) => {
        const value = fieldOf(r);
        return value !== undefined && values.some((v) => globMatches(v, value));
      });
    }
    const start = Number(params.get('NextToken') ?? '0');
    if (!Number.isInteger(start) || start < 0)
      throw new Ec2Error('InvalidParameterValue', 'Invalid NextToken');
    const page = selected.slice(start, start + maxResults);
    const next = start + maxResults < selected.length ? String(start + maxResults) : undefined;
    return `<securityGroupRuleSet>${page.map((r) => ruleXml(r, region)).join('')}</securityGroupRuleSet>${el('nextToken', next)}`;
  };

  const createTags: Handler = (params, { account }) => {
    const resources = stringList(params, 'ResourceId');
    if (resources.length === 0)
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter resourceIdSet');
    const tags = parseTags(params, 'Tag');
    const targets: MutableRule[] = [];
    for (const id of resources) {
      if (id.startsWith('sgr-')) {
        const rule = rules.find((r) => r.id === id && visible(account)(r));
        if (rule === undefined) throw ruleNotFound(id);
        if (Object.keys({ ...rule.tags, ...tags }).length > MAX_TAGS_PER_RESOURCE) {
          throw new Ec2Error('TagLimitExceeded', `The maximum number of tags for ${id} has been reached`);
        }
        targets.push(rule);
      } else if (id.startsWith('sg-')) {
        requireGroup(id, account);
      } else {
        throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
      }
    }
    // Existing keys get the new value; CreateTags never removes a tag.
    for (const rule of targets) Object.assign(rule.tags, tags);
    return '<return>true</return>';
  };

  const handlers = new Map<string, Handler>([
    ['AuthorizeSecurityGroupIngress', authorize],
    ['RevokeSecurityGroupIngress', revoke],
    ['DescribeSecurityGroupRules', describe],
    ['CreateTags', createTags],
  ]);

  const send = (res: ServerResponse, status: number, body: string, requestId: string) => {
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  };
  const sendError = (res: ServerResponse, error: Ec2Error, requestId: string) =>
    send(
      res,
      error.status,
      `<Response><Errors><Error>${el('Code', error.code)}${el('Message', error.message)}</Error></Errors>${el('RequestID', requestId)}</Response>`,
      requestId,
    );

  const handle = (req: IncomingMessage, body: string, res: ServerResponse) => {
    const requestId = randomUUID();
    const form = new URLSearchParams(body);
    const params: Params = new Map(form.entries());
    const action = params.get('Action') ?? '';
    const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    calls.push({ action, params: Object.fromEntries(params), accessKeyId });
    // The SigV4 credential scope names the region: Credential=AKID/20260101/us-east-1/ec2/aws4_request.
    const region =
      /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'us-east-1';
    const handler = handlers.get(action);
    if (req.method !== 'POST' || handler === undefined) {
      sendError(
        res,
        new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`),
        requestId,
      );
      return;
    }
    const queue = faults.get(action) ?? [];
    let fault = queue[0];
    if (fault !== undefined && fault.skip > 0) {
      fault.skip -= 1;
      fault = undefined;
    } else if (fault !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) queue.shift();
    }
    try {
      if (fault !== undefined && !fault.afterApply) {
        throw new Ec2Error(fault.code, `Injected fault: ${fault.code}`, fault.status);
      }
      if (params.get('DryRun') === 'true') {
        throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
      }
      const result = handler(params, { region, account: accountOf(accessKeyId) });
      if (fault !== undefined) throw new Ec2Error(fault.code, `Injected fault: ${fault.code}`, fault.status);
      send(
        res,
        200,
        `<${action}Response xmlns="${NS}">${el('requestId', requestId)}${result}</${action}Response>`,
        requestId,
      );
    } catch (error) {
      const e =
        error instanceof Ec2Error ? error : new Ec2Error('InternalError', `fake-ec2: ${String(error)}`, 500);
      sendError(res, e, requestId);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    rules: (groupId) => rules.filter((r) => groupId === undefined || r.groupId === groupId).map(copyRule),
    addRule(seed) {
      groups?.add(seed.groupId);
      const protocol = normalizeProtocol(seed.protocol ?? 'tcp');
      const family = seed.cidr.includes(':') ? 6 : 4;
      const rule: MutableRule = {
        id: newRuleId(),
        groupId: seed.groupId,
        protocol,
        fromPort: seed.fromPort,
        toPort: seed.toPort ?? seed.fromPort,
        cidr: seed.cidr,
        family,
        tags: { ...(seed.tags ?? {}) },
        description: seed.description,
      };
      if (rules.some((r) => ruleKey(r) === ruleKey(rule)))
        throw new Error(`fake-ec2: rule already exists: ${ruleKey(rule)}`);
      rules.push(rule);
      return copyRule(rule);
    },
    addGroup(groupId) {
      groups?.add(groupId);
    },
    placeGroup(groupId, account) {
      groups?.add(groupId);
      owners.set(groupId, account);
    },
    setAccountOf(resolver) {
      accountOf = resolver;
    },
    modifyRule(ruleId, change) {
      const index = rules.findIndex((r) => r.id === ruleId);
      const rule = rules[index];
      if (rule === undefined) throw new Error(`fake-ec2: no rule ${ruleId}`);
      const cidr = change.cidr ?? rule.cidr;
      const modified: MutableRule = { ...rule, ...change, family: cidr.includes(':') ? 6 : 4 };
      rules[index] = modified;
      return copyRule(modified);
    },
    failNext(action, code, httpStatus = 400, times = 1, options = {}) {
      const queue = faults.get(action) ?? [];
      queue.push({
        code,
        status: httpStatus,
        remaining: times,
        afterApply: options.afterApply === true,
        skip: options.skip ?? 0,
      });
      faults.set(action, queue);
    },
    clearFaults() {
      faults.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
