import type { z } from 'zod';
import { awsRole, policySchema, securityGroup, show } from './schema';

/*
 * Turns zod's issues into the messages a user reads: one `path: message` line per problem, with zod's
 * wording replaced where it would not mean anything to someone editing YAML.
 */

/** Keys one kind of resource has and the other lacks: on the other kind they are misplaced, not unknown. */
const SG_ONLY_KEYS = [
  'securityGroupId',
  'protocol',
  'ports',
  'maxPrefix',
  'maxPrefixV6',
  'assumeRoleArn',
  'backstopGrace',
  'backstopRoleArn',
  'cutConnections',
];
const ROLE_ONLY_KEYS = ['roleArn'];

/** `['resources', 0, 'ports', 1]` → `resources[0].ports[1]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The value at a path of the raw YAML, to know a resource's kind when reporting a misplaced key. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || typeof key === 'symbol') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

const TOP_LEVEL_KEYS = Object.keys(policySchema.shape);
const RESOURCE_KEYS = [...new Set([...Object.keys(securityGroup.shape), ...Object.keys(awsRole.shape)])];

/** The key of the same level a typo most likely meant (edit distance ≤ 2), for "did you mean" hints. */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const known of candidates) {
    const distance = editDistance(key.toLowerCase(), known.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: known, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function unknownKeyMessage(key: string, topLevel: boolean, kind: unknown): string {
  if (kind === 'aws-role' && SG_ONLY_KEYS.includes(key)) return 'applies only to kind: security-group';
  if (kind === 'security-group' && ROLE_ONLY_KEYS.includes(key)) return 'applies only to kind: aws-role';
  const hint = closest(key, topLevel ? TOP_LEVEL_KEYS : RESOURCE_KEYS);
  return hint !== undefined && hint !== key ? `unknown field (did you mean ${hint}?)` : 'unknown field';
}

export function describe(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `text ${show(v)}`;
  return `${typeof v} ${show(v)}`;
}

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

/** One issue → one or more `path: message` lines. */
export function problemsOf(issue: z.core.$ZodIssue, root: unknown): string[] {
  const at = (path: readonly PropertyKey[], message: string) =>
    path.length === 0 ? message : `${formatPath(path)}: ${message}`;
  const input = valueAt(root, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const kind = valueAt(root, [...issue.path, 'kind']);
      const topLevel = issue.path.length === 0;
      return issue.keys.map((key) => at([...issue.path, key], unknownKeyMessage(key, topLevel, kind)));
    }
    case 'invalid_type':
      return [
        at(
          issue.path,
          input === undefined
            ? 'required'
            : `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${describe(input)}`,
        ),
      ];
    case 'invalid_union':
      // Only the discriminated union of resources raises this: `kind` is missing or unknown.
      return [
        at(
          issue.path,
          input === undefined
            ? 'required: security-group or aws-role'
            : `${show(input)} must be security-group or aws-role`,
        ),
      ];
    default:
      return [at(issue.path, issue.message)];
  }
}
