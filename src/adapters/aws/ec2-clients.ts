import { EC2Client } from '@aws-sdk/client-ec2';
import { InfraError, type RuleTarget } from '../../app/ports';

/** Returns the EC2 client that reaches a rule target's security group. */
export type Ec2ClientFor = (target: RuleTarget) => EC2Client;

/** Options for {@link createEc2ClientFactory}. */
export type Ec2ClientFactoryOptions = {
  /** Attempts per call, including the first, for the SDK's own retry of throttling and 5xx (SDK default 3). */
  readonly maxAttempts?: number;
};

/**
 * Builds EC2 clients lazily, one per region, and reuses them (each client keeps its own connection pool
 * and credential cache). Clients are built with only `region` and `maxAttempts`, so everything else comes
 * from the SDK's standard chain: credentials from the environment, profile, SSO or instance role, and the
 * endpoint from `AWS_ENDPOINT_URL_EC2` (or `AWS_ENDPOINT_URL`), which the SDK reads when the first request
 * is sent.
 *
 * Cross-account targets (`assumeRoleArn`) are not supported yet: such a target throws a non-retryable
 * `InfraError` with code `AssumeRoleNotSupported`, so the grant fails with a clear reason instead of
 * opening a rule in the wrong account.
 */
export function createEc2ClientFactory(options: Ec2ClientFactoryOptions = {}): Ec2ClientFor {
  const clients = new Map<string, EC2Client>();
  return (target) => {
    if (target.assumeRoleArn !== undefined && target.assumeRoleArn !== '') {
      throw new InfraError(
        'AssumeRoleNotSupported',
        false,
        `security group ${target.groupId} needs role ${target.assumeRoleArn}; cross-account access (assumeRoleArn) is not supported yet`,
      );
    }
    const existing = clients.get(target.region);
    if (existing !== undefined) return existing;
    const client =
      options.maxAttempts === undefined
        ? new EC2Client({ region: target.region })
        : new EC2Client({ region: target.region, maxAttempts: options.maxAttempts });
    clients.set(target.region, client);
    return client;
  };
}
