/**
 * What this node receives from the adapter, and when it receives a room.
 *
 * 1. Listeners outside Socket.IO (SSE streams, RoomListeners) see exactly what
 *    this node's sockets would see: every `message` broadcast, whether published
 *    here or received from another node through Redis. This wraps `_encode` on
 *    each adapter instance, which socket.io-adapter 2.5's `broadcast()` calls
 *    once per broadcast for local broadcasts and for those the classic and
 *    sharded Redis adapters receive (they call `super.broadcast`, which an
 *    override on a subclass would miss). A broadcast with an acknowledgement id
 *    is not a publication and is ignored.
 *
 * 2. Rooms with listeners but no socket here must still reach this node. The
 *    classic adapter (one pattern subscription for everything) drops a room's
 *    message when `hasRoom(room)` is false, so `hasRoom` also answers true for
 *    a room with listeners.
 *
 * 3. The sharded adapter (Redis Cluster, dynamic subscription mode) subscribes
 *    to a room's channel on its `create-room` event and unsubscribes on
 *    `delete-room`, without waiting for Redis, which loses rooms when a member
 *    arrives while the unsubscribe is in flight (see
 *    server/backends/redis/channel-subscriptions.ts). Its own listeners of those
 *    events are removed; the room's channel is driven by ChannelSubscriptions
 *    from what the node serves: sockets in the room or listeners of it.
 *
 * 4. `whenReceiving(namespace, room)` resolves once publications of the room
 *    made anywhere reach this node: the join handler and SSE read a room's
 *    position only then, so nothing published in between is skipped. Sharded:
 *    the room's channel is subscribed and its connection is up; classic: the
 *    subscriber connection is up (its pattern subscription is restored before
 *    node-redis calls it ready); memory: at once.
 *
 * These are socket.io-adapter 2.5 and @socket.io/redis-adapter 8.3 internals,
 * declared in adapter-internals.ts; test/integration/adapter-internals.test.ts
 * fails if an upgrade moves them.
 */
import type { Message } from '../../../shared/index.js';
import type { ChannelListener, RoomChannels } from '../../core/room-channels.js';
import type { RoomListeners } from '../../core/room-listeners.js';
import { isSharded, type AdapterHook, type AdapterInternals, type ShardedInternals } from './adapter-internals.js';

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;

function publicationOf(packet: { type?: number; id?: number; data?: unknown }): Message | null {
  if (packet.type !== EVENT_PACKET || packet.id !== undefined || !Array.isArray(packet.data)) return null;
  const [event, message] = packet.data as unknown[];
  if (event !== 'message' || typeof message !== 'object' || message === null) return null;
  return typeof (message as Message).room === 'string' ? (message as Message) : null;
}

export interface RoomTapsOptions {
  listeners: RoomListeners;
  /** Redis Cluster: the node's per-room channel subscriptions (null otherwise). */
  subscriptions?: RoomChannels | null;
  /** Single Redis (classic adapter): resolves once the subscriber connection is up; absent: always receiving. */
  subscriberReady?: () => Promise<void>;
  /** A room listener threw (the others still get the message). */
  onError?: (error: unknown) => void;
  /** Told of every publication this node's adapter broadcasts (its own and other nodes'), before it is written. */
  observe?: (namespace: string, message: Message) => void;
}

interface ShardedNamespace {
  adapter: ShardedInternals;
  /** The one listener of this namespace's room channels (node-redis tells listeners apart by identity). */
  listener: ChannelListener;
}

