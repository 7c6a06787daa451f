/** The history and presence contracts, run against the Redis implementations on a real redis-server. */
import { expect } from 'chai';
import { APPEND_MANY_CALL_MAX, RedisHistoryStore } from '../../server/backends/redis/history.js';
import { historyKeys } from '../../server/backends/redis/keys.js';
import { RedisPresenceStore } from '../../server/backends/redis/presence.js';
import { historyStoreContract } from '../contract/history-store.contract.js';
import type { AppendItemResult } from '../../server/core/history-store.js';
import { membershipContract } from '../contract/membership.contract.js';
import { presenceStoreContract } from '../contract/presence-store.contract.js';
import { connectTestRedis, type TestRedisClient } from '../../tools/processes/redis-client.js';
import { captureLogs, httpPublish, startGateway } from '../support/gateway.js';
import { scrape } from '../support/metrics.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import calculateSlot from 'cluster-key-slot';
import { createClient, createCluster, type RedisClusterType } from 'redis';
import type { RedisCommands } from '../../server/backends/redis/redis-connections.js';

/** `redis` with its script calls counted (EVALSHA and EVAL). */
function countingScripts(redis: RedisCommands): { commands: RedisCommands; calls: () => number } {
  let calls = 0;
  const commands = Object.create(redis) as RedisCommands;
  commands.evalSha = (sha, options) => {
    calls += 1;
    return redis.evalSha(sha, options);
  };
  commands.eval = (script, options) => {
    calls += 1;
    return redis.eval(script, options);
  };
  return { commands, calls: () => calls };
}

const mixedItems = (count: number) =>
  Array.from({ length: count }, (_, n) => ({ namespace: n % 3 === 0 ? '/live' : '/', room: `r${n % 7}`, publication: { event: 'e', data: n, ts: Date.now() } }));

/** Runs `body` while `client`'s Redis is over its maxmemory (writes refused with OOM), then lifts the limit. */
async function whileRedisIsFull(client: TestRedisClient, body: () => Promise<void>): Promise<void> {
  await client.sendCommand(['SET', 'ballast', 'x'.repeat(2 * 1024 * 1024)]);
  await client.sendCommand(['CONFIG', 'SET', 'maxmemory', '1mb']);
  try {
    await body();
  } finally {
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
    await client.sendCommand(['DEL', 'ballast']);
  }
}

/**
 * A Redis history store whose Redis is down (for the contract's "unreachable" case), on a connection made
 * as the gateway makes it (no offline queue, reconnecting): once it saw Redis go, commands fail at once.
 * `cluster` groups items by hash slot as on a Cluster.
 */
async function unreachableHistory(cluster = false) {
  const lonely = await startRedis();
  const connection = createClient({ url: lonely.url, socket: { reconnectStrategy: () => 50 }, disableOfflineQueue: true });
  connection.on('error', () => undefined);
  await connection.connect();
  const store = new RedisHistoryStore(connection as unknown as RedisCommands, { size: 10, ttlSeconds: 60, cluster });
  const down = new Promise<void>((resolve) => connection.once('end', resolve).once('reconnecting', resolve));
  await lonely.kill();
  await down;
  return {
    store,
    close: async () => {
      connection.destroy();
      await lonely.stop();
    },
  };
}

