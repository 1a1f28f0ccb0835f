import type { EC2Client } from '@aws-sdk/client-ec2';
import type { RuleTarget } from '../../app/ports';
import { type AwsClientsOptions, createAwsClients } from './aws-clients';

/** Returns the EC2 client that reaches a rule target's security group. */
export type Ec2ClientFor = (target: RuleTarget) => EC2Client;

/** Options for {@link createEc2ClientFactory}: those of {@link createAwsClients} that concern EC2. */
export type Ec2ClientFactoryOptions = Pick<AwsClientsOptions, 'maxAttempts' | 'crossAccountSessionSeconds'>;

/**
 * EC2 clients alone, for callers that need nothing else: `createAwsClients(options).ec2For`. One client
 * per region, and per (region, role) for a target with `assumeRoleArn`, whose credentials come from
 * `AssumeRole` on that role. See {@link createAwsClients} for endpoints, credentials and retries.
 */
export function createEc2ClientFactory(options: Ec2ClientFactoryOptions = {}): Ec2ClientFor {
  return createAwsClients(options).ec2For;
}
