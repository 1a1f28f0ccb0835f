/**
 * Where a closed rule does not end the access: security groups are stateful, so a
 * connection established during a grant goes on after its rule is revoked, for as long as EC2 keeps
 * tracking it — `TcpEstablishedTimeout` on the group's network interfaces, five idle days by default.
 * For every security-group resource that does not cut connections (`cutConnections: nacl`), the
 * reconciliation pass (at start-up, then hourly) reads that timeout and warns when it is longer
 * than `warnEstablishedAbove`; `/access resources` shows the same warning next to the resource.
 */
import { DEFAULTS, type Policy } from '../domain/policy';
import { describeError } from './notify';
import { targetOf } from './open-grant';
import type { Logger, NetworkAcls } from './ports';

/** Resource id → the longest idle TCP connection its group's interfaces keep, in seconds (over the threshold only). */
export type LingeringConnections = ReadonlyMap<string, number>;

export const checkConnectionTracking =
  (
    deps: {
      readonly policy: () => Policy;
      readonly acls: Pick<NetworkAcls, 'survey'>;
      readonly logger: Logger;
    },
    found: Map<string, number>,
  ) =>
  async (): Promise<number> => {
    const policy = deps.policy();
    const threshold = policy.warnEstablishedAbove ?? DEFAULTS.warnEstablishedAbove;
    let failed = 0;
    const seen = new Set<string>();
    for (const r of policy.resources) {
      if (r.kind !== 'security-group' || r.cutConnections === 'nacl') continue;
      seen.add(r.id);
      try {
        const survey = await deps.acls.survey(targetOf(r));
        if (survey.interfaces > 0 && survey.tcpEstablishedSeconds * 1000 > threshold) {
          if (found.get(r.id) !== survey.tcpEstablishedSeconds) {
            deps.logger.warn(
              {
                resourceId: r.id,
                tcpEstablishedSeconds: survey.tcpEstablishedSeconds,
                interfaces: survey.interfaces,
              },
              'connections opened during a grant outlive its end on this resource: its interfaces keep idle TCP connections longer than warnEstablishedAbove, and it does not cut them (cutConnections: nacl); see docs/aws.md, Cutting open connections at the end',
            );
          }
          found.set(r.id, survey.tcpEstablishedSeconds);
        } else found.delete(r.id);
      } catch (error) {
        failed += 1;
        deps.logger.error(
          { resourceId: r.id, err: describeError(error) },
          'could not read the connection tracking of a security group’s interfaces; will retry',
        );
      }
    }
    for (const id of [...found.keys()]) if (!seen.has(id)) found.delete(id);
    return failed;
  };
