/** The history and presence contracts, run against the Redis implementations on a real redis-server. */
import { expect } from 'chai';
import { RedisHistoryStore } from '../../server/delivery/history/redis.js';
import { historyKeys } from '../../server/delivery/history/redis-keys.js';
import { RedisPresenceStore } from '../../server/presence/redis.js';
import { historyStoreContract } from '../contract/history-store.contract.js';
import { presenceStoreContract } from '../contract/presence-store.contract.js';
import { connectTestRedis, type TestRedisClient } from '../support/redis-client.js';
import { startRedis, type RedisProcess } from '../support/redis-server.js';

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
  });

  presenceStoreContract('redis', {
    create: async () => {
      await client.flushAll();
      return new RedisPresenceStore(client.commands, 'n1');
    },
  });

  describe('RedisHistoryStore specifics', () => {
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
});
