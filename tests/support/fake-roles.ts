import { InfraError } from '../../src/app/infra-error';
import type { RevocationRoom, RoleSessions, SessionCredentials } from '../../src/app/ports';

export type Deferred = { promise: Promise<void>; resolve: () => void };

/** A promise resolved from outside, to hold a fake's call until the test lets it go. */
export function deferred(): Deferred {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/**
 * STS and IAM as the use cases see them: each role's revoked-sessions list, each write, sessions
 * issued (dated by `now`), and writes that wait or fail on demand.
 */
export class FakeRoles implements RoleSessions {
  readonly lists = new Map<string, string[]>();
  readonly writes: { roleArn: string; assumedRoleIds: string[] }[] = [];
  readonly removed: string[] = [];
  /** Each `start`, in order (never the credentials' secrets: the fake's are fixed strings). */
  readonly started: { roleArn: string; grantId: string; durationSeconds: number }[] = [];
  /** Each write waits for the next gate in this queue, if any. */
  readonly gates: Deferred[] = [];
  failWrites = 0;
  room: Omit<RevocationRoom, 'needed'> = { limit: 10_240, usedByOthers: 0 };
  roomAsked: string[][] = [];
  roomFails: Error | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  async maxSessionSeconds(): Promise<number> {
    return 3600;
  }
  async sessionUserId(input: { roleArn: string; grantId: string }): Promise<string> {
    return `AROAROLE:${input.grantId}`;
  }
  async start(input: { roleArn: string; grantId: string; durationSeconds: number }) {
    this.started.push({
      roleArn: input.roleArn,
      grantId: input.grantId,
      durationSeconds: input.durationSeconds,
    });
    const expiresAt = new Date(this.now().getTime() + input.durationSeconds * 1000);
    const credentials: SessionCredentials = {
      accessKeyId: 'ASIAFAKE',
      secretAccessKey: 'fake-secret',
      sessionToken: 'fake-token',
      expiration: expiresAt,
    };
    const session = {
      sessionName: input.grantId,
      assumedRoleId: await this.sessionUserId(input),
      expiresAt,
    };
    return { session, credentials };
  }
  async revocationRoom(input: {
    roleArn: string;
    assumedRoleIds: readonly string[];
  }): Promise<RevocationRoom> {
    if (this.roomFails !== undefined) throw this.roomFails;
    this.roomAsked.push([...input.assumedRoleIds]);
    // 160 characters of frame, 45 per entry (the adapter's arithmetic for 20-character grant ids).
    return {
      ...this.room,
      needed: input.assumedRoleIds.length === 0 ? 0 : 160 + 45 * input.assumedRoleIds.length,
    };
  }
  async writeRevokedSessions(input: { roleArn: string; assumedRoleIds: readonly string[] }): Promise<void> {
    const gate = this.gates.shift();
    if (gate !== undefined) await gate.promise;
    if (this.failWrites > 0) {
      this.failWrites -= 1;
      throw new InfraError('unavailable', true, 'PutRolePolicy failed: ServiceFailure', {
        providerCode: 'ServiceFailure',
      });
    }
    this.writes.push({ roleArn: input.roleArn, assumedRoleIds: [...input.assumedRoleIds] });
    if (input.assumedRoleIds.length === 0) this.lists.delete(input.roleArn);
    else this.lists.set(input.roleArn, [...input.assumedRoleIds].sort());
  }
  async removeDeny(input: { roleArn: string; policyName: string }): Promise<void> {
    this.removed.push(input.policyName);
  }
}
