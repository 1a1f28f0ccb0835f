import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-memory STS and IAM for role sessions, served over HTTP on two ports (the SDK posts every Query
 * call to `/`, so one server cannot tell the services apart by path). Both speak the AWS Query protocol
 * the real SDK sends: form-encoded POST, `Action=…&Version=2011-06-15` (STS) or `2010-05-08` (IAM), XML
 * answers in the services' namespaces, errors as `<ErrorResponse>`. Point real clients at `stsUrl` and
 * `iamUrl` (or set `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL_IAM`). Signatures are not checked.
 *
 * STS: AssumeRole (validated as STS does: ARN, duration against the role's MaxSessionDuration, session
 * name, source identity and tag rules), GetCallerIdentity (knows the sessions it issued).
 * IAM: GetRole, PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies, SimulatePrincipalPolicy.
 */

/** A role the fake knows. Its account is the one in the ARN. */
export type FakeRoleSeed = {
  readonly arn: string;
  /** Seconds; 3600 (the IAM default) when absent. */
  readonly maxSessionDuration?: number;
  /** `AROA…`; derived from the ARN when absent, so it is stable across runs. */
  readonly roleId?: string;
  /**
   * The actions its trust policy allows hallpass's account (the README's trust policy: `sts:AssumeRole`,
   * `sts:TagSession`, `sts:SetSourceIdentity`, the default). Only reported by GetRole; not enforced.
   */
  readonly trustedActions?: readonly string[];
};

/** A role as the fake keeps it. */
export type FakeRole = {
  readonly arn: string;
  readonly name: string;
  readonly path: string;
  readonly account: string;
  readonly roleId: string;
  readonly maxSessionDuration: number;
  readonly trustedActions: readonly string[];
};

/** A session the fake issued, with its secrets, so tests can look for them where they must not be. */
export type FakeSession = {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly sourceIdentity?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly durationSeconds: number;
  /** `AROA…:<sessionName>`: the session's `aws:userid`. */
  readonly assumedRoleId: string;
  readonly assumedRoleArn: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
  /** The region of the STS endpoint that issued it (from the request's SigV4 scope). */
  readonly region: string;
};

export type FakeService = 'sts' | 'iam';

/** One request the fake received (including those answered with an injected fault). */
export type FakeStsIamCall = {
  readonly service: FakeService;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  /** The access key id the request was signed with. */
  readonly accessKeyId?: string | undefined;
};

export interface FakeStsIam {
  /** Base URL of the STS server, e.g. `http://127.0.0.1:41234`. */
  readonly stsUrl: string;
  /** Base URL of the IAM server. */
  readonly iamUrl: string;
  /** Every request received by either server, oldest first. */
  readonly calls: FakeStsIamCall[];
  /** Every session issued, oldest first. */
  readonly sessions: FakeSession[];
  /** The role with this ARN; throws when the fake does not know it. */
  role(roleArn: string): FakeRole;
  /** Adds a role after start. */
  addRole(seed: FakeRoleSeed): FakeRole;
  /** The role's inline policies: name → parsed document. */
  rolePolicies(roleArn: string): Record<string, unknown>;
  /**
   * Puts an inline policy on the role as someone else would have (an operator, an older hallpass),
   * without a recorded call and without IAM's checks: test set-up.
   */
  putRolePolicy(roleArn: string, policyName: string, document: string): void;
  /**
   * Whether the role's inline policies deny everything to this session: a `Deny` of `*` on `*` whose
   * only condition matches its `aws:userid` (`StringLike` or `StringEquals`, one value or a list of
   * them). The shape hallpass writes, not a general IAM evaluator.
   */
  sessionDenied(assumedRoleId: string): boolean;
  /**
   * Actions `SimulatePrincipalPolicy` reports as `implicitDeny` for hallpass's identity (every other
   * action is `allowed`); the fake simulates, it does not enforce.
   */
  denyInSimulation(actions: readonly string[]): void;
  /** Answers the next `times` calls of `service`'s `action` with this AWS error code and HTTP status. */
  failNext(service: FakeService, action: string, code: string, httpStatus?: number, times?: number): void;
  /** Stops both servers, dropping keep-alive connections. */
  close(): Promise<void>;
}