export class RoomTaps {
  private readonly sharded = new Map<string, ShardedNamespace>();
  private readonly adapters = new Map<string, AdapterInternals>();
  private reconcileTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: RoomTapsOptions) {}

  /** The hook that taps each namespace's adapter as it is built (see adapter-internals.ts). */
  readonly hook: AdapterHook = (adapter) => this.tap(adapter);

  /** Resolves once publications of `room` made on any node reach this one (see 4. above). */
  whenReceiving(namespace: string, room: string): Promise<void> {
    const sharded = this.sharded.get(namespace);
    if (sharded !== undefined && this.options.subscriptions) {
      if (!sharded.adapter.shouldUseASeparateNamespace(room)) return Promise.resolve();
      return this.options.subscriptions.whenActive(sharded.adapter.dynamicChannel(room));
    }
    return this.options.subscriberReady?.() ?? Promise.resolve();
  }

  /** Every room this node serves now: rooms with sockets in them (not a socket's own room) or with listeners. */
  servedRooms(): Array<{ namespace: string; room: string }> {
    const served: Array<{ namespace: string; room: string }> = [];
    for (const [namespace, adapter] of this.adapters) {
      const rooms = new Set<string>(this.options.listeners.roomsOf(namespace));
      for (const room of adapter.rooms.keys()) if (!adapter.sids.has(room)) rooms.add(room);
      for (const room of rooms) served.push({ namespace, room });
    }
    return served;
  }

  /** Every room channel this node serves now (sockets or listeners), with the listener it needs. */
  expectedChannels(): Map<string, ChannelListener> {
    const expected = new Map<string, ChannelListener>();
    for (const [namespace, { adapter, listener }] of this.sharded) {
      for (const room of adapter.rooms.keys()) {
        if (adapter.shouldUseASeparateNamespace(room)) expected.set(adapter.dynamicChannel(room), listener);
      }
      for (const room of this.options.listeners.roomsOf(namespace)) expected.set(adapter.dynamicChannel(room), listener);
    }
    return expected;
  }

  /** Compares the room channels served with the live subscriptions and repairs them; returns the repairs. */
  reconcile(): number {
    const subscriptions = this.options.subscriptions;
    if (!subscriptions || this.sharded.size === 0) return 0;
    return subscriptions.reconcile(this.expectedChannels());
  }

  /** Runs reconcile() every `intervalMs` until stop(). */
  startReconciling(intervalMs: number): void {
    if (this.reconcileTimer !== null || !this.options.subscriptions) return;
    this.reconcileTimer = setInterval(() => this.reconcile(), intervalMs);
    this.reconcileTimer.unref();
  }

  stop(): void {
    if (this.reconcileTimer !== null) clearInterval(this.reconcileTimer);
    this.reconcileTimer = null;
  }

  private tap(adapter: AdapterInternals): void {
    const { listeners, onError, observe } = this.options;
    const namespace = adapter.nsp.name;
    this.adapters.set(namespace, adapter);
    const encode = adapter._encode.bind(adapter);
    adapter._encode = (packet, packetOpts) => {
      // Read before encoding: the message object is handed on as it is.
      const message = publicationOf(packet);
      if (message !== null) {
        observe?.(namespace, message);
        listeners.deliver(namespace, message, onError);
      }
      return encode(packet, packetOpts);
    };
    const closeAdapter = adapter.close.bind(adapter);
    adapter.close = () => {
      this.adapters.delete(namespace);
      return closeAdapter();
    };

    if (typeof adapter.hasRoom === 'function') {
      const hasRoom = adapter.hasRoom.bind(adapter);
      adapter.hasRoom = (room) => hasRoom(room) || listeners.has(namespace, room);
    }

    const subscriptions = this.options.subscriptions;
    if (!subscriptions) return;
    if (!isSharded(adapter) || adapter.opts.subscriptionMode !== 'dynamic') {
      // Better no node at all than a node that silently subscribes the racy way again.
      throw new Error('the sharded Redis adapter does not have the internals Roomcast drives (see adapter-taps.ts): check the @socket.io/redis-adapter version');
    }
    // From here on the room channels are ours: the adapter's own create-room/delete-room subscribers go.
    adapter.removeAllListeners('create-room');
    adapter.removeAllListeners('delete-room');
    const listener: ChannelListener = (raw, channel) => adapter.onRawMessage(raw, channel);
    this.sharded.set(namespace, { adapter, listener });
    const sync = (room: string): void => {
      if (!adapter.shouldUseASeparateNamespace(room)) return;
      subscriptions.want(adapter.dynamicChannel(room), listener, adapter.rooms.has(room) || listeners.has(namespace, room));
    };
    adapter.on('create-room', sync);
    adapter.on('delete-room', sync);
    const stopInterest = listeners.onInterest((listenedNamespace, room) => {
      if (listenedNamespace === namespace) sync(room);
    });
    const close = adapter.close.bind(adapter);
    adapter.close = () => {
      stopInterest();
      this.sharded.delete(namespace);
      return close();
    };
  }
}
