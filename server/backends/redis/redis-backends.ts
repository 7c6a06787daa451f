/**
 * The backends of a node that is one of many: the Redis connections, the
 * shared stores, the adapter, presence liveness, the room channel
 * subscriptions (Cluster) and the canary. Built only when REDIS_URL or
 * REDIS_CLUSTER_NODES is set; a single node uses memory instead.
 */
import type { Config } from '../../config/config.js';
import { RedisHistoryStore } from './history.js';
import type { Logger } from '../../ops/logger.js';
import { NodeLiveness } from './node-liveness.js';
import { RedisPresenceStore } from './presence.js';
import type { RedisClusterType } from 'redis';
import { RoomcastError } from '../../errors.js';
import type { BackendHooks, Backends } from '../backends.js';
import { createRedisAdapter } from './adapter-factory.js';
import { Canary } from './canary.js';
import { ChannelSubscriptions } from './channel-subscriptions.js';
import { connectRedis, type RedisConnections } from './redis-connections.js';
import { REDIS_CALL_TIMEOUT_MS } from './redis-errors.js';
import { shardedPubSubDriver } from './sharded-pubsub.js';
import { RedisWebhookQueue } from './webhook-queue.js';

/** The Redis side's parts a test or an operator tool may reach (the gateway exposes them). */
export interface RedisBackends extends Backends {
  readonly redis: RedisConnections;
  readonly canary: Canary;
}

export async function redisBackends(config: Config, logger: Logger, metrics: BackendHooks = {}): Promise<RedisBackends> {
  const redis = await connectRedis(config, logger);
  const observe = metrics.observeRedis;
  const history = new RedisHistoryStore(redis.commands, {
    size: config.history.size,
    ttlSeconds: config.history.ttlSeconds,
    durability: config.redisDurability,
    cluster: redis.mode === 'cluster',
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
    redisMode: redis.mode,
    redis,
    history,
    presence,
    // The delivering lease lasts NODE_TTL_MS: a dead node's deliveries are taken over when its members are swept.
    webhookQueue: new RedisWebhookQueue(redis, { nodeId: config.nodeId, leaseMs: config.nodeTtlMs }),
    adapter,
    canary,
    roomChannels: subscriptions,
    // With per-room channels, a room's own subscription says when it is live; otherwise the one subscriber connection does.
    subscriberReady: subscriptions === null ? subscriberReady : null,
    onReceptionRestored: (listener) => redis.onSubscriberReconnected(listener),
    historyStats: () => ({ entries: 0, rooms: 0, bytes: 0 }),
    async start(changes) {
      liveness = new NodeLiveness({ redis: redis.commands, presence, nodeId: config.nodeId, ttlMs: config.nodeTtlMs, logger, ...(observe ? { observe } : {}), changes });
      await liveness.start();
      await canary.start();
    },
    ready() {
      if (!redis.isReady()) return { ready: false, reason: 'redis unreachable' };
      if (!canary.healthy) return { ready: false, reason: 'canary: pub/sub probes are not coming back' };
      return { ready: true };
    },
    async close() {
      await history.close();
      await presence.close();
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