export type FakeStsIamOptions = {
  readonly roles?: readonly FakeRoleSeed[];
  /** The fake's time: session expirations are `now() + DurationSeconds`. The system clock when absent. */
  readonly now?: () => Date;
};

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const VERSIONS: Readonly<Record<FakeService, string>> = { sts: '2011-06-15', iam: '2010-05-08' };
/** The caller of every request not signed with an issued session key. */
const CALLER = {
  account: '123456789012',
  arn: 'arn:aws:iam::123456789012:user/hallpass',
  userId: 'AIDAHALLPASSEXAMPLE01',
};

const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role(\/(?:[\x21-\x7e]+\/)?)([\w+=,.@-]{1,64})$/;
const NAME_CHARS = /^[\w+=,.@-]*$/;
/** Tag keys and values: Unicode letters, separators and digits, and `_.:/=+-@`. */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MIN_DURATION = 900;
const MAX_DURATION = 43_200;
const MAX_TAGS = 50;
/** IAM limits the inline policies of one role to this many non-whitespace characters in total. */
const MAX_INLINE_POLICY_CHARS = 10_240;

class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

type Params = Map<string, string>;
type Fault = { code: string; status: number; remaining: number };
type Context = { region: string; accessKeyId: string | undefined };
type Handler = (params: Params, ctx: Context) => string;

const escapeXml = (text: string): string =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

const el = (name: string, value: string | number | boolean | undefined): string =>
  value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;

/** ISO-8601 to the second, as STS and IAM write timestamps. */
const isoSeconds = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The distinct list indices under `prefix` (`Tags.member.1.Key`, `Tags.member.2.Key` → [1, 2]). */
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

const validationError = (message: string) => new AwsFault('ValidationError', message);

/** The message AWS writes for a model constraint, e.g. "Member must have length less than or equal to 64". */
const constraint = (value: string, member: string, rule: string) =>
  validationError(
    `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${rule}`,
  );

