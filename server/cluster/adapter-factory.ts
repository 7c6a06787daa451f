/**
 * The Socket.IO adapter for many nodes: the official @socket.io/redis-adapter
 * on the node's two Redis connections. A single Redis uses the classic adapter
 * (PUBLISH/PSUBSCRIBE); a Redis Cluster the sharded one (SPUBLISH/SSUBSCRIBE,
 * Redis 7), with a channel per room so a node only receives the rooms it has
 * members in.
 */
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { ServerOptions } from 'socket.io';
import type { RedisConnections } from './redis-connections.js';

/** What Socket.IO's `adapter` option takes: a constructor of a namespace's adapter. */
export type AdapterFactory = NonNullable<ServerOptions['adapter']>;

/** The channel prefix of Roomcast's adapter traffic. */
export const ADAPTER_KEY = 'roomcast';

/**
 * The adapter does not handle a rejected PUBLISH (it would surface as an
 * unhandled rejection and stop the process while Redis is down). A stored
 * publication whose broadcast failed is recovered by clients from history.
 */
function withGuardedPublish<T extends object>(client: T, onError: (error: unknown) => void): T {
  const guarded = new Set(['publish', 'sPublish', 'spublish']);
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

export function createRedisAdapter(redis: RedisConnections, onPublishError: (error: unknown) => void): AdapterFactory {
  const publisher = withGuardedPublish(redis.publisherClient, onPublishError);
  return redis.mode === 'cluster'
    ? (createShardedAdapter(publisher, redis.subscriberClient, { channelPrefix: ADAPTER_KEY, subscriptionMode: 'dynamic' }) as AdapterFactory)
    : (createAdapter(publisher, redis.subscriberClient, { key: ADAPTER_KEY }) as AdapterFactory);
}
