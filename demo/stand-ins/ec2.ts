import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import ipaddr from 'ipaddr.js';
import { createEc2Limits, type RateLimit, type RefusedCall } from './faults';

/**
 * An in-memory EC2 that keeps security-group ingress rules the way EC2 does, served over HTTP and
 * speaking the EC2 Query protocol the real SDK sends (form-encoded POST, `Action=…&Version=2016-11-15`,
 * XML answers). Point a real `EC2Client` at `url` (or set `AWS_ENDPOINT_URL_EC2`). Signatures are not
 * checked. Supported actions: AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress (by rule id),
 * DescribeSecurityGroupRules, DescribeSecurityGroups, CreateTags, DescribeNetworkInterfaces, DescribeNetworkAcls,
 * CreateNetworkAclEntry, ReplaceNetworkAclEntry, DeleteNetworkAclEntry. Network interfaces and network
 * ACLs are seeded by the test (`addNetworkInterface`, `addNetworkAcl`); the API cannot create them.
 * Account-wide limits (a rate limit answering `RequestLimitExceeded`, a latency) are in `faults.ts`.
 */

export type { RateLimit, RefusedCall } from './faults';

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
  /** Time of arrival (`now` of the options, real time by default: the replica tests measure how late a revoke came). */
  readonly at: Date;
  /** Refused by the rate limit (`setRateLimit`): answered `RequestLimitExceeded`, nothing done. */
  readonly throttled?: boolean;
};

