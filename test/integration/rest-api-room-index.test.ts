/**
 * The Redis room index behind GET /api/v1/rooms (backends/redis/presence.ts),
 * on a real redis-server: the listing skips and prunes rooms the index still
 * holds but that are empty, pages on past a long run of them, and racing
 * first joins and last leaves never leave an occupied room out of the index.
 */
import { expect } from 'chai';
import { roomIndexKey, RedisPresenceStore } from '../../server/backends/redis/presence.js';
import type { RoomListPage } from '../../server/core/presence-store.js';
import type { RedisCommands } from '../../server/backends/redis/redis-connections.js';
import { connectTestRedis, type TestRedisClient } from '../../tools/processes/redis-client.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';

const member = (userId: string, connectionId: string, nodeId = 'n1') => ({ userId, connectionId, nodeId, joinedAt: 1 });

describe('Redis room index (GET /api/v1/rooms)', function () {
  this.timeout(30_000);
  let redis: RedisProcess;
  let client: TestRedisClient;
  let store: RedisPresenceStore;
  before(async () => {
    redis = await startRedis();
    client = await connectTestRedis(redis.url);
  });
  beforeEach(async () => {
    await client.flushAll();
    store = new RedisPresenceStore(client.commands, 'n1');
  });
  after(async () => {
    await client?.close();
    await redis?.stop();
  });

  const indexed = async (namespace = '/'): Promise<string[]> => (await client.sendCommand(['ZRANGE', roomIndexKey(namespace), '0', '-1'])) as string[];
  const everyPage = async (limit: number): Promise<RoomListPage[]> => {
    const pages: RoomListPage[] = [];
    let after: string | null = null;
    do {
      const page: RoomListPage = await store.listRooms('/', { prefix: '', after, limit });
      pages.push(page);
      after = page.next;
    } while (after !== null && pages.length < 1000);
    return pages;
  };

  it('indexes a room at its first member and takes it out at its last', async () => {
    await store.add('/', 'r', member('a', 'c1'), 0);
    await store.add('/', 'r', member('b', 'c2'), 0);
    expect(await indexed()).to.deep.equal(['r']);
    await store.remove('/', 'r', 'c1');
    expect(await indexed()).to.deep.equal(['r']);
    await store.remove('/', 'r', 'c2');
    expect(await indexed()).to.deep.equal([]);
  });

  it('skips a room the index holds but nobody is in, and prunes it', async () => {
    await store.add('/', 'live', member('a', 'c1'), 0);
    await client.sendCommand(['ZADD', roomIndexKey('/'), '0', 'dead']);
    expect(await store.listRooms('/', { prefix: '', after: null, limit: 10 })).to.deep.equal({ rooms: [{ room: 'live', members: 1 }], next: null });
    for (let attempt = 0; attempt < 50 && (await indexed()).includes('dead'); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await indexed()).to.deep.equal(['live']);
  });

  it('pages on past a long run of empty rooms and still lists every occupied one once', async () => {
    const stale = Array.from({ length: 120 }, (_, index) => `b-${String(index).padStart(3, '0')}`);
    for (const room of stale) await client.sendCommand(['ZADD', roomIndexKey('/'), '0', room]);
    await store.add('/', 'a-first', member('a', 'c1'), 0);
    await store.add('/', 'c-last', member('a', 'c2'), 0);
    const pages = await everyPage(2);
    expect(pages.flatMap((page) => page.rooms)).to.deep.equal([
      { room: 'a-first', members: 1 },
      { room: 'c-last', members: 1 },
    ]);
    expect(pages.length, 'the run of empty rooms took more than one read').to.be.greaterThan(1);
  });

  it('keeps a room indexed when a first join lands between the last leave and its unindexing', async () => {
    // The leaving node's connection runs `join` (another node's first join, index write included) just before
    // its own ZREM of the index: the worst interleaving, made to happen every time.
    let joinInTheGap: (() => Promise<unknown>) | null = null;
    const commands = new Proxy(client.commands, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const call = (value as (...args: unknown[]) => unknown).bind(target);
        if (property !== 'zRem') return call;
        return async (...args: unknown[]) => {
          const join = joinInTheGap;
          joinInTheGap = null;
          if (join !== null) await join();
          return call(...args);
        };
      },
    }) as RedisCommands;
    const leaving = new RedisPresenceStore(commands, 'n1');
    const joining = new RedisPresenceStore(client.commands, 'n2');
    await leaving.add('/', 'gap', member('a', 'c1'), 0);
    joinInTheGap = () => joining.add('/', 'gap', member('b', 'c2', 'n2'), 0);
    await leaving.remove('/', 'gap', 'c1');
    expect(joinInTheGap, 'the join ran in the gap').to.equal(null);
    expect(await indexed()).to.deep.equal(['gap']);
    expect((await store.listRooms('/', { prefix: '', after: null, limit: 10 })).rooms).to.deep.equal([{ room: 'gap', members: 1 }]);
  });

  it('never leaves an occupied room out of the index when first joins and last leaves race', async () => {
    // Two nodes' stores on one room: members come and go concurrently, many times over.
    const other = new RedisPresenceStore(client.commands, 'n2');
    for (let round = 0; round < 60; round += 1) {
      const stays = round % 3 === 0;
      await Promise.all([
        store.add('/', 'race', member('a', `a${round}`), 0).then(() => store.remove('/', 'race', `a${round}`)),
        other.add('/', 'race', member('b', `b${round}`, 'n2'), 0).then(() => (stays ? undefined : other.remove('/', 'race', `b${round}`))),
        store.listRooms('/', { prefix: '', after: null, limit: 5 }),
      ]);
      const members = (await store.list('/', 'race')).length;
      // Pruning by a lister is fire-and-forget: let it settle before the check.
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (members > 0) expect(await indexed(), `round ${round}`).to.include('race');
      if (stays) await other.remove('/', 'race', `b${round}`);
    }
    expect((await store.listRooms('/', { prefix: '', after: null, limit: 5 })).rooms).to.deep.equal([]);
  });
});
