import { ApiError, type ApiRequest } from '../../../src/cli/api-client';
import { LeaseKeeper } from '../../../src/cli/lease-keeper';
import { childEnv } from '../../../src/cli/run';

describe('LeaseKeeper', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  const flush = () => Promise.resolve().then(() => Promise.resolve());

  it('renews each live lease once per interval, and stops when removed', async () => {
    const renewed: string[] = [];
    const keeper = new LeaseKeeper({
      api: {
        renewLease: async (id) => {
          renewed.push(id);
          return { leaseExpiresAt: 'later' };
        },
      },
      intervalMs: 1_000,
      onLost: () => undefined,
    });
    keeper.add('req_1');
    keeper.add('req_2');
    await jest.advanceTimersByTimeAsync(2_000);
    expect(renewed).toEqual(['req_1', 'req_2', 'req_1', 'req_2']);
    keeper.remove('req_1');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(renewed.slice(4)).toEqual(['req_2']);
    keeper.remove('req_2');
    expect(keeper.ids()).toEqual([]);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(renewed).toHaveLength(5);
  });

  it('drops a request whose renewal is refused with 409 and says so; other failures keep it', async () => {
    const lost: string[] = [];
    const trouble: string[] = [];
    const keeper = new LeaseKeeper({
      api: {
        renewLease: async (id) => {
          if (id === 'req_gone') throw new ApiError('Request req_gone is ended.', 409, 'conflict');
          throw new Error('socket hang up');
        },
      },
      intervalMs: 1_000,
      onLost: (id) => lost.push(id),
      onTrouble: (id) => trouble.push(id),
    });
    keeper.add('req_gone');
    keeper.add('req_flaky');
    await jest.advanceTimersByTimeAsync(1_000);
    await flush();
    expect(lost).toEqual(['req_gone']);
    expect(keeper.ids()).toEqual(['req_flaky']);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(trouble).toEqual(['req_flaky', 'req_flaky']);
  });

  it('does not stack renewals while one is still in flight', async () => {
    let calls = 0;
    const keeper = new LeaseKeeper({
      api: {
        renewLease: () => {
          calls++;
          return new Promise(() => undefined);
        },
      },
      intervalMs: 1_000,
      onLost: () => undefined,
    });
    keeper.add('req_slow');
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls).toBe(1);
    keeper.stop();
  });
});

describe('childEnv', () => {
  const request: ApiRequest = {
    id: 'req_1',
    resource: 'prod-admin',
    status: 'active',
    duration: '5m',
    reason: 'x',
    createdAt: '2026-11-30T15:00:00.000Z',
    grant: {
      id: 'grt_1',
      startsAt: '2026-11-30T15:00:00.000Z',
      expiresAt: '2026-11-30T15:05:00.000Z',
      roleArn: 'arn:aws:iam::123456789012:role/x',
    },
  };
  const credentials = {
    accessKeyId: 'ASIA1',
    secretAccessKey: 'secret',
    sessionToken: 'session',
    expiration: '2026-11-30T15:05:00.000Z',
    region: 'eu-west-1',
  };

  it("drops the API token and anything that would override the role's credentials", () => {
    const env = childEnv(
      {
        PATH: '/bin',
        HALLPASS_TOKEN: 'hp_x',
        AWS_PROFILE: 'admin',
        AWS_ROLE_ARN: 'arn',
        AWS_REGION: 'us-east-1',
      },
      request,
      credentials,
    );
    expect(env).toEqual({
      PATH: '/bin',
      HALLPASS_REQUEST_ID: 'req_1',
      HALLPASS_GRANT_ID: 'grt_1',
      HALLPASS_EXPIRES_AT: '2026-11-30T15:05:00.000Z',
      AWS_ACCESS_KEY_ID: 'ASIA1',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'session',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
  });

  it('leaves the parent object untouched', () => {
    const parent = { PATH: '/bin', HALLPASS_TOKEN: 'hp_x' };
    childEnv(parent, request, credentials);
    expect(parent).toEqual({ PATH: '/bin', HALLPASS_TOKEN: 'hp_x' });
  });
});
