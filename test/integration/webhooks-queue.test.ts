/** The WebhookQueue contract on the Redis implementation: one redis-server, then a Redis Cluster of three masters. */
import { RedisWebhookQueue } from '../../server/backends/redis/webhook-queue.js';
import { connectRedis, type RedisConnections } from '../../server/backends/redis/redis-connections.js';
import { loadConfig } from '../../server/config/load.js';
import { createLogger } from '../../server/ops/logger.js';
import { connectTestRedis } from '../../tools/processes/redis-client.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { webhookQueueContract } from '../contract/webhook-queue.contract.js';

/** A node's Redis connections, as the gateway makes them (connectRedis), for `env`'s REDIS_URL or REDIS_CLUSTER_NODES. */
function nodeConnections(env: Record<string, string>, nodeId: string): Promise<RedisConnections> {
  const config = loadConfig({ JWT_SECRET: TEST_JWT_SECRET, API_KEYS: TEST_API_KEY, LOG_LEVEL: 'silent', NODE_ID: nodeId, ...env });
  return connectRedis(config, createLogger(config));
}

function redisFactory(env: () => Record<string, string>, flush: () => Promise<void>) {
  const open: RedisConnections[] = [];
  afterEach(async () => {
    for (const connections of open.splice(0)) await connections.close();
  });
  return {
    shared: true,
    reset: flush,
    create: async (nodeId: string, leaseMs: number) => {
      const connections = await nodeConnections(env(), nodeId);
      open.push(connections);
      return new RedisWebhookQueue(connections, { nodeId, leaseMs });
    },
  };
}

describe('Redis webhook queue', function () {
  this.timeout(60_000);

  describe('on one Redis', () => {
    let redis: RedisProcess;
    before(async () => {
      redis = await startRedis();
    });
    after(() => redis.stop());
    webhookQueueContract(
      'redis',
      redisFactory(
        () => ({ REDIS_URL: redis.url }),
        async () => {
          const client = await connectTestRedis(redis.url);
          await client.flushAll();
          await client.close();
        },
      ),
    );
  });

  describe('on a Redis Cluster', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    });
    after(() => cluster.stop());
    webhookQueueContract(
      'redis cluster',
      redisFactory(
        () => ({ REDIS_CLUSTER_NODES: cluster.envValue }),
        async () => {
          for (const { host, port } of cluster.nodes) {
            const node = await connectTestRedis(`redis://${host}:${port}`);
            await node.flushAll();
            await node.close();
          }
        },
      ),
    );
  });
});
