import type {
  DescribeNetworkAclsCommandOutput,
  DescribeNetworkInterfacesCommandOutput,
  EC2Client,
  NetworkAcl,
  NetworkInterface,
} from '@aws-sdk/client-ec2';
import { InfraError } from '../../app/infra-error';
import type { GroupSurvey, NetworkAcls, RuleTarget } from '../../app/ports';
import { hasAwsErrorCode, toInfraError } from './aws-errors';
import {
  CreateNetworkAclEntryCommand,
  DeleteNetworkAclEntryCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
} from './ec2-sdk';

/**
 * EC2's idle timeout for an established TCP connection when an interface sets none: five days, the
 * longest EC2 allows (Nitro v6 types default to 350 s, but nothing in the API says which applies, so
 * the survey assumes the longest).
 */
export const DEFAULT_TCP_ESTABLISHED_SECONDS = 432_000;

/** The lowest rule number of the default `*` entries (32767 for IPv4, 32768 for IPv6): not ours to count. */
const FIRST_DEFAULT_RULE_NUMBER = 32_767;

/** The most interfaces one DescribeNetworkInterfaces page may hold. */
const INTERFACES_PAGE_SIZE = 1000;
/** Bounds the interface listing: 100,000 interfaces on one group is far past any real deployment. */
const MAX_INTERFACE_PAGES = 100;
/** The most ACLs one DescribeNetworkAcls page may hold. */
const ACLS_PAGE_SIZE = 100;
/** A chunk of 200 subnets matches at most 200 ACLs: 2 pages of 100; the rest is margin. */
const MAX_ACL_PAGES = 10;
/** EC2 takes at most 200 values in one filter. */
const SUBNETS_PER_CALL = 200;

/** IANA protocol numbers: EC2 answers ACL entries with numbers, so they are written as numbers too. */
const PROTOCOL_NUMBERS = { tcp: '6', udp: '17' } as const;

/** Dependencies of {@link createEc2NetworkAcls}. */
export type Ec2NetworkAclsDeps = {
  /** The client for a target's region (and account, through its role); built in main.ts. */
  readonly clientFor: (target: RuleTarget) => EC2Client;
};

/** The longest idle time an established TCP connection survives on this interface, in seconds. */
function tcpEstablishedSeconds(eni: NetworkInterface): number {
  return eni.ConnectionTrackingConfiguration?.TcpEstablishedTimeout ?? DEFAULT_TCP_ESTABLISHED_SECONDS;
}

/** Rule numbers of an ACL's numbered inbound entries (only its deny entries with `denyOnly`), ascending, each once. */
function ingressRuleNumbers(acl: NetworkAcl, denyOnly = false): number[] {
  const numbers = new Set<number>();
  for (const entry of acl.Entries ?? []) {
    const n = entry.RuleNumber;
    if (entry.Egress === true || n === undefined || n >= FIRST_DEFAULT_RULE_NUMBER) continue;
    if (denyOnly && entry.RuleAction !== 'deny') continue;
    numbers.add(n);
  }
  return [...numbers].sort((a, b) => a - b);
}

/** The next token to ask for, `undefined` at the end; a token repeated would loop forever, so it fails. */
function nextPage(
  out: { NextToken?: string | undefined },
  current: string | undefined,
  action: string,
  groupId: string,
): string | undefined {
  if (out.NextToken === undefined || out.NextToken === '') return undefined;
  if (out.NextToken === current) {
    throw new InfraError('unavailable', true, `${action} for ${groupId} returned the same NextToken twice`, {
      providerCode: 'PaginationStuck',
    });
  }
  return out.NextToken;
}

/** A partial listing would leave subnets without a deny entry: better no answer than a wrong one. */
const tooManyPages = (action: string, groupId: string, pages: number) =>
  new InfraError('unknown', false, `${action} for ${groupId} returned more than ${pages} pages`, {
    providerCode: 'TooManyPages',
  });

/**
 * The `NetworkAcls` port on EC2 network ACLs. ACLs are stateless, so an inbound deny entry stops even
 * connections a security group's connection tracking would keep alive after their rule is revoked.
 * hallpass only ever writes and removes inbound entries with the numbers it is given; every failure
 * is thrown as an `InfraError` whose `retryable` alone drives retries.
 */