function requireParam(params: Params, name: string, service: FakeService): string {
  const value = params.get(name);
  if (value === undefined) {
    throw service === 'iam'
      ? new AwsFault('MissingParameter', `The request must contain the parameter ${name}`)
      : validationError(
          `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
        );
  }
  return value;
}

/** RoleSessionName and SourceIdentity: 2 to 64 characters of `[\w+=,.@-]`. */
function checkName(value: string, member: string): void {
  if (value.length < 2) throw constraint(value, member, 'Member must have length greater than or equal to 2');
  if (value.length > 64) throw constraint(value, member, 'Member must have length less than or equal to 64');
  if (!NAME_CHARS.test(value)) {
    throw constraint(value, member, 'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
  }
}

/** A stable, AWS-looking role id from the ARN: `AROA` and 17 upper-case letters and digits. */
function roleIdFor(arn: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const digest = createHash('sha256').update(arn).digest();
  return `AROA${Array.from(digest.subarray(0, 17), (b) => alphabet[b % 32]).join('')}`;
}

/** An access key id with the given prefix (`ASIA` for session keys), 20 characters in all. */
function accessKeyId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return prefix + Array.from(randomBytes(16), (b) => alphabet[b % 32]).join('');
}

/** `*` and `?` as in IAM's StringLike. */
const globMatches = (pattern: string, value: string): boolean => {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(value);
};

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;

/** Whether one policy statement is a Deny of everything conditioned only on `aws:userid` matching. */
function deniesSession(statement: unknown, assumedRoleId: string): boolean {
  if (field(statement, 'Effect') !== 'Deny') return false;
  if (!asArray(field(statement, 'Action')).includes('*')) return false;
  if (!asArray(field(statement, 'Resource')).includes('*')) return false;
  const condition = field(statement, 'Condition');
  if (typeof condition !== 'object' || condition === null) return false;
  const operators = Object.keys(condition);
  if (operators.length !== 1) return false;
  const [operator] = operators;
  if (operator !== 'StringLike' && operator !== 'StringEquals') return false;
  const keys = field(condition, operator);
  if (typeof keys !== 'object' || keys === null || Object.keys(keys).length !== 1) return false;
  // Condition keys are case-insensitive in IAM.
  const [key] = Object.keys(keys);
  if (key?.toLowerCase() !== 'aws:userid') return false;
  return asArray(field(keys, key)).some(
    (v) =>
      typeof v === 'string' &&
      (operator === 'StringLike' ? globMatches(v, assumedRoleId) : v === assumedRoleId),
  );
}

async function listen(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    server.closeAllConnections();
  });

/** Starts STS and IAM on two ephemeral ports of 127.0.0.1. */
export async function startFakeStsIam(opts: FakeStsIamOptions = {}): Promise<FakeStsIam> {
  const now = opts.now ?? (() => new Date());
  const roles = new Map<string, FakeRole>();
  /** Inline policies per role ARN: name → document text as given. */
  const policies = new Map<string, Map<string, string>>();
  const calls: FakeStsIamCall[] = [];
  const sessions: FakeSession[] = [];
  const faults = new Map<string, Fault[]>();

  const addRole = (seed: FakeRoleSeed): FakeRole => {
    const match = ROLE_ARN.exec(seed.arn);
    if (match === null) throw new Error(`fake-sts-iam: not a role ARN: ${seed.arn}`);
    const [, , account = '', path = '/', name = ''] = match;
    // IAM role names are unique per account whatever their path; GetRole takes the name alone.
    for (const other of roles.values()) {
      if (other.name === name && other.arn !== seed.arn) {
        throw new Error(`fake-sts-iam: two roles named ${name}; the fake serves one account's IAM`);
      }
    }
    const role: FakeRole = {
      arn: seed.arn,
      name,
      path,
      account,
      roleId: seed.roleId ?? roleIdFor(seed.arn),
      maxSessionDuration: seed.maxSessionDuration ?? 3600,
      trustedActions: seed.trustedActions ?? ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
    };
    roles.set(seed.arn, role);
    if (!policies.has(seed.arn)) policies.set(seed.arn, new Map());
    return role;
  };
  for (const seed of opts.roles ?? []) addRole(seed);

  const roleByName = (name: string): FakeRole => {
    for (const role of roles.values()) if (role.name === name) return role;
    throw new AwsFault('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
  };
  const policiesOf = (role: FakeRole): Map<string, string> => {
    const found = policies.get(role.arn);
    if (found !== undefined) return found;
    const created = new Map<string, string>();
    policies.set(role.arn, created);
    return created;
  };

  // ---- STS ----

  const assumeRole: Handler = (params, { region, accessKeyId: caller }) => {
    const roleArn = requireParam(params, 'RoleArn', 'sts');
    const sessionName = requireParam(params, 'RoleSessionName', 'sts');
    if (roleArn.length < 20) {
      throw constraint(roleArn, 'roleArn', 'Member must have length greater than or equal to 20');
    }
    if (!ROLE_ARN.test(roleArn)) throw validationError(`${roleArn} is invalid`);
    checkName(sessionName, 'roleSessionName');
    const durationText = params.get('DurationSeconds');
    const durationSeconds = durationText === undefined ? 3600 : Number(durationText);
    if (!Number.isInteger(durationSeconds) || durationSeconds < MIN_DURATION) {
      throw constraint(
        String(durationText),
        'durationSeconds',
        'Member must have value greater than or equal to 900',
      );
    }
    if (durationSeconds > MAX_DURATION) {
      throw constraint(
        String(durationText),
        'durationSeconds',
        'Member must have value less than or equal to 43200',
      );
    }
    const sourceIdentity = params.get('SourceIdentity');
    if (sourceIdentity !== undefined) {
      checkName(sourceIdentity, 'sourceIdentity');
      if (sourceIdentity.toLowerCase().startsWith('aws:')) {
        throw validationError('SourceIdentity cannot begin with the prefix aws:');
      }
    }
    const tags: Record<string, string> = {};
    const tagIndices = indices(params, 'Tags.member');
    if (tagIndices.length > MAX_TAGS) {
      throw constraint('[…]', 'tags', `Member must have length less than or equal to ${MAX_TAGS}`);
    }
    for (const n of tagIndices) {
      const key = params.get(`Tags.member.${n}.Key`) ?? '';
      const value = params.get(`Tags.member.${n}.Value`) ?? '';
      if (key.length < 1 || key.length > 128 || !TAG_CHARS.test(key)) {
        throw constraint(
          key,
          `tags.${n}.member.key`,
          'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+',
        );
      }
      if (value.length > 256 || !TAG_CHARS.test(value)) {
        throw constraint(
          value,
          `tags.${n}.member.value`,
          'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*',
        );
      }
      if (key.toLowerCase().startsWith('aws:'))
        throw validationError('Tag keys cannot begin with the prefix aws:');
      // Session tag keys are case-insensitive: two spellings of one key are a duplicate.
      if (Object.keys(tags).some((k) => k.toLowerCase() === key.toLowerCase())) {
        throw validationError(`Duplicate tag keys found. Please note that Tag keys are case insensitive.`);
      }
      tags[key] = value;
    }
    const role = roles.get(roleArn);
    if (role === undefined) {
      // STS does not say whether the role exists: to the caller, a missing role is a refusal.
      throw new AwsFault(
        'AccessDenied',
        `User: ${CALLER.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        403,
      );
    }
    if (durationSeconds > role.maxSessionDuration) {
      throw validationError(
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }
    if (durationSeconds > 3600 && sessions.some((s) => s.accessKeyId === caller)) {
      throw validationError(
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      );
    }
    const partition = /^arn:([^:]+):/.exec(roleArn)?.[1] ?? 'aws';
    const session: FakeSession = {
      roleArn,
      sessionName,
      sourceIdentity,
      tags,
      durationSeconds,
      assumedRoleId: `${role.roleId}:${sessionName}`,
      assumedRoleArn: `arn:${partition}:sts::${role.account}:assumed-role/${role.name}/${sessionName}`,
      accessKeyId: accessKeyId('ASIA'),
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(96).toString('base64'),
      expiration: new Date(Math.floor((now().getTime() + durationSeconds * 1000) / 1000) * 1000),
      region,
    };
    sessions.push(session);
    return (
      '<AssumeRoleResult>' +
      el('SourceIdentity', sourceIdentity) +
      `<AssumedRoleUser>${el('Arn', session.assumedRoleArn)}${el('AssumedRoleId', session.assumedRoleId)}</AssumedRoleUser>` +
      '<Credentials>' +
      el('AccessKeyId', session.accessKeyId) +
      el('SecretAccessKey', session.secretAccessKey) +
      el('SessionToken', session.sessionToken) +
      el('Expiration', isoSeconds(session.expiration)) +
      '</Credentials>' +
      el('PackedPolicySize', tagIndices.length > 0 ? 1 : undefined) +
      '</AssumeRoleResult>'
    );
  };

  const getCallerIdentity: Handler = (_params, { accessKeyId: caller }) => {
    const session = sessions.find((s) => s.accessKeyId === caller);
    const identity =
      session === undefined
        ? CALLER
        : {
            account: roles.get(session.roleArn)?.account ?? CALLER.account,
            arn: session.assumedRoleArn,
            userId: session.assumedRoleId,
          };
    return `<GetCallerIdentityResult>${el('Arn', identity.arn)}${el('UserId', identity.userId)}${el('Account', identity.account)}</GetCallerIdentityResult>`;
  };

  // ---- IAM ----

  const roleXml = (role: FakeRole): string =>
    '<Role>' +
    el('Path', role.path) +
    el('RoleName', role.name) +
    el('RoleId', role.roleId) +
    el('Arn', role.arn) +
    el('CreateDate', '2026-01-01T00:00:00Z') +
    el(
      'AssumeRolePolicyDocument',
      encodeURIComponent(
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${CALLER.account}:root` },
              Action: role.trustedActions,
            },
          ],
        }),
      ),
    ) +
    el('MaxSessionDuration', role.maxSessionDuration) +
    '</Role>';

  const policyName = (params: Params): string => {
    const name = requireParam(params, 'PolicyName', 'iam');
    if (name.length < 1 || name.length > 128 || !/^[\w+=,.@-]+$/.test(name)) {
      throw constraint(name, 'policyName', 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
    }
    return name;
  };

  const getRole: Handler = (params) =>
    `<GetRoleResult>${roleXml(roleByName(requireParam(params, 'RoleName', 'iam')))}</GetRoleResult>`;

  const putRolePolicy: Handler = (params) => {
    const role = roleByName(requireParam(params, 'RoleName', 'iam'));
    const name = policyName(params);
    const document = requireParam(params, 'PolicyDocument', 'iam');
    let parsed: unknown;
    try {
      parsed = JSON.parse(document);
    } catch {
      throw new AwsFault('MalformedPolicyDocument', 'Syntax errors in policy.');
    }
    const statements = field(parsed, 'Statement');
    if (statements === undefined || asArray(statements).length === 0) {
      throw new AwsFault('MalformedPolicyDocument', 'Policy document must contain at least one statement.');
    }
    for (const statement of asArray(statements)) {
      const effect = field(statement, 'Effect');
      if (effect !== 'Allow' && effect !== 'Deny') {
        throw new AwsFault('MalformedPolicyDocument', 'Policy statement must contain a valid Effect.');
      }
      if (field(statement, 'Action') === undefined && field(statement, 'NotAction') === undefined) {
        throw new AwsFault('MalformedPolicyDocument', 'Policy statement must contain actions.');
      }
      if (field(statement, 'Principal') !== undefined) {
        throw new AwsFault('MalformedPolicyDocument', 'Policy document should not specify a principal.');
      }
    }
    const existing = policiesOf(role);
    const size = (text: string) => text.replace(/\s/g, '').length;
    let total = size(document);
    for (const [other, text] of existing) if (other !== name) total += size(text);
    if (total > MAX_INLINE_POLICY_CHARS) {
      throw new AwsFault(
        'LimitExceeded',
        `Maximum policy size of ${MAX_INLINE_POLICY_CHARS} bytes exceeded for role ${role.name}`,
        409,
      );
    }
    existing.set(name, document);
    return '';
  };

  const getRolePolicy: Handler = (params) => {
    const role = roleByName(requireParam(params, 'RoleName', 'iam'));
    const name = policyName(params);
    const document = policiesOf(role).get(name);
    if (document === undefined) {
      throw new AwsFault('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
    }
    // IAM returns policy documents URL-encoded (RFC 3986).
    return `<GetRolePolicyResult>${el('RoleName', role.name)}${el('PolicyName', name)}${el('PolicyDocument', encodeURIComponent(document))}</GetRolePolicyResult>`;
  };

  const deleteRolePolicy: Handler = (params) => {
    const role = roleByName(requireParam(params, 'RoleName', 'iam'));
    const name = policyName(params);
    if (!policiesOf(role).delete(name)) {
      throw new AwsFault('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
    }
    return '';
  };

  const listRolePolicies: Handler = (params) => {
    const role = roleByName(requireParam(params, 'RoleName', 'iam'));
    const maxItems = Number(params.get('MaxItems') ?? '100');
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 1000) {
      throw constraint(
        String(params.get('MaxItems')),
        'maxItems',
        'Member must have value between 1 and 1000',
      );
    }
    const start = Number(params.get('Marker') ?? '0');
    if (!Number.isInteger(start) || start < 0) throw validationError('Invalid Marker');
    const names = [...policiesOf(role).keys()].sort();
    const page = names.slice(start, start + maxItems);
    const truncated = start + maxItems < names.length;
    return (
      '<ListRolePoliciesResult>' +
      `<PolicyNames>${page.map((n) => el('member', n)).join('')}</PolicyNames>` +
      el('IsTruncated', truncated) +
      el('Marker', truncated ? String(start + maxItems) : undefined) +
      '</ListRolePoliciesResult>'
    );
  };

  const simulatedDenials = new Set<string>();
  /** SimulatePrincipalPolicy for hallpass's own identity: one result per action and resource. */
  const simulatePrincipalPolicy: Handler = (params) => {
    const source = requireParam(params, 'PolicySourceArn', 'iam');
    if (source !== CALLER.arn) {
      const name = source.slice(source.lastIndexOf('/') + 1);
      throw new AwsFault('NoSuchEntity', `The user with name ${name} cannot be found.`, 404);
    }
    const list = (prefix: string) => indices(params, prefix).map((n) => params.get(`${prefix}.${n}`) ?? '');
    const actions = list('ActionNames.member');
    const resources = list('ResourceArns.member');
    const results = actions.flatMap((action) =>
      (resources.length === 0 ? ['*'] : resources).map(
        (resource) =>
          '<member>' +
          el('EvalActionName', action) +
          el('EvalResourceName', resource) +
          el('EvalDecision', simulatedDenials.has(action) ? 'implicitDeny' : 'allowed') +
          '<MatchedStatements/><MissingContextValues/></member>',
      ),
    );
    return `<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>${results.join('')}</EvaluationResults></SimulatePrincipalPolicyResult>`;
  };

  const handlers: Readonly<Record<FakeService, ReadonlyMap<string, Handler>>> = {
    sts: new Map([
      ['AssumeRole', assumeRole],
      ['GetCallerIdentity', getCallerIdentity],
    ]),
    iam: new Map([
      ['GetRole', getRole],
      ['PutRolePolicy', putRolePolicy],
      ['GetRolePolicy', getRolePolicy],
      ['DeleteRolePolicy', deleteRolePolicy],
      ['ListRolePolicies', listRolePolicies],
      ['SimulatePrincipalPolicy', simulatePrincipalPolicy],
    ]),
  };

  const send = (res: ServerResponse, status: number, body: string, requestId: string) => {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  };
  const sendError = (res: ServerResponse, service: FakeService, error: AwsFault, requestId: string) =>
    send(
      res,
      error.status,
      `<ErrorResponse xmlns="${service === 'sts' ? STS_NS : IAM_NS}"><Error>${el('Type', error.type)}${el('Code', error.code)}${el('Message', error.message)}</Error>${el('RequestId', requestId)}</ErrorResponse>`,
      requestId,
    );

  const handle = (service: FakeService) => (req: IncomingMessage, body: string, res: ServerResponse) => {
    const requestId = randomUUID();
    const params: Params = new Map(new URLSearchParams(body).entries());
    const action = params.get('Action') ?? '';
    // SigV4: Credential=AKID/20260101/us-east-1/sts/aws4_request names the key and the region.
    const scope = /Credential=([^/,\s]+)\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '');
    const ctx: Context = { accessKeyId: scope?.[1], region: scope?.[2] ?? 'us-east-1' };
    calls.push({ service, action, params: Object.fromEntries(params), accessKeyId: ctx.accessKeyId });
    const handler = handlers[service].get(action);
    if (req.method !== 'POST' || handler === undefined) {
      sendError(
        res,
        service,
        new AwsFault(
          'InvalidAction',
          `Could not find operation ${action} for version ${params.get('Version') ?? ''}`,
        ),
        requestId,
      );
      return;
    }
    if (params.get('Version') !== VERSIONS[service]) {
      sendError(
        res,
        service,
        new AwsFault(
          'InvalidAction',
          `Could not find operation ${action} for version ${params.get('Version') ?? ''}`,
        ),
        requestId,
      );
      return;
    }
    const queue = faults.get(`${service}:${action}`) ?? [];
    const fault = queue[0];
    if (fault !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) queue.shift();
    }
    try {
      if (fault !== undefined) throw new AwsFault(fault.code, `Injected fault: ${fault.code}`, fault.status);
      const result = handler(params, ctx);
      send(
        res,
        200,
        `<${action}Response xmlns="${service === 'sts' ? STS_NS : IAM_NS}">${result}<ResponseMetadata>${el('RequestId', requestId)}</ResponseMetadata></${action}Response>`,
        requestId,
      );
    } catch (error) {
      const e =
        error instanceof AwsFault
          ? error
          : new AwsFault('InternalFailure', `fake-sts-iam: ${String(error)}`, 500);
      sendError(res, service, e, requestId);
    }
  };

  const sts = await listen(handle('sts'));
  const iam = await listen(handle('iam')).catch(async (error: unknown) => {
    await closeServer(sts);
    throw error;
  });
  const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const role = (roleArn: string): FakeRole => {
    const found = roles.get(roleArn);
    if (found === undefined) throw new Error(`fake-sts-iam: unknown role ${roleArn}`);
    return found;
  };

  return {
    stsUrl: urlOf(sts),
    iamUrl: urlOf(iam),
    calls,
    sessions,
    role,
    addRole,
    rolePolicies(roleArn) {
      const parsed: Record<string, unknown> = {};
      for (const [name, text] of policiesOf(role(roleArn))) parsed[name] = JSON.parse(text);
      return parsed;
    },
    putRolePolicy(roleArn, policyName, document) {
      policiesOf(role(roleArn)).set(policyName, document);
    },
    sessionDenied(assumedRoleId) {
      const roleId = assumedRoleId.split(':')[0];
      const owner = [...roles.values()].find((r) => r.roleId === roleId);
      if (owner === undefined) return false;
      return [...policiesOf(owner).values()].some((text) =>
        asArray(field(JSON.parse(text), 'Statement')).some((s) => deniesSession(s, assumedRoleId)),
      );
    },
    denyInSimulation(actions) {
      for (const a of actions) simulatedDenials.add(a);
    },
    failNext(service, action, code, httpStatus = 400, times = 1) {
      const key = `${service}:${action}`;
      const queue = faults.get(key) ?? [];
      queue.push({ code, status: httpStatus, remaining: times });
      faults.set(key, queue);
    },
    close: async () => {
      await Promise.all([closeServer(sts), closeServer(iam)]);
    },
  };
}
