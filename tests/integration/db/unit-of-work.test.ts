import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';

describe.each(['memory', 'file'] as const)('SQLite unit of work (%s database)', (kind) => {
  let dir: string;
  let file: string;
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-uow-'));
    file = kind === 'memory' ? ':memory:' : path.join(dir, 'hallpass.db');
    handle = openDatabase(file);
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits every write and returns the function value', async () => {
    const request = buildNewRequest();

    const value = await stores.uow.tx(async () => {
      await stores.requests.insert(request);
      await stores.audit.append({ at: T0, actor: 'U_REQ', type: 'request.submitted', requestId: request.id });
      return 'done';
    });

    expect(value).toBe('done');
    expect(await stores.requests.get(request.id)).toBeDefined();
    expect(await stores.audit.list()).toHaveLength(1);
  });

  it('rolls back every write when the function throws, and rethrows the same error', async () => {
    const request = buildNewRequest();
    const boom = new Error('boom');

    await expect(
      stores.uow.tx(async () => {
        await stores.requests.insert(request);
        await stores.requests.decide(request.id, 'approved', 'U_A', T0);
        await stores.grants.insert(buildNewGrant({ requestId: request.id }));
        await stores.audit.append({ at: T0, actor: 'U_A', type: 'request.approved', requestId: request.id });
        throw boom;
      }),
    ).rejects.toThrow(boom);

    expect(await stores.requests.get(request.id)).toBeUndefined();
    expect(await stores.grants.byRequest(request.id)).toBeUndefined();
    expect(await stores.audit.list()).toEqual([]);
  });

  it('rolls back when a store refuses a write half-way', async () => {
    const request = await stores.requests.insert(buildNewRequest());
    await stores.grants.insert(buildNewGrant({ requestId: request.id }));

    await expect(
      stores.uow.tx(async () => {
        await stores.audit.append({ at: T0, actor: 'U_A', type: 'grant.opened', requestId: request.id });
        await stores.grants.insert(buildNewGrant({ requestId: request.id }));
      }),
    ).rejects.toThrow(expect.objectContaining({ operation: 'grants.insert' }));

    expect(await stores.audit.list()).toEqual([]);
  });

  it('rolls back only the inner work when a nested transaction throws and the outer one catches', async () => {
    const kept = buildNewRequest();
    const dropped = buildNewRequest();

    await stores.uow.tx(async () => {
      await stores.requests.insert(kept);
      try {
        await stores.uow.tx(async () => {
          await stores.requests.insert(dropped);
          throw new Error('inner');
        });
      } catch {
        // the outer unit goes on
      }
    });

    expect(await stores.requests.get(kept.id)).toBeDefined();
    expect(await stores.requests.get(dropped.id)).toBeUndefined();
  });

  it('spans awaits: everything written before and after them rolls back together', async () => {
    const request = buildNewRequest();

    await expect(
      stores.uow.tx(async () => {
        await stores.requests.insert(request);
        await new Promise((resolve) => setImmediate(resolve));
        await stores.audit.append({ at: T0, actor: 'U_A', type: 'request.submitted', requestId: request.id });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(await stores.requests.get(request.id)).toBeUndefined();
    expect(await stores.audit.list()).toEqual([]);
  });

  // A memory database has no second connection to compete with.
  (kind === 'file' ? it : it.skip)(
    'holds the write lock for the whole unit, so another connection cannot write in between',
    async () => {
      const other = openDatabase(file);
      try {
        // Fail at once instead of waiting out the busy timeout: tests never wait for time to pass.
        other.sqlite.pragma('busy_timeout = 0');
        const otherStores = createSqliteStores(other);

        await stores.uow.tx(async () => {
          await stores.requests.insert(buildNewRequest());
          await expect(otherStores.requests.insert(buildNewRequest())).rejects.toThrow(
            expect.objectContaining({ operation: 'requests.insert', code: 'SQLITE_BUSY', retryable: true }),
          );
        });

        expect(await otherStores.requests.listPending()).toHaveLength(1);
      } finally {
        other.close();
      }
    },
  );
});
