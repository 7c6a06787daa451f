/**
 * The Socket.IO adapter for many nodes: the official @socket.io/redis-adapter
 * on the node's two Redis connections. A single Redis uses the classic adapter
 * (PUBLISH/PSUBSCRIBE); a Redis Cluster the sharded one (SPUBLISH/SSUBSCRIBE,
 * Redis 7), with a channel per room so a node only receives the rooms it has
 * members in.
 */
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { AdapterFactory } from '../backends.js';
import type { RedisConnections } from './redis-connections.js';

/** The channel prefix of Roomcast's adapter traffic. */
export const ADAPTER_KEY = 'roomcast';

/**
 * The adapter does not handle the promises of its Redis calls: a rejected
 * PUBLISH (Redis down) or SUNSUBSCRIBE (node-redis throws ClientClosedError when
 * the connection closes under it, as at shutdown) would surface as an unhandled
 * rejection and stop the process. These calls are wrapped so that a rejection is
 * reported instead. A stored publication whose broadcast failed is recovered by
 * clients from history; a subscription call that failed is repaired by the
 * room subscriptions' reconciliation (Cluster) or restored with the connection.
 */
function withGuardedCalls<T extends object>(client: T, methods: readonly string[], onError: (error: unknown) => void): T {
  const guarded = new Set(methods);
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !guarded.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...callArgs: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.catch((error: unknown) => (onError(error), 0)) : result;
      };
    },
  });
}

const PUBLISH_CALLS = ['publish', 'sPublish', 'spublish'];
const SUBSCRIBE_CALLS = ['subscribe', 'unsubscribe', 'pSubscribe', 'pUnsubscribe', 'sSubscribe', 'sUnsubscribe', 'SSUBSCRIBE', 'SUNSUBSCRIBE'];

export function createRedisAdapter(redis: RedisConnections, onError: (error: unknown) => void): AdapterFactory {
  const publisher = withGuardedCalls(redis.publisherClient, PUBLISH_CALLS, onError);
  const subscriber = withGuardedCalls(redis.subscriberClient, SUBSCRIBE_CALLS, onError);
  return redis.mode === 'cluster'
    ? (createShardedAdapter(publisher, subscriber, { channelPrefix: ADAPTER_KEY, subscriptionMode: 'dynamic' }) as AdapterFactory)
    : (createAdapter(publisher, subscriber, { key: ADAPTER_KEY }) as AdapterFactory);
}
