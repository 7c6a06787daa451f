/**
 * Feeds RoomListeners (SSE streams) from the adapter, so they see exactly what
 * this node's sockets would see: every `message` broadcast, whether published
 * here or received from another node through Redis.
 *
 * Where: like sliced-fanout.ts, this wraps `_encode` on each adapter instance,
 * which socket.io-adapter 2.5's `broadcast()` calls once per broadcast for local
 * broadcasts and for those the classic and sharded Redis adapters receive (they
 * call `super.broadcast`, which an override on a subclass would miss). A
 * broadcast with an acknowledgement id is not a publication and is ignored.
 *
 * Rooms without a socket on this node: the Redis adapters would not deliver
 * them here. The classic adapter drops a room's message when `hasRoom(room)` is
 * false, so `hasRoom` also answers true for a room with listeners. The sharded
 * adapter (dynamic subscription mode) subscribes to a room's channel on the
 * adapter's `create-room` event and unsubscribes on `delete-room`; so the room
 * is announced when its first listener comes and no socket is in it, and
 * withdrawn when neither is left (the adapter's own events for a room that has
 * listeners are held back, so a room is subscribed to once). Listeners of
 * `create-room`/`delete-room` on these adapters therefore see "a room this node
 * wants", sockets or SSE, which nothing in the gateway relies on otherwise.
 */
import type { Namespace } from 'socket.io';
import type { Adapter, Room } from 'socket.io-adapter';
import type { Message } from '../../shared/index.js';
import type { RoomListeners } from '../delivery/room-listeners.js';
import type { AdapterConstructor } from './sliced-fanout.js';

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;

interface TappedInternals {
  nsp: Namespace;
  rooms: Map<Room, Set<string>>;
  _encode(packet: { type?: number; id?: number; data?: unknown }, packetOpts: unknown): unknown;
  hasRoom?: (room: string) => boolean;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  close(): Promise<void> | void;
}

function publicationOf(packet: { type?: number; id?: number; data?: unknown }): Message | null {
  if (packet.type !== EVENT_PACKET || packet.id !== undefined || !Array.isArray(packet.data)) return null;
  const [event, message] = packet.data as unknown[];
  if (event !== 'message' || typeof message !== 'object' || message === null) return null;
  return typeof (message as Message).room === 'string' ? (message as Message) : null;
}

export function withRoomTaps(base: AdapterConstructor, listeners: RoomListeners, onError?: (error: unknown) => void): AdapterConstructor {
  const construct = base as unknown as new (nsp: Namespace) => Adapter;
  // A plain function: Socket.IO calls it with `new`, which returns the object it returns.
  return function roomTapsAdapter(nsp: Namespace): Adapter {
    const adapter = new construct(nsp);
    tap(adapter as unknown as TappedInternals, listeners, onError);
    return adapter;
  };
}

function tap(adapter: TappedInternals, listeners: RoomListeners, onError?: (error: unknown) => void): void {
  const namespace = adapter.nsp.name;
  const encode = adapter._encode.bind(adapter);
  adapter._encode = (packet, packetOpts) => {
    // Read before encoding: the message object is handed on as it is.
    const message = publicationOf(packet);
    if (message !== null) listeners.deliver(namespace, message, onError);
    return encode(packet, packetOpts);
  };

  if (typeof adapter.hasRoom === 'function') {
    const hasRoom = adapter.hasRoom.bind(adapter);
    adapter.hasRoom = (room) => hasRoom(room) || listeners.has(namespace, room);
  }

  const emit = adapter.emit.bind(adapter);
  adapter.emit = (event, ...args) => {
    if ((event === 'create-room' || event === 'delete-room') && typeof args[0] === 'string' && listeners.has(namespace, args[0])) return false;
    return emit(event, ...args);
  };
  const stopInterest = listeners.onInterest((listenedNamespace, room, interested) => {
    if (listenedNamespace !== namespace || adapter.rooms.has(room)) return;
    emit(interested ? 'create-room' : 'delete-room', room);
  });
  const close = adapter.close.bind(adapter);
  adapter.close = () => {
    stopInterest();
    return close();
  };
}
