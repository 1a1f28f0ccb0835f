import { createEc2ClientFactory } from '../../../src/adapters/aws/ec2-clients';
import { InfraError } from '../../../src/app/ports';

describe('createEc2ClientFactory', () => {
  it('builds one client per region and reuses it', async () => {
    const clientFor = createEc2ClientFactory();

    const east = clientFor({ region: 'us-east-1', groupId: 'sg-1' });
    const eastAgain = clientFor({ region: 'us-east-1', groupId: 'sg-2' });
    const west = clientFor({ region: 'eu-west-1', groupId: 'sg-3' });

    expect(eastAgain).toBe(east);
    expect(west).not.toBe(east);
    await expect(east.config.region()).resolves.toBe('us-east-1');
    await expect(west.config.region()).resolves.toBe('eu-west-1');
  });

  it('passes maxAttempts to the SDK', async () => {
    const client = createEc2ClientFactory({ maxAttempts: 7 })({ region: 'us-east-1', groupId: 'sg-1' });

    await expect(client.config.maxAttempts()).resolves.toBe(7);
  });

  it('refuses a cross-account target for now, without retrying', () => {
    const clientFor = createEc2ClientFactory();

    let thrown: unknown;
    try {
      clientFor({
        region: 'us-east-1',
        groupId: 'sg-1',
        assumeRoleArn: 'arn:aws:iam::210987654321:role/Hallpass',
      });
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(InfraError);
    expect(thrown).toMatchObject({ code: 'AssumeRoleNotSupported', retryable: false });
  });
});
