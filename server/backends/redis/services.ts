/**
 * Everything a node needs to run as one of many: the Redis connections, the
 * shared stores, the adapter, presence liveness and the canary. Built only when
 * REDIS_URL or REDIS_CLUSTER_NODES is set; a single node uses memory instead.
 */
import type { Config } from '../../config/config.js';
import { RedisHistoryStore, type EpochRotation } from './history.js';
import type { Logger } from '../../ops/logger.js';
import { NodeLiveness, type PresenceHooks } from './node-liveness.js';
import { RedisPresenceStore } from './presence.js';
import type { RedisClusterType } from 'redis';
import { RoomcastError } from '../../errors.js';
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
  /** A room moved to a new epoch because Redis's data was replaced. */
  onEpochRotation?: (reason: EpochRotation) => void;
}

export async function createClusterServices(config: Config, logger: Logger, metrics: ClusterMetrics = {}): Promise<ClusterServices> {
  const redis = await connectRedis(config, logger);
  const observe = metrics.observeRedis;
  const history = new RedisHistoryStore(redis.commands, {
    size: config.history.size,
    ttlSeconds: config.history.ttlSeconds,
    durability: config.redisDurability,
    ...(observe ? { observe } : {}),
    onRotation: (reason) => {
      logger.warn({ reason }, 'a room was last written by another Redis process (restart, failover or restore): it starts a new epoch');
      metrics.onEpochRotation?.(reason);
    },
  });
  if (config.redisDurability === 'lossless') await warnUnlessDurable(redis, logger);
  const presence = new RedisPresenceStore(redis.commands, config.nodeId, observe);
  let lastPublishErrorAt = 0;
  const adapter = createRedisAdapter(redis, (error) => {
    if (Date.now() - lastPublishErrorAt > 5000) logger.warn({ err: error }, 'an adapter call to Redis failed (a broadcast is recovered from history, a subscription is restored)');
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

/**
 * REDIS_DURABILITY=lossless is the operator's promise that Redis never loses an
 * acknowledged write; check what can be checked (AOF on, fsync on every write)
 * and say so loudly when it does not hold. Managed services may refuse CONFIG:
 * then it cannot be checked, which is said too.
 */
async function warnUnlessDurable(redis: RedisConnections, logger: Logger): Promise<void> {
  const targets =
    redis.mode === 'single'
      ? [redis.publisherClient as unknown as { sendCommand(args: string[]): Promise<unknown> }]
      : await Promise.all(
          (redis.publisherClient as RedisClusterType).masters
            .map((master) => master.client)
            .filter((client): client is NonNullable<typeof client> => client !== undefined),
        ).then((clients) => clients as unknown as Array<{ sendCommand(args: string[]): Promise<unknown> }>);
  for (const target of targets) {
    try {
      const reply = (await target.sendCommand(['CONFIG', 'GET', 'append*'])) as string[] | Record<string, string>;
      const settings = Array.isArray(reply) ? Object.fromEntries(reply.flatMap((value, index) => (index % 2 === 0 ? [[value, reply[index + 1]]] : []))) : reply;
      if (settings.appendonly !== 'yes' || settings.appendfsync !== 'always') {
        logger.warn(
          { appendonly: settings.appendonly, appendfsync: settings.appendfsync },
          'REDIS_DURABILITY=lossless but Redis may lose acknowledged writes (needs appendonly yes and appendfsync always): a restart could hand out offsets twice',
        );
      }
    } catch (error) {
      logger.warn({ err: error }, 'REDIS_DURABILITY=lossless: could not read the Redis persistence settings to check it');
    }
  }
}
