/**
 * A whole local deployment for a test: Redis (single or Cluster, optional), N
 * gateway processes and, optionally, NGINX in front, all on free ports and all
 * stopped by stop(). Node ids are node1..nodeN, as `npm run cluster` names them.
 */
import { freePort } from './free-port.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { TEST_API_KEY } from './gateway.js';
import { startNginx, type NginxProcess } from './nginx.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from './redis-server.js';
import { TEST_JWT_SECRET } from './tokens.js';

export interface ClusterOptions {
  nodes: number;
  /** Unset: no Redis, every node on its own (enough to test NGINX stickiness). */
  redis?: 'single' | 'cluster';
  nginx?: boolean;
  /** More environment for every node (overrides the test defaults). */
  env?: Record<string, string>;
  nodePrefix?: string;
}

export interface TestCluster {
  nodes: GatewayProcess[];
  redis: RedisProcess | null;
  redisCluster: RedisCluster | null;
  nginx: NginxProcess | null;
  /** NGINX's URL when there is one, else the first node's. */
  url: string;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const prefix = options.nodePrefix ?? 'node';
  const cluster: TestCluster = { nodes: [], redis: null, redisCluster: null, nginx: null, url: '', stop: () => stopAll(cluster) };
  try {
    if (options.redis === 'single') cluster.redis = await startRedis();
    if (options.redis === 'cluster') cluster.redisCluster = await startRedisCluster({ masters: 3 });
    const redisEnv: Record<string, string> = cluster.redis
      ? { REDIS_URL: cluster.redis.url }
      : cluster.redisCluster
        ? { REDIS_CLUSTER_NODES: cluster.redisCluster.envValue }
        : {};

    const ports = await distinctFreePorts(options.nodes);
    cluster.nodes = await Promise.all(
      ports.map((port, index) =>
        startGatewayProcess({
          JWT_SECRET: TEST_JWT_SECRET,
          API_KEYS: TEST_API_KEY,
          // A test that fails with clients still connected must not wait out a production drain.
          DRAIN_TIMEOUT_MS: '1000',
          ...redisEnv,
          ...options.env,
          NODE_ID: `${prefix}${index + 1}`,
          PORT: String(port),
        }),
      ),
    );
    if (options.nginx) {
      cluster.nginx = await startNginx({ nodes: cluster.nodes.map((node) => ({ id: node.nodeId, host: '127.0.0.1', port: node.port })) });
    }
    cluster.url = cluster.nginx?.url ?? cluster.nodes[0]?.url ?? '';
    return cluster;
  } catch (error) {
    await stopAll(cluster);
    throw error;
  }
}

async function stopAll(cluster: TestCluster): Promise<void> {
  await cluster.nginx?.stop();
  await Promise.all(cluster.nodes.map((node) => node.stop()));
  await cluster.redis?.stop();
  await cluster.redisCluster?.stop();
}

/** freePort() may hand out the same port twice when nothing binds it in between. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