describe('Redis stores', () => {
  let redis: RedisProcess;
  let client: TestRedisClient;
  before(async () => {
    redis = await startRedis();
    client = await connectTestRedis(redis.url);
  });
  after(async () => {
    await client.close();
    await redis.stop();
  });

  historyStoreContract('redis', {
    create: async (options) => {
      await client.flushAll();
      return new RedisHistoryStore(client.commands, options);
    },
    unreachable: () => unreachableHistory(),
  });

  historyStoreContract('redis, lossless durability', {
    create: async (options) => {
      await client.flushAll();
      return new RedisHistoryStore(client.commands, { ...options, durability: 'lossless' });
    },
    unreachable: () => unreachableHistory(),
  });

  presenceStoreContract('redis', {
    create: async () => {
      await client.flushAll();
      return new RedisPresenceStore(client.commands, 'n1');
    },
  });

  membershipContract('redis', {
    create: async () => {
      await client.flushAll();
      return new RedisPresenceStore(client.commands, 'n1');
    },
  });

  describe('RedisHistoryStore specifics', () => {
    it('appendMany on a single Redis: one script call for a whole batch of rooms', async () => {
      await client.flushAll();
      const counted = countingScripts(client.commands);
      const store = new RedisHistoryStore(counted.commands, { size: 10, ttlSeconds: 60 });
      await store.append('/', 'warm', { event: 'e', data: 0, ts: Date.now() });
      const before = counted.calls();
      const answers = await store.appendMany(mixedItems(30));
      // The first run of the batch script may be a NOSCRIPT then EVAL: at most two calls.
      expect(counted.calls() - before).to.be.within(1, 2);
      expect(answers.every((answer) => answer.ok)).to.equal(true);
      const again = counted.calls();
      await store.appendMany(mixedItems(30));
      expect(counted.calls() - again).to.equal(1);
    });

    it(`appendMany past APPEND_MANY_CALL_MAX: one call per ${APPEND_MANY_CALL_MAX} publications, each room's offsets in the batch's order`, async () => {
      await client.flushAll();
      const counted = countingScripts(client.commands);
      const store = new RedisHistoryStore(counted.commands, { size: 1000, ttlSeconds: 60 });
      await store.appendMany(mixedItems(1));
      const count = APPEND_MANY_CALL_MAX * 2 + 50;
      const before = counted.calls();
      const answers = await store.appendMany(mixedItems(count));
      expect(counted.calls() - before).to.equal(3);
      const seen = new Map<string, number[]>();
      mixedItems(count).forEach((item, n) => {
        const answer = answers[n];
        if (answer?.ok !== true) throw new Error(`item ${n} was not stored`);
        const key = `${item.namespace}|${item.room}`;
        seen.set(key, [...(seen.get(key) ?? []), answer.result.message.offset]);
        expect(answer.result.message.data).to.equal(n);
      });
      for (const [key, offsets] of seen) {
        const first = offsets[0] ?? 0;
        expect(offsets, key).to.deep.equal(offsets.map((_, i) => first + i));
      }
    });

    it('a flushed Redis gives the room a new epoch, from offset 1', async () => {
      await client.flushAll();
      const store = new RedisHistoryStore(client.commands, { size: 10, ttlSeconds: 60 });
      const before = (await store.append('/', 'room', { event: 'e', data: 1, ts: Date.now() })).message;
      await store.append('/', 'room', { event: 'e', data: 2, ts: Date.now() });
      await client.flushAll();
      const after = (await store.append('/', 'room', { event: 'e', data: 3, ts: Date.now() })).message;
      expect(after.offset).to.equal(1);
      expect(after.epoch).to.not.equal(before.epoch);
      expect((await store.read('/', 'room', { epoch: before.epoch, offset: 2 }, 10)).recovered).to.equal(false);
    });

    it('puts every key of a room under one hash tag and sets TTLs', async () => {
      await client.flushAll();
      const store = new RedisHistoryStore(client.commands, { size: 10, ttlSeconds: 60 });
      await store.append('/', 'tagged', { event: 'e', data: 1, ts: Date.now() }, 'key-1');
      const keys = historyKeys('/', 'tagged');
      for (const key of [keys.meta, keys.stream, keys.idempotency('key-1')]) {
        expect(key).to.contain('{/|tagged}');
        const ttl = Number(await client.sendCommand(['TTL', key]));
        expect(ttl, key).to.be.within(1, 60);
      }
    });

    it('treats stream entries older than the TTL as gone', async () => {
      await client.flushAll();
      let now = Date.now();
      const store = new RedisHistoryStore(client.commands, { size: 10, ttlSeconds: 60, now: () => now });
      const first = (await store.append('/', 'old', { event: 'e', data: 1, ts: now })).message;
      now += 61_000;
      await store.append('/', 'old', { event: 'e', data: 2, ts: now });
      const read = await store.read('/', 'old', { epoch: first.epoch, offset: 0 }, 10);
      expect(read.recovered).to.equal(false);
      const fresh = await store.read('/', 'old', { epoch: first.epoch, offset: 1 }, 10);
      expect(fresh.messages.map((m) => m.offset)).to.deep.equal([2]);
    });

    it('a refusal Redis makes before writing (OOM) is answered UNAVAILABLE at once, not retried as an unknown outcome', async () => {
      await client.flushAll();
      const store = new RedisHistoryStore(client.commands, { size: 10, ttlSeconds: 60 });
      await store.append('/', 'oom', { event: 'e', data: 1, ts: Date.now() });
      await whileRedisIsFull(client, async () => {
        const started = Date.now();
        const error = await store.append('/', 'oom', { event: 'e', data: 2, ts: Date.now() }).then(
          () => null,
          (caught: unknown) => caught,
        );
        expect(error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
        expect(error).to.not.have.property('name', 'OutcomeUnknownError');
        // Well under APPEND_SETTLE_MS (5 s): no retries for a definite answer.
        expect(Date.now() - started).to.be.below(2000);
      });
      const { offset } = await store.position('/', 'oom');
      expect(offset, 'nothing was stored by the refused append').to.equal(1);
    });

    it('appendMany under a refusal Redis makes before writing (OOM): every item UNAVAILABLE at once, nothing stored', async () => {
      await client.flushAll();
      const store = new RedisHistoryStore(client.commands, { size: 10, ttlSeconds: 60 });
      await store.append('/', 'oom', { event: 'e', data: 1, ts: Date.now() });
      let answers: AppendItemResult[] = [];
      const started = Date.now();
      await whileRedisIsFull(client, async () => {
        answers = await store.appendMany([
          { namespace: '/', room: 'oom', publication: { event: 'e', data: 2, ts: Date.now() } },
          { namespace: '/', room: 'oom-other', publication: { event: 'e', data: 1, ts: Date.now() }, idempotencyKey: 'k' },
          { namespace: '/', room: 'oom', publication: { event: 'e', data: 3, ts: Date.now() } },
        ]);
      });
      expect(Date.now() - started).to.be.below(2000);
      for (const answer of answers) {
        expect(answer.ok).to.equal(false);
        expect(answer.ok ? null : answer.error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
        expect(answer.ok ? null : answer.error).to.not.have.property('name', 'OutcomeUnknownError');
      }
      expect((await store.position('/', 'oom')).offset).to.equal(1);
      expect((await store.position('/', 'oom-other')).offset).to.equal(0);
    });

    it('answers UNAVAILABLE, not a driver error, when Redis is gone', async () => {
      const lonely = await startRedis();
      const lonelyClient = await connectTestRedis(lonely.url);
      const store = new RedisHistoryStore(lonelyClient.commands, { size: 10, ttlSeconds: 60 });
      await lonely.kill();
      try {
        await store.append('/', 'r', { event: 'e', data: 1, ts: Date.now() });
        expect.fail('append succeeded without Redis');
      } catch (error) {
        expect(error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
      } finally {
        await lonelyClient.close().catch(() => undefined);
        await lonely.stop();
      }
    });
  });

  describe('Redis data replaced (restart, restore): never an offset twice within one epoch', function () {
    this.timeout(60_000);
    const publish = (store: RedisHistoryStore, data: number) => store.append('/', 'r', { event: 'e', data, ts: Date.now() });

    it('lossy (default): restarted from an older snapshot, the room starts a new epoch, counted', async () => {
      const server = await startRedis();
      const connection = await connectTestRedis(server.url);
      let reconnected: TestRedisClient | null = null;
      try {
        const rotations: string[] = [];
        const before = new RedisHistoryStore(connection.commands, { size: 100, ttlSeconds: 600, onRotation: (reason) => rotations.push(reason) });
        for (let i = 1; i <= 5; i += 1) await publish(before, i);
        await connection.sendCommand(['SAVE']);
        const acknowledged = [];
        for (let i = 6; i <= 8; i += 1) acknowledged.push((await publish(before, i)).message);
        await connection.close();
        // kill -9, then the same dir: Redis loads the snapshot taken at offset 5; 6..8 were acknowledged and are gone.
        await server.restart();
        reconnected = await connectTestRedis(server.url);
        const after = new RedisHistoryStore(reconnected.commands, { size: 100, ttlSeconds: 600, onRotation: (reason) => rotations.push(reason) });
        const next = (await publish(after, 9)).message;
        expect(next.epoch, 'a new epoch, not offset 6 again').to.not.equal(acknowledged[0]?.epoch);
        expect(next.offset).to.equal(1);
        expect(rotations).to.deep.equal(['redis-replaced']);
        const old = await after.read('/', 'r', { epoch: acknowledged[0]?.epoch as string, offset: 8 }, 10);
        expect(old).to.include({ recovered: false, epoch: next.epoch });
        // Rotated once: the room's data is this process's own from now on.
        expect((await publish(after, 10)).message).to.include({ epoch: next.epoch, offset: 2 });
        expect(rotations).to.have.length(1);
      } finally {
        await reconnected?.close();
        await server.stop();
      }
    });

    it('lossy: a read after the restart rotates too, so a joining client never gets a stale position', async () => {
      const server = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
      let connection = await connectTestRedis(server.url);
      try {
        const before = new RedisHistoryStore(connection.commands, { size: 100, ttlSeconds: 600 });
        const first = (await publish(before, 1)).message;
        await connection.close();
        await server.restart();
        connection = await connectTestRedis(server.url);
        const after = new RedisHistoryStore(connection.commands, { size: 100, ttlSeconds: 600 });
        // Nothing was lost here (AOF, fsync always), but a lossy setting cannot tell: a new epoch, honestly.
        const position = await after.position('/', 'r');
        expect(position.epoch).to.not.equal(first.epoch);
        expect(position.offset).to.equal(0);
      } finally {
        await connection.close();
        await server.stop();
      }
    });

    it('lossless: a restart that kept every write (AOF, fsync always) keeps the epoch and the offsets', async () => {
      const server = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
      let connection = await connectTestRedis(server.url);
      try {
        const rotations: string[] = [];
        const options = { size: 100, ttlSeconds: 600, durability: 'lossless' as const, onRotation: (reason: string) => rotations.push(reason) };
        const before = new RedisHistoryStore(connection.commands, options);
        for (let i = 1; i <= 3; i += 1) await publish(before, i);
        const { epoch } = await before.position('/', 'r');
        await connection.close();
        await server.restart();
        connection = await connectTestRedis(server.url);
        const after = new RedisHistoryStore(connection.commands, options);
        expect((await publish(after, 4)).message).to.include({ epoch, offset: 4 });
        const read = await after.read('/', 'r', { epoch, offset: 1 }, 10);
        expect(read.recovered).to.equal(true);
        expect(read.messages.map((m) => m.offset)).to.deep.equal([2, 3, 4]);
        expect(rotations).to.deep.equal([]);
      } finally {
        await connection.close();
        await server.stop();
      }
    });
  });

  describe('on a Redis Cluster', function () {
    this.timeout(60_000);
    let cluster: RedisCluster;
    let clusterClient: RedisClusterType;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3 });
      clusterClient = createCluster({ rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) }) as unknown as RedisClusterType;
      clusterClient.on('error', () => undefined);
      await clusterClient.connect();
    });
    after(async () => {
      await clusterClient.close();
      await cluster.stop();
    });
    const flushCluster = async (): Promise<void> => {
      await Promise.all(cluster.nodes.map(async ({ host, port }) => {
        const node = await connectTestRedis(`redis://${host}:${port}`);
        await node.flushAll();
        await node.close();
      }));
    };

    historyStoreContract('redis cluster', {
      create: async (options) => {
        await flushCluster();
        return new RedisHistoryStore(clusterClient as unknown as RedisCommands, options);
      },
      // A killed single Redis, its items grouped by hash slot as on a Cluster.
      unreachable: () => unreachableHistory(true),
    });

    it('appendMany on a Cluster: one script call per hash slot, never CROSSSLOT', async () => {
      await flushCluster();
      const counted = countingScripts(clusterClient as unknown as RedisCommands);
      const store = new RedisHistoryStore(counted.commands, { size: 10, ttlSeconds: 60 });
      const items = mixedItems(30);
      await store.appendMany(items);
      const before = counted.calls();
      const answers = await store.appendMany(items);
      const slots = new Set(items.map((item) => calculateSlot(historyKeys(item.namespace, item.room).meta)));
      expect(slots.size).to.be.above(1);
      expect(counted.calls() - before).to.equal(slots.size);
      expect(answers.every((answer) => answer.ok)).to.equal(true);
    });

    presenceStoreContract('redis cluster', {
      create: async () => {
        await flushCluster();
        return new RedisPresenceStore(clusterClient as unknown as RedisCommands, 'n1');
      },
    });

    membershipContract('redis cluster', {
      create: async () => {
        await flushCluster();
        return new RedisPresenceStore(clusterClient as unknown as RedisCommands, 'n1');
      },
    });
  });

  describe('REDIS_DURABILITY at the gateway', function () {
    this.timeout(60_000);

    it('lossless on a Redis that is not AOF + appendfsync always warns at start', async () => {
      const server = await startRedis();
      const logs = captureLogs();
      const gateway = await startGateway({ REDIS_URL: server.url, REDIS_DURABILITY: 'lossless', LOG_LEVEL: 'warn' }, logs);
      try {
        expect(logs.lines.some((line) => line.includes('REDIS_DURABILITY=lossless but Redis may lose acknowledged writes'))).to.equal(true);
      } finally {
        await gateway.close();
        await server.stop();
      }
    });

    it('lossy: after a Redis restart, each room moved to a new epoch counts once in roomcast_epoch_rotations_total', async () => {
      const server = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
      const gateway = await startGateway({ REDIS_URL: server.url });
      try {
        for (const room of ['rot:a', 'rot:b']) expect((await httpPublish(gateway.url, { room, event: 'e', data: 1 })).status).to.equal(200);
        await server.restart();
        let status = 0;
        for (let attempt = 0; attempt < 50 && status !== 200; attempt += 1) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          status = (await fetch(`${gateway.url}/readyz`)).status;
        }
        for (const room of ['rot:a', 'rot:b', 'rot:a']) expect((await httpPublish(gateway.url, { room, event: 'e', data: 2 })).status).to.equal(200);
        expect((await scrape(gateway.url)).value('roomcast_epoch_rotations_total', { reason: 'redis-replaced' })).to.equal(2);
      } finally {
        await gateway.close();
        await server.stop();
      }
    });
  });
});