export function createEc2NetworkAcls(deps: Ec2NetworkAclsDeps): NetworkAcls {
  /** Every interface with the group attached, all pages. */
  async function interfacesOf(client: EC2Client, groupId: string): Promise<NetworkInterface[]> {
    const found: NetworkInterface[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_INTERFACE_PAGES; page++) {
      let out: DescribeNetworkInterfacesCommandOutput;
      try {
        out = await client.send(
          new DescribeNetworkInterfacesCommand({
            Filters: [{ Name: 'group-id', Values: [groupId] }],
            MaxResults: INTERFACES_PAGE_SIZE,
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
        );
      } catch (error) {
        throw toInfraError(error, 'ec2.DescribeNetworkInterfaces');
      }
      for (const eni of out.NetworkInterfaces ?? []) {
        // Checked again, not left to the filter alone, where EC2 says which groups the interface has.
        if (eni.Groups !== undefined && !eni.Groups.some((g) => g.GroupId === groupId)) continue;
        found.push(eni);
      }
      nextToken = nextPage(out, nextToken, 'DescribeNetworkInterfaces', groupId);
      if (nextToken === undefined) return found;
    }
    throw tooManyPages('DescribeNetworkInterfaces', groupId, MAX_INTERFACE_PAGES);
  }

  /** The ACLs associated with these subnets (at most 200), all pages. */
  async function aclsOfChunk(
    client: EC2Client,
    groupId: string,
    subnetIds: readonly string[],
  ): Promise<NetworkAcl[]> {
    const found: NetworkAcl[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_ACL_PAGES; page++) {
      let out: DescribeNetworkAclsCommandOutput;
      try {
        out = await client.send(
          new DescribeNetworkAclsCommand({
            Filters: [{ Name: 'association.subnet-id', Values: [...subnetIds] }],
            MaxResults: ACLS_PAGE_SIZE,
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
        );
      } catch (error) {
        throw toInfraError(error, 'ec2.DescribeNetworkAcls');
      }
      found.push(...(out.NetworkAcls ?? []));
      nextToken = nextPage(out, nextToken, 'DescribeNetworkAcls', groupId);
      if (nextToken === undefined) return found;
    }
    throw tooManyPages('DescribeNetworkAcls', groupId, MAX_ACL_PAGES);
  }

  return {
    async survey(target) {
      const client = deps.clientFor(target);
      const interfaces = await interfacesOf(client, target.groupId);
      const subnetIds = [
        ...new Set(interfaces.flatMap((eni) => (eni.SubnetId === undefined ? [] : [eni.SubnetId]))),
      ].sort();
      const acls = new Map<string, GroupSurvey['acls'][number]>();
      const covered = new Set<string>();
      for (let i = 0; i < subnetIds.length; i += SUBNETS_PER_CALL) {
        const chunk = subnetIds.slice(i, i + SUBNETS_PER_CALL);
        for (const acl of await aclsOfChunk(client, target.groupId, chunk)) {
          if (acl.NetworkAclId === undefined) continue;
          for (const assoc of acl.Associations ?? []) {
            if (assoc.SubnetId !== undefined) covered.add(assoc.SubnetId);
          }
          if (acls.has(acl.NetworkAclId)) continue;
          acls.set(acl.NetworkAclId, {
            aclId: acl.NetworkAclId,
            ingressRuleNumbers: ingressRuleNumbers(acl),
            ingressDenyRuleNumbers: ingressRuleNumbers(acl, true),
          });
        }
      }
      // Every subnet has exactly one ACL. One not found (a subnet shared from another account, whose ACL
      // this account cannot see) would leave its interfaces without a deny: no answer beats a partial one.
      const missing = subnetIds.filter((s) => !covered.has(s));
      if (missing.length > 0) {
        throw new InfraError(
          'not-found',
          false,
          `DescribeNetworkAcls for ${target.groupId} found no network ACL for subnet(s) ${missing.join(', ')}`,
          { providerCode: 'NetworkAclNotFound', subject: 'resource' },
        );
      }
      return {
        interfaces: interfaces.length,
        tcpEstablishedSeconds: interfaces.reduce((max, eni) => Math.max(max, tcpEstablishedSeconds(eni)), 0),
        acls: [...acls.values()].sort((a, b) => (a.aclId < b.aclId ? -1 : a.aclId > b.aclId ? 1 : 0)),
      };
    },

    async addDeny(target, entry) {
      const client = deps.clientFor(target);
      try {
        await client.send(
          new CreateNetworkAclEntryCommand({
            NetworkAclId: entry.aclId,
            RuleNumber: entry.ruleNumber,
            Egress: false,
            Protocol: PROTOCOL_NUMBERS[entry.protocol],
            RuleAction: 'deny',
            PortRange: { From: entry.fromPort, To: entry.toPort },
            ...(entry.cidr.includes(':') ? { Ipv6CidrBlock: entry.cidr } : { CidrBlock: entry.cidr }),
          }),
        );
      } catch (error) {
        // The number is taken, by another deny or by someone else's entry: the caller picks another.
        if (hasAwsErrorCode(error, 'NetworkAclEntryAlreadyExists')) return 'exists';
        if (hasAwsErrorCode(error, 'NetworkAclEntryLimitExceeded')) return 'full';
        throw toInfraError(error, 'ec2.CreateNetworkAclEntry');
      }
      return 'added';
    },

    async removeDeny(target, aclId, ruleNumber) {
      const client = deps.clientFor(target);
      try {
        await client.send(
          new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: ruleNumber, Egress: false }),
        );
      } catch (error) {
        // Only the entry being gone is success. `InvalidNetworkAclID.NotFound` is not: a call with another
        // account's credentials (or region) gets exactly that while the deny stays, so it is retried and raised.
        if (hasAwsErrorCode(error, 'InvalidNetworkAclEntry.NotFound')) return;
        throw toInfraError(error, 'ec2.DeleteNetworkAclEntry');
      }
    },
  };
}
