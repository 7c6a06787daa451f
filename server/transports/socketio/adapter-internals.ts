/**
 * The one place Roomcast reaches inside Socket.IO's adapters. Two features
 * need what no public API gives:
 *
 * - adapter-taps.ts: SSE listeners and room watermarks see every broadcast
 *   this node's adapter writes (its own and other nodes'), the classic Redis
 *   adapter receives rooms that only have listeners, and the sharded adapter's
 *   room subscriptions are driven by the node (Redis Cluster);
 * - sliced-fanout.ts: a broadcast to a large room is written in slices.
 *
 * Both hook each namespace's adapter instance as it is built (hookAdapters),
 * through the members declared here: socket.io-adapter 2.5 (`_encode`,
 * `apply`, `hasRoom`, `rooms`, `sids`, `close`) and @socket.io/redis-adapter
 * 8.3's sharded adapter (`opts.subscriptionMode`, `dynamicChannel`,
 * `shouldUseASeparateNamespace`, `onRawMessage`, its create-room/delete-room
 * listeners). package.json pins socket.io-adapter to ~2.5, and
 * test/integration/adapter-internals.test.ts fails if an upgrade moves any of
 * them.
 */
import type { Namespace } from 'socket.io';
import type { Adapter, BroadcastOptions, Room, SocketId } from 'socket.io-adapter';

/** What Socket.IO's `adapter` option takes. */
export type AdapterConstructor = typeof Adapter | ((nsp: Namespace) => Adapter);

/** A write of one packet to one socket, as apply() calls it. */
export type Deliver = (socket: unknown) => void;

/** socket.io-adapter 2.5's in-memory adapter, as far as Roomcast uses it (see in-memory-adapter.js). */
export interface AdapterInternals {
  nsp: Namespace;
  rooms: Map<Room, Set<SocketId>>;
  sids: Map<SocketId, Set<Room>>;
  /** Called once per broadcast, local or received from another node, before the packet is written. */
  _encode(packet: { type?: number; id?: number; data?: unknown }, packetOpts: unknown): unknown;
  /** Loops over the sockets a broadcast (or fetchSockets, addSockets, ...) targets. */
  apply(opts: BroadcastOptions, callback: Deliver): void;
  /** The classic Redis adapter's filter of received messages (absent elsewhere). */
  hasRoom?: (room: string) => boolean;
  on(event: string, listener: (room: string) => void): unknown;
  removeAllListeners(event: string): unknown;
  close(): Promise<void> | void;
}

/** The sharded Redis adapter's internals, checked on each instance before they are relied on. */
export interface ShardedInternals extends AdapterInternals {
  opts: { subscriptionMode?: string };
  dynamicChannel(room: string): string;
  shouldUseASeparateNamespace(room: string): boolean;
  onRawMessage(message: Buffer, channel: Buffer): void;
}

export function isSharded(adapter: AdapterInternals): adapter is ShardedInternals {
  const candidate = adapter as Partial<ShardedInternals>;
  return typeof candidate.dynamicChannel === 'function' && typeof candidate.onRawMessage === 'function' && candidate.opts !== undefined;
}

/** Something done to each namespace's adapter instance as it is built. */
export type AdapterHook = (adapter: AdapterInternals) => void;

/** An adapter constructor whose instances get `hooks`, in order (a later hook wraps what an earlier one wrapped). */
export function hookAdapters(base: AdapterConstructor, hooks: readonly AdapterHook[]): AdapterConstructor {
  const construct = base as unknown as new (nsp: Namespace) => Adapter;
  // A plain function, not an arrow: Socket.IO calls it with `new`, which returns the object it returns.
  return function hookedAdapter(nsp: Namespace): Adapter {
    const adapter = new construct(nsp);
    for (const hook of hooks) hook(adapter as unknown as AdapterInternals);
    return adapter;
  };
}