/** Seed for a rule added behind the adapter's back, like one a person created in the console. */
export type SeedRule = {
  /** The rule's id, as a database recorded it (a restart bench reseeding EC2); a new one by default. */
  readonly id?: string;
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

/** One network ACL entry (rule) as the fake stores it and `DescribeNetworkAcls` answers it. */
export type FakeAclEntry = {
  /** 1-32766; the default `*` entries are 32767 (IPv4) and 32768 (IPv6), as `DescribeNetworkAcls` shows them. */
  readonly ruleNumber: number;
  /** The protocol number as EC2 answers it: `'6'`, `'17'`, `'1'`, `'-1'` (all); names given are stored as numbers. */
  readonly protocol: string;
  readonly ruleAction: 'allow' | 'deny';
  readonly egress: boolean;
  /** Canonical form (`10.0.0.7/24` is stored as `10.0.0.0/24`), as EC2 does. */
  readonly cidrBlock?: string | undefined;
  /** Canonical, compressed form (`2001:DB8:0::1/128` is stored as `2001:db8::1/128`). */
  readonly ipv6CidrBlock?: string | undefined;
  /** Only for TCP (6) and UDP (17); EC2 ignores ports of other protocols. */
  readonly portRange?: { readonly from: number; readonly to: number } | undefined;
  /** Only for ICMP (1) and ICMPv6 (58) with an IPv6 block; EC2 ignores it otherwise. */
  readonly icmpTypeCode?: { readonly type: number; readonly code: number } | undefined;
};

/** Seed for a network ACL entry; defaults: protocol `-1`, `allow`, ingress. One of the two blocks is required. */
export type SeedAclEntry = {
  readonly ruleNumber: number;
  readonly protocol?: string;
  readonly ruleAction?: 'allow' | 'deny';
  readonly egress?: boolean;
  readonly cidrBlock?: string;
  readonly ipv6CidrBlock?: string;
  readonly portRange?: { readonly from: number; readonly to: number };
  readonly icmpTypeCode?: { readonly type: number; readonly code: number };
};

/** A subnet's association with a network ACL (`aclassoc-…`). */
export type FakeAclAssociation = { readonly id: string; readonly subnetId: string };

/** A network ACL as the fake stores it. */
export type FakeNetworkAcl = {
  readonly id: string;
  readonly vpcId: string;
  readonly isDefault: boolean;
  /** The AWS account that owns it; callers of other accounts get `InvalidNetworkAclID.NotFound`. */
  readonly ownerId: string;
  readonly associations: readonly FakeAclAssociation[];
  /** Ingress entries first, then egress, each by rule number, default `*` entries included. */
  readonly entries: readonly FakeAclEntry[];
};

/** Seed for a network ACL (the API cannot create one). */
export type SeedNetworkAcl = {
  /** Default: a fresh `acl-…` id. */
  readonly id?: string;
  /** Default: the VPC the subnets are already known in, else `vpc-0123456789abcdef0`. */
  readonly vpcId?: string;
  /** Associated subnets; a subnet associated with another ACL moves here, as `ReplaceNetworkAclAssociation` does. */
  readonly subnetIds: readonly string[];
  /**
   * Numbered entries. Default: none for a custom ACL; for the VPC's default ACL (`isDefault`), AWS's
   * rule 100 allowing everything each way (and 101 for `::/0` when `ipv6`).
   */
  readonly entries?: readonly SeedAclEntry[];
  readonly isDefault?: boolean;
  /** The VPC has an IPv6 block: the ACL also has the default `::/0` deny entries (rule 32768). Default false. */
  readonly ipv6?: boolean;
  /** Owning account (default 123456789012, hallpass's own). */
  readonly account?: string;
};

/** Conntrack idle timeouts of a network interface, in seconds (`ConnectionTrackingConfiguration`). */
export type FakeConnectionTracking = {
  readonly tcpEstablishedTimeout?: number | undefined;
  readonly udpStreamTimeout?: number | undefined;
  readonly udpTimeout?: number | undefined;
};

/** A network interface (ENI) as the fake stores it: always `in-use`. */
export type FakeNetworkInterface = {
  readonly id: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly ownerId: string;
  readonly groups: readonly { readonly groupId: string; readonly groupName: string }[];
  readonly status: 'in-use';
  /** Absent when no timeout was set: EC2 then leaves `connectionTrackingConfiguration` out. */
  readonly connectionTracking?: FakeConnectionTracking | undefined;
};

/** Seed for a network interface (the API cannot create one). */
export type SeedNetworkInterface = {
  /** Default: a fresh `eni-…` id. */
  readonly id?: string;
  readonly subnetId: string;
  /** Default: the subnet's VPC if an ACL seed named the subnet, else `vpc-0123456789abcdef0`. */
  readonly vpcId?: string;
  readonly groupIds: readonly string[];
  /** Group names by id (default: the id itself). */
  readonly groupNames?: Readonly<Record<string, string>>;
  readonly tcpEstablishedTimeout?: number;
  readonly udpStreamTimeout?: number;
  readonly udpTimeout?: number;
  /** Owning account (default 123456789012); callers of other accounts do not see it. */
  readonly account?: string;
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
  /** Seeds a network ACL with its default `*` deny entries (no call recorded). */
  addNetworkAcl(seed: SeedNetworkAcl): FakeNetworkAcl;
  /** Seeds a network interface (no call recorded); its groups are made to exist. */
  addNetworkInterface(seed: SeedNetworkInterface): FakeNetworkInterface;
  /** A snapshot of every network ACL, in seeding order. */
  networkAcls(): FakeNetworkAcl[];
  /** A snapshot of one ACL's entries: ingress first, then egress, each by rule number (throws for an unknown ACL). */
  aclEntries(aclId: string): FakeAclEntry[];
  /** Answers the next `times` calls of `action` with this AWS error code and HTTP status. */
  failNext(action: string, code: string, httpStatus?: number, times?: number, options?: FailOptions): void;
  /**
   * Accepts the next `times` calls of `action` and never answers them (nor carries them out): an
   * endpoint that stalls, or a connection dropped on the way without a reset. Each stays open until the
   * caller gives up or `close()`.
   */
  stallNext(action: string, times?: number): void;
  /** Calls accepted and left unanswered by `stallNext` so far. */
  stalledCount(): number;
  /** Forgets every queued fault: AWS is healthy again. */
  clearFaults(): void;
  /**
   * Meters every call with a token bucket, as EC2 meters an account's API calls: one beyond it is
   * answered `RequestLimitExceeded` with HTTP 503 and changes nothing. `undefined` lifts the limit.
   */
  setRateLimit(limit: RateLimit | undefined): void;
  /** Holds every answer back this many milliseconds (EC2's own latency; default 0). */
  setLatency(ms: number): void;
  /** Calls answered `RequestLimitExceeded` by the rate limit so far. */
  throttledCount(): number;
  /** The calls the rate limit refused, oldest first (they are in `calls` too). */
  refusedCalls(): RefusedCall[];
  /** Stops the server, dropping keep-alive connections. */
  close(): Promise<void>;
}

export type FakeEc2Options = {
  /** Groups that exist; any other id is `InvalidGroup.NotFound`. Absent: every `sg-…` id exists. */
  readonly groups?: readonly string[];
  /**
   * Numbered entries a network ACL takes per direction before `NetworkAclEntryLimitExceeded` (default 20,
   * AWS's default "rules per network ACL" quota). The default `*` entries are not counted here.
   */
  readonly aclEntryLimit?: number;
  /** The time calls are stamped with (`FakeEc2Call.at`): the demo's skip-ahead clock. The system clock when absent. */
  readonly now?: () => Date;
  /**
   * How long each call takes, in ms (default 0): the call is received, held this long, then acted on and
   * answered at once, so it is recorded (`calls`, its `at`) and its rules change when the answer leaves.
   * Benchmarks give EC2 the latency of the real one.
   */
  readonly latencyMs?: number;
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
type Fault = {
  code: string;
  status: number;
  remaining: number;
  afterApply: boolean;
  skip: number;
  /** Accept the call and never answer it: neither applied nor refused. */
  stall?: true;
};
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

/** Canonical forms already computed: every authorize compares its rule with every rule of the account. */
const canonicalCidrs = new Map<string, string>();

function parseCidr(cidr: string, family: 4 | 6): string {
  const known = canonicalCidrs.get(`${family} ${cidr}`);
  if (known !== undefined) return known;
  const canonical = parseCidrUncached(cidr, family);
  if (canonicalCidrs.size > 100_000) canonicalCidrs.clear();
  canonicalCidrs.set(`${family} ${cidr}`, canonical);
  return canonical;
}

function parseCidrUncached(cidr: string, family: 4 | 6): string {
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

const DEFAULT_VPC_ID = 'vpc-0123456789abcdef0';
/** The highest rule number a caller may use; 32767 and up are EC2's own (the `*` entries). */
const MAX_ACL_RULE_NUMBER = 32766;
const DEFAULT_ACL_ENTRY_LIMIT = 20;
const ACL_PROTOCOL_NAMES = new Map([
  ['tcp', '6'],
  ['udp', '17'],
  ['icmp', '1'],
  ['icmpv6', '58'],
  ['all', '-1'],
]);

const newId = (prefix: string): string => `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;

/**
 * Keeps the items every `Filter.N` matches: filters are ANDed, a filter's values ORed, `*` and `?` glob;
 * an item matches when any of its values for the name does. A name not in `fields` is refused, as EC2 does.
 */
function applyFilters<T>(
  items: readonly T[],
  params: Params,
  fields: ReadonlyMap<string, (item: T) => readonly string[]>,
): T[] {
  let selected = [...items];
  for (const n of indices(params, 'Filter')) {
    const name = params.get(`Filter.${n}.Name`) ?? '';
    const field = fields.get(name);
    if (field === undefined) throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
    const patterns = stringList(params, `Filter.${n}.Value`);
    selected = selected.filter((item) => field(item).some((v) => patterns.some((p) => globMatches(p, v))));
  }
  return selected;
}

/** One page of `items` by `MaxResults` (`min`-`max`; absent: everything) and `NextToken`, as EC2 pages. */
function paginate<T>(
  items: readonly T[],
  params: Params,
  min: number,
  max: number,
): { page: T[]; next: string | undefined } {
  const maxText = params.get('MaxResults');
  const size = maxText === undefined ? items.length : Number(maxText);
  if (maxText !== undefined && (!Number.isInteger(size) || size < min || size > max)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value ( ${maxText} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
  const token = params.get('NextToken');
  const start = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new Ec2Error('InvalidParameterValue', `Invalid NextToken: ${token ?? ''}`);
  }
  const end = start + Math.max(size, 1);
  return { page: items.slice(start, end), next: end < items.length ? String(end) : undefined };
}

/** An integer query parameter, or `MissingParameter` (`name` is the lower-camel name EC2 reports). */
function intParam(raw: string | undefined, name: string): number {
  if (raw === undefined || raw === '') {
    throw new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
  }
  if (!/^-?\d+$/.test(raw)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${raw}) for parameter ${name} is invalid.`);
  }
  return Number(raw);
}

