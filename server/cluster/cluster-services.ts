/**
 * Everything a node needs to run as one of many: the Redis connections, the
 * shared stores, the adapter, presence liveness and the canary. Built only when
 * REDIS_URL or REDIS_CLUSTER_NODES is set; a single node uses memory instead.
 */
import type { Config } from '../config/config.js';
import { RedisHistoryStore } from '../delivery/history/redis.js';
import type { Logger } from '../ops/logger.js';
import { NodeLiveness, type PresenceHooks } from '../presence/node-liveness.js';
import { RedisPresenceStore } from '../presence/redis.js';
import { createRedisAdapter, type AdapterFactory } from './adapter-factory.js';
import { Canary } from './canary.js';
import { connectRedis, type RedisConnections } from './redis-connections.js';
import type { ObserveRedis } from './redis-errors.js';

export interface ClusterServices {
  redis: RedisConnections;
  history: RedisHistoryStore;
  presence: RedisPresenceStore;
  adapter: AdapterFactory;
  canary: Canary;
  /** Starts liveness and the canary; the hooks tell rooms about members removed or restored in Redis. */
  start(hooks: PresenceHooks): Promise<void>;
  /** Redis reachable and the canary's probes coming back. */
  ready(): { ready: boolean; reason?: string };
  close(): Promise<void>;
}

export interface ClusterMetrics {
  /** Times the stores' and the heartbeat's Redis calls. */
  observeRedis?: ObserveRedis;
  /** Each canary round trip, in seconds. */
  onCanaryLag?: (seconds: number) => void;
}

export async function createClusterServices(config: Config, logger: Logger, metrics: ClusterMetrics = {}): Promise<ClusterServices> {
  const redis = await connectRedis(config, logger);
  const observe = metrics.observeRedis;
  const history = new RedisHistoryStore(redis.commands, { size: config.history.size, ttlSeconds: config.history.ttlSeconds, ...(observe ? { observe } : {}) });
  const presence = new RedisPresenceStore(redis.commands, config.nodeId, observe);
  let lastPublishErrorAt = 0;
  const adapter = createRedisAdapter(redis, (error) => {
    if (Date.now() - lastPublishErrorAt > 5000) logger.warn({ err: error }, 'adapter broadcast could not be published; clients will recover it from history');
    lastPublishErrorAt = Date.now();
  });
  const canary = new Canary(redis, config.nodeId, logger, metrics.onCanaryLag ? { onLag: metrics.onCanaryLag } : {});
  let liveness: NodeLiveness | null = null;

  return {
    redis,
    history,
    presence,
    adapter,
    canary,
    async start(hooks) {
      liveness = new NodeLiveness({ redis: redis.commands, presence, nodeId: config.nodeId, ttlMs: config.nodeTtlMs, logger, ...(observe ? { observe } : {}), ...hooks });
      await liveness.start();
      await canary.start();
    },
    ready() {
      if (!redis.isReady()) return { ready: false, reason: 'redis unreachable' };
      if (!canary.healthy) return { ready: false, reason: 'canary: pub/sub probes are not coming back' };
      return { ready: true };
    },
    async close() {
      await canary.stop();
      await liveness?.stop(true);
      await redis.close();
    },
  };
}
