/**
 * A whole local deployment for a test: Redis (single or Cluster, optional), N
 * gateway processes and, optionally, NGINX in front, all on free ports and all
 * stopped by stop(). Node ids are node1..nodeN, as `npm run cluster` names them.
 */
import { isDevelopment } from '../../server/config/load.js';
import { freePort } from '../../tools/processes/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { startNginx, type NginxProcess } from '../../tools/processes/nginx.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

export interface ClusterOptions {
  nodes: number;
  /** Unset: no Redis, every node on its own (enough to test NGINX stickiness). */
  redis?: 'single' | 'cluster';
  nginx?: boolean;
  /** More environment for every node (overrides the test defaults). */
  env?: Record<string, string>;
  nodePrefix?: string;
  /**
   * More `redis-server` arguments (they override the helper's own), for the single
   * server or every master of the Cluster, e.g. `['--appendonly', 'yes',
   * '--appendfsync', 'always']` so that a Redis restart keeps the data.
   */
  redisArgs?: string[];
}

export interface TestCluster {
  nodes: GatewayProcess[];
  redis: RedisProcess | null;
  redisCluster: RedisCluster | null;
  nginx: NginxProcess | null;
  /** NGINX's URL when there is one, else the first node's. */
  url: string;
  /**
   * Starts node `index` again with the same PORT, NODE_ID and environment, and
   * replaces it in `nodes`. `signal` first stops the running process (SIGTERM
   * waits for its exit, SIGKILL after `stopTimeoutMs`); with 'none' the process
   * must be gone or going by itself (it is awaited, not signalled). Resolves
   * once the new process answers /healthz.
   */
  restartNode(index: number, options?: { signal?: 'SIGTERM' | 'SIGKILL' | 'none'; stopTimeoutMs?: number }): Promise<GatewayProcess>;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const prefix = options.nodePrefix ?? 'node';
  /** Each node's environment, kept for restartNode(). */
  const envs: Array<Record<string, string>> = [];
  let stopping = false;
  const cluster: TestCluster = {
    nodes: [],
    redis: null,
    redisCluster: null,
    nginx: null,
    url: '',
    restartNode: async (index, { signal = 'SIGTERM', stopTimeoutMs = 15_000 } = {}) => {
      const node = cluster.nodes[index];
      const env = envs[index];
      if (node === undefined || env === undefined) throw new RangeError(`no node ${index} in this cluster`);
      if (stopping) throw new Error('the cluster is stopping');
      if (signal === 'SIGTERM') await node.stop(stopTimeoutMs);
      else if (signal === 'SIGKILL') await node.kill();
      else await node.exited;
      const restarted = await startGatewayProcess(env);
      if (stopping) {
        // stop() ran while this process started: it must not outlive the cluster.
        await restarted.kill();
        throw new Error('the cluster is stopping');
      }
      cluster.nodes[index] = restarted;
      return restarted;
    },
    stop: () => {
      stopping = true;
      return stopAll(cluster);
    },
  };
  try {
    if (options.redis === 'single') cluster.redis = await startRedis(options.redisArgs === undefined ? {} : { extraArgs: options.redisArgs });
    if (options.redis === 'cluster') cluster.redisCluster = await startRedisCluster({ masters: 3, ...(options.redisArgs === undefined ? {} : { extraArgs: options.redisArgs }) });
    const redisEnv: Record<string, string> = cluster.redis
      ? { REDIS_URL: cluster.redis.url }
      : cluster.redisCluster
        ? { REDIS_CLUSTER_NODES: cluster.redisCluster.envValue }
        : {};

    const ports = await distinctFreePorts(options.nodes);
    envs.push(
      ...ports.map((port, index) => ({
        JWT_SECRET: TEST_JWT_SECRET,
        API_KEYS: TEST_API_KEY,
        // Every test client comes from 127.0.0.1 (NGINX forwards it): per-address limits lifted, as in startGateway().
        MAX_CONNECTIONS_PER_IP: '0',
        ACCEPT_RATE_PER_IP_PER_S: '0',
        // A test that fails with clients still connected must not wait out a production drain.
        DRAIN_TIMEOUT_MS: '1000',
        ...redisEnv,
        ...options.env,
        NODE_ID: `${prefix}${index + 1}`,
        PORT: String(port),
      })),
    );
    cluster.nodes = await Promise.all(envs.map((env) => startGatewayProcess(env)));
    if (options.nginx) {
      // Nodes in development mode (no JWT setting) serve POST /dev/token, which the demo page needs through NGINX.
      const development = isDevelopment(envs[0] ?? {});
      cluster.nginx = await startNginx({ nodes: cluster.nodes.map((node) => ({ id: node.nodeId, host: '127.0.0.1', port: node.port })), devToken: development });
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