function boolParam(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === '') {
    throw new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
  }
  if (raw !== 'true' && raw !== 'false') {
    throw new Ec2Error('InvalidParameterValue', `Value (${raw}) for parameter ${name} is invalid.`);
  }
  return raw === 'true';
}

function aclRuleNumber(raw: string | undefined): number {
  const ruleNumber = intParam(raw, 'ruleNumber');
  if (ruleNumber < 1 || ruleNumber > MAX_ACL_RULE_NUMBER) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${ruleNumber}) for parameter ruleNumber is invalid. Rule number must be between 1 and ${MAX_ACL_RULE_NUMBER}.`,
    );
  }
  return ruleNumber;
}

/** `6`, `tcp` → `'6'`; `-1`, `all` → `'-1'`; any protocol number 0-255. */
function aclProtocol(raw: string | undefined): string {
  if (raw === undefined || raw === '') {
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter protocol');
  }
  const named = ACL_PROTOCOL_NAMES.get(raw.toLowerCase());
  if (named !== undefined) return named;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (n === -1 || (n >= 0 && n <= 255)) return String(n);
  throw new Ec2Error('InvalidParameterValue', `Invalid value '${raw}' for protocol. Unknown protocol.`);
}

/** A CIDR in EC2's canonical form: host bits cleared, IPv6 compressed and lower case. */
function canonicalCidr(cidr: string, family: 4 | 6, name: string): string {
  try {
    parseCidr(cidr, family);
  } catch {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${cidr}) for parameter ${name} is invalid. This is not a valid CIDR block.`,
    );
  }
  const prefix = cidr.split('/')[1] ?? '';
  const network =
    family === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(cidr).toRFC5952String();
  return `${network}/${Number(prefix)}`;
}

