/**
 * ChannelSubscriptions' driver on a node-redis Redis Cluster client: sharded
 * channels (SSUBSCRIBE), each on the pub/sub connection node-redis keeps to the
 * master owning the channel's slot.
 *
 * It reads node-redis's own bookkeeping to tell what is really subscribed: a
 * channel's listeners are added only when Redis answered SSUBSCRIBE and removed
 * when it answered SUNSUBSCRIBE (or moved the slot), so they are the live
 * subscriptions as far as the client knows. These are node-redis internals
 * (`slots[slot].master.pubSub.client`, `getPubSubListeners('SHARDED')`);
 * test/integration/adapter-internals.test.ts fails if an upgrade moves them.
 */
import calculateSlot from 'cluster-key-slot';
import type { RedisClusterType } from 'redis';
import type { ChannelListener } from '../../core/room-channels.js';
import type { PubSubDriver } from './channel-subscriptions.js';

interface ChannelListeners {
  buffers: Set<ChannelListener>;
  strings: Set<unknown>;
}

interface ShardClient {
  isReady: boolean;
  getPubSubListeners(type: 'SHARDED'): Map<string, ChannelListeners>;
  on(event: 'ready' | 'reconnecting', listener: () => void): unknown;
  off(event: 'ready' | 'reconnecting', listener: () => void): unknown;
}

interface ShardNode {
  pubSub?: { client: ShardClient; connectPromise?: Promise<unknown> };
}

/** The parts of node-redis's cluster client this driver reads. */
export interface ClusterInternals {
  slots: Array<{ master: ShardNode } | undefined>;
  masters: ShardNode[];
  sSubscribe(channel: string, listener: ChannelListener, bufferMode: true): Promise<void>;
  sUnsubscribe(channel: string, listener: ChannelListener, bufferMode: true): Promise<void>;
}

/** How often the shard connections are looked at for a new one to watch for 'ready'. */
const READY_WATCH_MS = 250;

export function shardedPubSubDriver(cluster: RedisClusterType): PubSubDriver {
  const internals = cluster as unknown as ClusterInternals;
  const shardOf = (channel: string): ShardClient | undefined => internals.slots[calculateSlot(channel)]?.master.pubSub?.client;
  const listenersOf = (channel: string): ChannelListeners | undefined => shardOf(channel)?.getPubSubListeners('SHARDED').get(channel);
  return {
    subscribe: (channel, listener) => internals.sSubscribe(channel, listener, true),
    unsubscribe: (channel, listener) => internals.sUnsubscribe(channel, listener, true),
    hasListener: (channel, listener) => listenersOf(channel)?.buffers.has(listener) === true,
    isLive: (channel, listener) => {
      const client = shardOf(channel);
      return client?.isReady === true && client.getPubSubListeners('SHARDED').get(channel)?.buffers.has(listener) === true;
    },
    subscribedChannels: () => {
      const channels = new Map<string, Set<ChannelListener>>();
      for (const master of internals.masters) {
        for (const [channel, listeners] of master.pubSub?.client.getPubSubListeners('SHARDED') ?? []) {
          const set = channels.get(channel) ?? new Set<ChannelListener>();
          for (const listener of listeners.buffers) set.add(listener);
          channels.set(channel, set);
        }
      }
      return channels;
    },
    onReady: (listener) => watchShardClients(cluster, { ready: () => listener() }),
  };
}

/**
 * Calls `on.ready(client)` each time one of the cluster's sharded pub/sub
 * connections becomes ready, and `on.reconnecting(client)` each time one drops
 * and starts reconnecting. These connections come and go (node-redis opens one
 * per master on demand and drops it when it has no channel left), so the ones
 * that exist are looked up now and then. Returns the function that stops it.
 */
export function watchShardClients(cluster: RedisClusterType, on: { ready?: (client: object) => void; reconnecting?: (client: object) => void }): () => void {
  const internals = cluster as unknown as ClusterInternals;
  const watched = new Map<ShardClient, { ready: () => void; reconnecting: () => void }>();
  const detach = (client: ShardClient): void => {
    const listeners = watched.get(client);
    if (listeners === undefined) return;
    client.off('ready', listeners.ready);
    client.off('reconnecting', listeners.reconnecting);
    watched.delete(client);
  };
  const watch = (): void => {
    const current = new Set<ShardClient>();
    for (const master of internals.masters) if (master.pubSub !== undefined) current.add(master.pubSub.client);
    for (const client of [...watched.keys()]) if (!current.has(client)) detach(client);
    for (const client of current) {
      if (watched.has(client)) continue;
      const listeners = { ready: () => on.ready?.(client), reconnecting: () => on.reconnecting?.(client) };
      watched.set(client, listeners);
      client.on('ready', listeners.ready);
      client.on('reconnecting', listeners.reconnecting);
    }
  };
  watch();
  const timer = setInterval(watch, READY_WATCH_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const client of [...watched.keys()]) detach(client);
  };
}
