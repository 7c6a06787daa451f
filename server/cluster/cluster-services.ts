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
import type { RedisClusterType } from 'redis';
import { RoomcastError } from '../errors.js';
import { createRedisAdapter, type AdapterFactory } from './adapter-factory.js';
import { Canary } from './canary.js';
import { ChannelSubscriptions } from './channel-subscriptions.js';
import { connectRedis, type RedisConnections } from './redis-connections.js';
import { REDIS_CALL_TIMEOUT_MS, type ObserveRedis } from './redis-errors.js';
import { shardedPubSubDriver } from './sharded-pubsub.js';

export interface ClusterServices {
  redis: RedisConnections;
  history: RedisHistoryStore;
  presence: RedisPresenceStore;
  adapter: AdapterFactory;
  canary: Canary;
  /** Redis Cluster: the per-room channel subscriptions (the sharded adapter's, driven by the node); null on a single Redis. */
  subscriptions: ChannelSubscriptions | null;
  /** Resolves once the subscriber connection is up (its subscriptions restored); UNAVAILABLE after a deadline. */
  subscriberReady(): Promise<void>;
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
  /** A room channel subscription that reconciliation found wrong and repaired. */
  onSubscriptionRepair?: (kind: 'missing' | 'extra') => void;
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
  let lastSubscriptionErrorAt = 0;
  const subscriptions =
    redis.mode === 'cluster'
      ? new ChannelSubscriptions(shardedPubSubDriver(redis.subscriberClient as RedisClusterType), {
          onRepair: (kind, channel) => {
            logger.warn({ channel, kind }, 'room subscription repaired by reconciliation');
            metrics.onSubscriptionRepair?.(kind);
          },
          onError: (error, channel) => {
            if (Date.now() - lastSubscriptionErrorAt < 5000) return;
            lastSubscriptionErrorAt = Date.now();
            logger.warn({ err: error, channel }, 'room subscription command failed; retrying');
          },
        })
      : null;
  const subscriberReady = (): Promise<void> => {
    if (redis.subscriberReady()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const timer = setInterval(() => {
        if (redis.subscriberReady()) {
          clearInterval(timer);
          resolve();
        } else if (Date.now() - started > REDIS_CALL_TIMEOUT_MS) {
          clearInterval(timer);
          reject(new RoomcastError('UNAVAILABLE', 'the redis subscriber connection is down'));
        }
      }, 20);
    });
  };
  let liveness: NodeLiveness | null = null;

  return {
    redis,
    history,
    presence,
    adapter,
    canary,
    subscriptions,
    subscriberReady,
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
      subscriptions?.close();
      await canary.stop();
      await liveness?.stop(true);
      await redis.close();
    },
  };
}