/** The entry fields as they arrive on the wire (query parameters, or a seed turned into strings). */
type RawAclEntry = {
  readonly ruleNumber: string | undefined;
  readonly protocol: string | undefined;
  readonly ruleAction: string | undefined;
  readonly egress: string | undefined;
  readonly cidrBlock: string | undefined;
  readonly ipv6CidrBlock: string | undefined;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly icmpType: string | undefined;
  readonly icmpCode: string | undefined;
};

const rawAclEntry = (params: Params): RawAclEntry => ({
  ruleNumber: params.get('RuleNumber'),
  protocol: params.get('Protocol'),
  ruleAction: params.get('RuleAction'),
  egress: params.get('Egress'),
  cidrBlock: params.get('CidrBlock'),
  ipv6CidrBlock: params.get('Ipv6CidrBlock'),
  from: params.get('PortRange.From'),
  to: params.get('PortRange.To'),
  icmpType: params.get('Icmp.Type'),
  icmpCode: params.get('Icmp.Code'),
});

const optString = (value: number | boolean | string | undefined): string | undefined =>
  value === undefined ? undefined : String(value);

/** Validates an entry as `CreateNetworkAclEntry` / `ReplaceNetworkAclEntry` do. */
function parseAclEntry(raw: RawAclEntry): FakeAclEntry {
  const ruleNumber = aclRuleNumber(raw.ruleNumber);
  const protocol = aclProtocol(raw.protocol);
  if (raw.ruleAction === undefined || raw.ruleAction === '') {
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter ruleAction');
  }
  if (raw.ruleAction !== 'allow' && raw.ruleAction !== 'deny') {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${raw.ruleAction}) for parameter ruleAction is invalid. Valid values: allow, deny.`,
    );
  }
  const egress = boolParam(raw.egress, 'egress');
  if (raw.cidrBlock !== undefined && raw.ipv6CidrBlock !== undefined) {
    throw new Ec2Error(
      'InvalidParameterCombination',
      'The parameter cidrBlock cannot be used with the parameter ipv6CidrBlock',
    );
  }
  if (raw.cidrBlock === undefined && raw.ipv6CidrBlock === undefined) {
    throw new Ec2Error(
      'MissingParameter',
      'The request must contain the parameter cidrBlock or ipv6CidrBlock',
    );
  }
  const cidrBlock = raw.cidrBlock === undefined ? undefined : canonicalCidr(raw.cidrBlock, 4, 'cidrBlock');
  const ipv6CidrBlock =
    raw.ipv6CidrBlock === undefined ? undefined : canonicalCidr(raw.ipv6CidrBlock, 6, 'ipv6CidrBlock');
  let portRange: FakeAclEntry['portRange'];
  if (protocol === '6' || protocol === '17') {
    if (raw.from === undefined || raw.to === undefined) {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter portRange');
    }
    const from = intParam(raw.from, 'portRange.from');
    const to = intParam(raw.to, 'portRange.to');
    if (from < 0 || to > 65535 || from > to) {
      throw new Ec2Error(
        'InvalidParameterValue',
        `Invalid port range ${from}-${to}: ports must be 0-65535 and From <= To`,
      );
    }
    portRange = { from, to };
  }
  let icmpTypeCode: FakeAclEntry['icmpTypeCode'];
  if (protocol === '1' || (protocol === '58' && ipv6CidrBlock !== undefined)) {
    if (raw.icmpType === undefined || raw.icmpCode === undefined) {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter icmpTypeCode');
    }
    const type = intParam(raw.icmpType, 'icmpTypeCode.type');
    const code = intParam(raw.icmpCode, 'icmpTypeCode.code');
    if (type < -1 || type > 255 || code < -1 || code > 255) {
      throw new Ec2Error('InvalidParameterValue', `Invalid ICMP type ${type} or code ${code}`);
    }
    icmpTypeCode = { type, code };
  }
  return {
    ruleNumber,
    protocol,
    ruleAction: raw.ruleAction,
    egress,
    ...(cidrBlock === undefined ? {} : { cidrBlock }),
    ...(ipv6CidrBlock === undefined ? {} : { ipv6CidrBlock }),
    ...(portRange === undefined ? {} : { portRange }),
    ...(icmpTypeCode === undefined ? {} : { icmpTypeCode }),
  };
}

/** The `*` entries every ACL has and no call can remove: deny everything, each way. */
function defaultAclEntries(ipv6: boolean): FakeAclEntry[] {
  const deny = (egress: boolean): FakeAclEntry[] => [
    { ruleNumber: 32767, protocol: '-1', ruleAction: 'deny', egress, cidrBlock: '0.0.0.0/0' },
    ...(ipv6
      ? [{ ruleNumber: 32768, protocol: '-1', ruleAction: 'deny' as const, egress, ipv6CidrBlock: '::/0' }]
      : []),
  ];
  return [...deny(false), ...deny(true)];
}

/** Ingress first, then egress, each by rule number. */
const byDirectionThenNumber = (a: FakeAclEntry, b: FakeAclEntry): number =>
  Number(a.egress) - Number(b.egress) || a.ruleNumber - b.ruleNumber;

function aclEntryXml(entry: FakeAclEntry): string {
  return (
    '<item>' +
    el('ruleNumber', entry.ruleNumber) +
    el('protocol', entry.protocol) +
    el('ruleAction', entry.ruleAction) +
    el('egress', entry.egress) +
    el('cidrBlock', entry.cidrBlock) +
    el('ipv6CidrBlock', entry.ipv6CidrBlock) +
    (entry.icmpTypeCode === undefined
      ? ''
      : `<icmpTypeCode>${el('code', entry.icmpTypeCode.code)}${el('type', entry.icmpTypeCode.type)}</icmpTypeCode>`) +
    (entry.portRange === undefined
      ? ''
      : `<portRange>${el('from', entry.portRange.from)}${el('to', entry.portRange.to)}</portRange>`) +
    '</item>'
  );
}

function networkAclXml(acl: FakeNetworkAcl): string {
  // EC2 lists egress entries first.
  const entries = [...acl.entries].sort(
    (a, b) => Number(b.egress) - Number(a.egress) || a.ruleNumber - b.ruleNumber,
  );
  const associations = acl.associations
    .map(
      (a) =>
        `<item>${el('networkAclAssociationId', a.id)}${el('networkAclId', acl.id)}${el('subnetId', a.subnetId)}</item>`,
    )
    .join('');
  return (
    '<item>' +
    el('networkAclId', acl.id) +
    el('vpcId', acl.vpcId) +
    el('default', acl.isDefault) +
    `<entrySet>${entries.map(aclEntryXml).join('')}</entrySet>` +
    `<associationSet>${associations}</associationSet>` +
    '<tagSet/>' +
    el('ownerId', acl.ownerId) +
    '</item>'
  );
}

function networkInterfaceXml(eni: FakeNetworkInterface): string {
  const groups = eni.groups
    .map((g) => `<item>${el('groupId', g.groupId)}${el('groupName', g.groupName)}</item>`)
    .join('');
  const tracking = eni.connectionTracking;
  return (
    '<item>' +
    el('networkInterfaceId', eni.id) +
    el('subnetId', eni.subnetId) +
    el('vpcId', eni.vpcId) +
    el('description', '') +
    el('ownerId', eni.ownerId) +
    el('requesterManaged', false) +
    el('status', eni.status) +
    el('sourceDestCheck', true) +
    el('interfaceType', 'interface') +
    `<groupSet>${groups}</groupSet>` +
    '<tagSet/>' +
    (tracking === undefined
      ? ''
      : `<connectionTrackingConfiguration>${el('tcpEstablishedTimeout', tracking.tcpEstablishedTimeout)}${el('udpStreamTimeout', tracking.udpStreamTimeout)}${el('udpTimeout', tracking.udpTimeout)}</connectionTrackingConfiguration>`) +
    '</item>'
  );
}

type MutableAcl = Omit<FakeNetworkAcl, 'associations' | 'entries'> & {
  associations: FakeAclAssociation[];
  entries: FakeAclEntry[];
};

const copyAcl = (acl: MutableAcl): FakeNetworkAcl => ({
  ...acl,
  associations: acl.associations.map((a) => ({ ...a })),
  entries: [...acl.entries].sort(byDirectionThenNumber),
});

/** Starts the fake on an ephemeral port of 127.0.0.1. */
export async function startFakeEc2(opts: FakeEc2Options = {}): Promise<FakeEc2> {
  const now = opts.now ?? (() => new Date());
  const groups = opts.groups === undefined ? undefined : new Set(opts.groups);
  const rules: MutableRule[] = [];
  const calls: FakeEc2Call[] = [];
  const faults = new Map<string, Fault[]>();
  let stalled = 0;
  const limits = createEc2Limits();
  if (opts.latencyMs !== undefined) limits.setLatency(opts.latencyMs);
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

  /** DescribeSecurityGroups by GroupId.N: every id must exist for the caller, else `InvalidGroup.NotFound`, as EC2 answers. */
  const describeGroups: Handler = (params, { account }) => {
    const ids = indices(params, 'GroupId').map((n) => params.get(`GroupId.${n}`) ?? '');
    const items = ids.map((id) => {
      if (!/^sg-[0-9a-f]+$/.test(id)) throw new Ec2Error('InvalidGroupId.Malformed', `Invalid id: "${id}"`);
      const groupId = requireGroup(id, account);
      return (
        '<item>' +
        el('ownerId', ownerOf(groupId)) +
        el('groupId', groupId) +
        el('groupName', `group-${groupId}`) +
        el('groupDescription', 'fake') +
        el('vpcId', 'vpc-0123456789abcdef0') +
        '<ipPermissions/><ipPermissionsEgress/></item>'
      );
    });
    return `<securityGroupInfo>${items.join('')}</securityGroupInfo>`;
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

  const aclEntryLimit = opts.aclEntryLimit ?? DEFAULT_ACL_ENTRY_LIMIT;
  const acls: MutableAcl[] = [];
  const interfaces: FakeNetworkInterface[] = [];
  /** The VPC of every subnet a seed named. */
  const subnetVpcs = new Map<string, string>();

  const requireAcl = (aclId: string | undefined, account: string): MutableAcl => {
    if (aclId === undefined || aclId === '') {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter networkAclId');
    }
    const acl = acls.find((a) => a.id === aclId && a.ownerId === account);
    if (acl === undefined) {
      throw new Ec2Error('InvalidNetworkAclID.NotFound', `The network ACL '${aclId}' does not exist`);
    }
    return acl;
  };
  const entryNotFound = (aclId: string, ruleNumber: number, egress: boolean) =>
    new Ec2Error(
      'InvalidNetworkAclEntry.NotFound',
      `The network ACL entry identified by rule number ${ruleNumber} (${egress ? 'egress' : 'ingress'}) does not exist in '${aclId}'`,
    );
  const sameSlot = (entry: Pick<FakeAclEntry, 'ruleNumber' | 'egress'>) => (e: FakeAclEntry) =>
    e.ruleNumber === entry.ruleNumber && e.egress === entry.egress;

  const interfaceFilters = new Map<string, (eni: FakeNetworkInterface) => readonly string[]>([
    ['group-id', (eni) => eni.groups.map((g) => g.groupId)],
    ['group-name', (eni) => eni.groups.map((g) => g.groupName)],
    ['network-interface-id', (eni) => [eni.id]],
    ['owner-id', (eni) => [eni.ownerId]],
    ['status', (eni) => [eni.status]],
    ['subnet-id', (eni) => [eni.subnetId]],
    ['vpc-id', (eni) => [eni.vpcId]],
  ]);

  const describeInterfaces: Handler = (params, { account }) => {
    const mine = interfaces.filter((eni) => eni.ownerId === account);
    const ids = stringList(params, 'NetworkInterfaceId');
    if (ids.length > 0 && params.get('MaxResults') !== undefined) {
      throw new Ec2Error(
        'InvalidParameterCombination',
        'The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults',
      );
    }
    for (const id of ids) {
      if (!/^eni-[0-9a-f]+$/.test(id)) {
        throw new Ec2Error(
          'InvalidNetworkInterfaceID.Malformed',
          `Invalid id: "${id}" (expecting "eni-...")`,
        );
      }
      if (!mine.some((eni) => eni.id === id)) {
        throw new Ec2Error(
          'InvalidNetworkInterfaceID.NotFound',
          `The networkInterface ID '${id}' does not exist`,
        );
      }
    }
    const selected = applyFilters(
      ids.length > 0 ? mine.filter((eni) => ids.includes(eni.id)) : mine,
      params,
      interfaceFilters,
    );
    const { page, next } = paginate(selected, params, 5, 1000);
    return `<networkInterfaceSet>${page.map(networkInterfaceXml).join('')}</networkInterfaceSet>${el('nextToken', next)}`;
  };

  const aclFilters = new Map<string, (acl: MutableAcl) => readonly string[]>([
    ['association.association-id', (acl) => acl.associations.map((a) => a.id)],
    ['association.network-acl-id', (acl) => (acl.associations.length > 0 ? [acl.id] : [])],
    ['association.subnet-id', (acl) => acl.associations.map((a) => a.subnetId)],
    ['default', (acl) => [String(acl.isDefault)]],
    ['network-acl-id', (acl) => [acl.id]],
    ['owner-id', (acl) => [acl.ownerId]],
    ['vpc-id', (acl) => [acl.vpcId]],
  ]);

  const describeAcls: Handler = (params, { account }) => {
    const mine = acls.filter((acl) => acl.ownerId === account);
    const ids = stringList(params, 'NetworkAclId');
    for (const id of ids) requireAcl(id, account);
    const selected = applyFilters(
      ids.length > 0 ? mine.filter((acl) => ids.includes(acl.id)) : mine,
      params,
      aclFilters,
    );
    const { page, next } = paginate(selected, params, 5, 100);
    return `<networkAclSet>${page.map((acl) => networkAclXml(copyAcl(acl))).join('')}</networkAclSet>${el('nextToken', next)}`;
  };

  const createAclEntry: Handler = (params, { account }) => {
    if (!params.get('NetworkAclId')) requireAcl(undefined, account);
    const entry = parseAclEntry(rawAclEntry(params));
    const acl = requireAcl(params.get('NetworkAclId'), account);
    if (acl.entries.some(sameSlot(entry))) {
      throw new Ec2Error(
        'NetworkAclEntryAlreadyExists',
        `The network acl entry identified by ${entry.ruleNumber} already exists.`,
      );
    }
    const numbered = acl.entries.filter(
      (e) => e.egress === entry.egress && e.ruleNumber <= MAX_ACL_RULE_NUMBER,
    );
    if (numbered.length >= aclEntryLimit) {
      throw new Ec2Error(
        'NetworkAclEntryLimitExceeded',
        `The maximum number of ${entry.egress ? 'egress' : 'ingress'} entries (${aclEntryLimit}) has been reached for network ACL '${acl.id}'.`,
      );
    }
    acl.entries.push(entry);
    return '<return>true</return>';
  };

  const replaceAclEntry: Handler = (params, { account }) => {
    if (!params.get('NetworkAclId')) requireAcl(undefined, account);
    const entry = parseAclEntry(rawAclEntry(params));
    const acl = requireAcl(params.get('NetworkAclId'), account);
    const index = acl.entries.findIndex(sameSlot(entry));
    if (index < 0) throw entryNotFound(acl.id, entry.ruleNumber, entry.egress);
    acl.entries[index] = entry;
    return '<return>true</return>';
  };

  const deleteAclEntry: Handler = (params, { account }) => {
    if (!params.get('NetworkAclId')) requireAcl(undefined, account);
    const ruleNumber = aclRuleNumber(params.get('RuleNumber'));
    const egress = boolParam(params.get('Egress'), 'egress');
    const acl = requireAcl(params.get('NetworkAclId'), account);
    const index = acl.entries.findIndex(sameSlot({ ruleNumber, egress }));
    if (index < 0) throw entryNotFound(acl.id, ruleNumber, egress);
    acl.entries.splice(index, 1);
    return '<return>true</return>';
  };

  const handlers = new Map<string, Handler>([
    ['AuthorizeSecurityGroupIngress', authorize],
    ['DescribeSecurityGroups', describeGroups],
    ['RevokeSecurityGroupIngress', revoke],
    ['DescribeSecurityGroupRules', describe],
    ['CreateTags', createTags],
    ['DescribeNetworkInterfaces', describeInterfaces],
    ['DescribeNetworkAcls', describeAcls],
    ['CreateNetworkAclEntry', createAclEntry],
    ['ReplaceNetworkAclEntry', replaceAclEntry],
    ['DeleteNetworkAclEntry', deleteAclEntry],
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
    // Metered at arrival, before anything else: a call beyond the account's rate is refused whole.
    const admitted = limits.admit(action);
    calls.push({
      action,
      params: Object.fromEntries(params),
      accessKeyId,
      at: now(),
      ...(admitted ? {} : { throttled: true }),
    });
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
    if (!admitted) {
      sendError(res, new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503), requestId);
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
    if (fault?.stall === true) {
      stalled += 1;
      return;
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
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const latency = limits.latencyMs();
      if (latency === 0) handle(req, body, res);
      else setTimeout(() => handle(req, body, res), latency);
    });
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
        id: seed.id ?? newRuleId(),
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
    addNetworkAcl(seed) {
      const id = seed.id ?? newId('acl');
      if (acls.some((a) => a.id === id)) throw new Error(`fake-ec2: network ACL ${id} already exists`);
      const known = seed.subnetIds.map((s) => subnetVpcs.get(s)).find((v) => v !== undefined);
      const vpcId = seed.vpcId ?? known ?? DEFAULT_VPC_ID;
      for (const subnetId of seed.subnetIds) {
        const vpc = subnetVpcs.get(subnetId);
        if (vpc !== undefined && vpc !== vpcId) {
          throw new Error(`fake-ec2: subnet ${subnetId} is in ${vpc}, not ${vpcId}`);
        }
      }
      if (seed.isDefault === true && acls.some((a) => a.vpcId === vpcId && a.isDefault)) {
        throw new Error(`fake-ec2: ${vpcId} already has a default network ACL`);
      }
      const ipv6 = seed.ipv6 === true;
      const allowAll: SeedAclEntry[] = [false, true].flatMap((egress) => [
        { ruleNumber: 100, egress, cidrBlock: '0.0.0.0/0' },
        ...(ipv6 ? [{ ruleNumber: 101, egress, ipv6CidrBlock: '::/0' }] : []),
      ]);
      const entries = defaultAclEntries(ipv6);
      for (const e of seed.entries ?? (seed.isDefault === true ? allowAll : [])) {
        const entry = parseAclEntry({
          ruleNumber: String(e.ruleNumber),
          protocol: e.protocol ?? '-1',
          ruleAction: e.ruleAction ?? 'allow',
          egress: String(e.egress ?? false),
          cidrBlock: e.cidrBlock,
          ipv6CidrBlock: e.ipv6CidrBlock,
          from: optString(e.portRange?.from),
          to: optString(e.portRange?.to),
          icmpType: optString(e.icmpTypeCode?.type),
          icmpCode: optString(e.icmpTypeCode?.code),
        });
        if (entries.some(sameSlot(entry))) {
          throw new Error(`fake-ec2: duplicate entry ${entry.ruleNumber} (egress ${entry.egress})`);
        }
        entries.push(entry);
      }
      // A subnet is associated with exactly one ACL: a new association replaces the old one.
      for (const other of acls) {
        other.associations = other.associations.filter((a) => !seed.subnetIds.includes(a.subnetId));
      }
      for (const subnetId of seed.subnetIds) subnetVpcs.set(subnetId, vpcId);
      const acl: MutableAcl = {
        id,
        vpcId,
        isDefault: seed.isDefault === true,
        ownerId: seed.account ?? OWNER_ID,
        associations: seed.subnetIds.map((subnetId) => ({ id: newId('aclassoc'), subnetId })),
        entries,
      };
      acls.push(acl);
      return copyAcl(acl);
    },
    addNetworkInterface(seed) {
      const id = seed.id ?? newId('eni');
      if (interfaces.some((eni) => eni.id === id)) {
        throw new Error(`fake-ec2: network interface ${id} already exists`);
      }
      const vpcId = seed.vpcId ?? subnetVpcs.get(seed.subnetId) ?? DEFAULT_VPC_ID;
      subnetVpcs.set(seed.subnetId, vpcId);
      for (const groupId of seed.groupIds) groups?.add(groupId);
      const timeouts = [seed.tcpEstablishedTimeout, seed.udpStreamTimeout, seed.udpTimeout];
      const eni: FakeNetworkInterface = {
        id,
        subnetId: seed.subnetId,
        vpcId,
        ownerId: seed.account ?? OWNER_ID,
        groups: seed.groupIds.map((groupId) => ({
          groupId,
          groupName: seed.groupNames?.[groupId] ?? groupId,
        })),
        status: 'in-use',
        connectionTracking: timeouts.every((t) => t === undefined)
          ? undefined
          : {
              tcpEstablishedTimeout: seed.tcpEstablishedTimeout,
              udpStreamTimeout: seed.udpStreamTimeout,
              udpTimeout: seed.udpTimeout,
            },
      };
      interfaces.push(eni);
      return { ...eni, groups: eni.groups.map((g) => ({ ...g })) };
    },
    networkAcls: () => acls.map(copyAcl),
    aclEntries(aclId) {
      const acl = acls.find((a) => a.id === aclId);
      if (acl === undefined) throw new Error(`fake-ec2: no network ACL ${aclId}`);
      return copyAcl(acl).entries.map((e) => ({ ...e }));
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
    stallNext(action, times = 1) {
      const queue = faults.get(action) ?? [];
      queue.push({ code: '', status: 0, remaining: times, afterApply: false, skip: 0, stall: true });
      faults.set(action, queue);
    },
    stalledCount: () => stalled,
    clearFaults() {
      faults.clear();
    },
    setRateLimit: (limit) => limits.setRateLimit(limit),
    setLatency: (ms) => limits.setLatency(ms),
    throttledCount: () => limits.throttledCount(),
    refusedCalls: () => limits.refused(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
