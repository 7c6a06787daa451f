/** The delivery contract against each topology: memory, Redis with the classic adapter, Redis Cluster with the sharded adapter. */
import { deliveryContract, type Topology } from '../contract/delivery.contract.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, startRedisCluster } from '../../tools/processes/redis-server.js';

/** The subscription reconciliation would hide a race the contract must catch on its own: out of the way. */
const NO_BACKGROUND_REPAIR = { SUBSCRIPTION_RECONCILE_MS: '3600000' };

async function nodes(count: number, env: Record<string, string>): Promise<TestGateway[]> {
  const started: TestGateway[] = [];
  for (let index = 0; index < count; index += 1) started.push(await startGateway({ ...env, NODE_ID: `node${index + 1}` }));
  return started;
}

deliveryContract('one node, memory', async (): Promise<Topology> => {
  const gateway = await startGateway();
  return { urls: [gateway.url], redis: [], close: () => gateway.close() };
});

deliveryContract('three nodes, single Redis, classic adapter', async (): Promise<Topology> => {
  const redis = await startRedis();
  const gateways = await nodes(3, { REDIS_URL: redis.url, ...NO_BACKGROUND_REPAIR });
  return {
    urls: gateways.map((gateway) => gateway.url),
    redis: [{ host: redis.host, port: redis.port }],
    close: async () => {
      await Promise.all(gateways.map((gateway) => gateway.close()));
      await redis.stop();
    },
  };
});

deliveryContract('three nodes, Redis Cluster (3 masters), sharded adapter', async (): Promise<Topology> => {
  const cluster = await startRedisCluster({ masters: 3 });
  const gateways = await nodes(3, { REDIS_CLUSTER_NODES: cluster.envValue, ...NO_BACKGROUND_REPAIR });
  return {
    urls: gateways.map((gateway) => gateway.url),
    redis: cluster.nodes.map(({ host, port }) => ({ host, port })),
    close: async () => {
      await Promise.all(gateways.map((gateway) => gateway.close()));
      await cluster.stop();
    },
  };
});
