/**
 * What a node stands on, behind the core's interfaces: the history and
 * presence stores, the Socket.IO adapter that carries broadcasts to the other
 * nodes, and (with Redis) what keeps them honest: node liveness for presence,
 * per-room channel subscriptions on Redis Cluster, the pub/sub canary. One
 * node alone uses memory (no Redis); REDIS_URL or REDIS_CLUSTER_NODES selects
 * Redis (see createBackends in index.ts).
 */
import type { ServerOptions } from 'socket.io';
import type { HistoryStore } from '../core/history-store.js';
import type { MemberChanges } from '../core/membership.js';
import type { PresenceStore } from '../core/presence-store.js';
import type { RoomChannels } from '../core/room-channels.js';
import type { WebhookQueue } from '../core/webhook-queue.js';
import type { CanaryStatus } from '../ops/readiness.js';
import type { EpochRotation } from './redis/history.js';
import type { RedisConnections } from './redis/redis-connections.js';
import type { ObserveRedis } from './redis/redis-errors.js';

/** What Socket.IO's `adapter` option takes: a constructor of a namespace's adapter. */
export type AdapterFactory = NonNullable<ServerOptions['adapter']>;

export interface Backends {
  /** For the start-up log line: which backend the node runs on. */
  readonly redisMode: 'none' | 'single' | 'cluster';
  readonly history: HistoryStore;
  readonly presence: PresenceStore;
  /** Where webhook events wait for delivery: in this process (memory), or a Redis stream every node shares. */
  readonly webhookQueue: WebhookQueue;
  /** The cluster adapter; null: Socket.IO's in-memory adapter (one node). */
  readonly adapter: AdapterFactory | null;
  /** Redis Cluster: the node's per-room channel subscriptions; null elsewhere. */
  readonly roomChannels: RoomChannels | null;
  /** One Redis: resolves once the subscriber connection is up (null when broadcasts cannot be missed: memory, or per-room channels). */
  readonly subscriberReady: (() => Promise<void>) | null;
  /** The Redis connections (null on memory): for diagnostics and tests that cut them, not for the core. */
  readonly redis: RedisConnections | null;
  /** The pub/sub canary (Redis only). */
  readonly canary: { readonly healthy: boolean; status(): CanaryStatus } | null;
  /** Calls `listener` each time the node receives other nodes' broadcasts again after a drop; returns the unsubscribe. */
  onReceptionRestored(listener: () => void): () => void;
  /** The in-memory history's size (zeros for a store that lives elsewhere). */
  historyStats(): { entries: number; rooms: number; bytes: number };
  /** Starts what runs in the background (liveness, canary); presence changes it makes go to `changes`. */
  start(changes: MemberChanges): Promise<void>;
  /** Whether the backend can serve (Redis reachable, canary probes coming back). */
  ready(): { ready: boolean; reason?: string };
  /** Closes the stores and connections. */
  close(): Promise<void>;
}

/** What a backend reports as it runs (metrics and logs). */
export interface BackendHooks {
  /** Times the stores' and the heartbeat's Redis calls. */
  observeRedis?: ObserveRedis;
  /** Each canary round trip, in seconds. */
  onCanaryLag?: (seconds: number) => void;
  /** A room channel subscription that reconciliation found wrong and repaired. */
  onSubscriptionRepair?: (kind: 'missing' | 'extra') => void;
  /** A room moved to a new epoch because Redis's data was replaced. */
  onEpochRotation?: (reason: EpochRotation) => void;
}
