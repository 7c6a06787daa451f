/**
 * Listeners of rooms outside Socket.IO (today: SSE streams). The adapter tap
 * (server/transports/socketio/adapter-taps.ts) hands every `message` broadcast this node's
 * adapter sees, local or received from another node through Redis, to
 * `deliver()`; listeners of that namespace and room get it. It also asks
 * `has()` whether this node wants a room it has no socket in, and hears from
 * `onInterest()` when a room gets its first or loses its last listener, so the
 * Redis adapter receives (classic) or subscribes to (sharded) such rooms too.
 *
 * No Socket.IO and no Express here: the gateway wires both sides.
 */
import type { Message } from '../../shared/index.js';

export type RoomListener = (message: Message) => void;
/** A room of a namespace got its first listener (true) or lost its last one (false). */
export type InterestListener = (namespace: string, room: string, interested: boolean) => void;

export class RoomListeners {
  private readonly rooms = new Map<string, Set<RoomListener>>();
  private readonly interest = new Set<InterestListener>();

  private static key(namespace: string, room: string): string {
    return `${namespace}\u0000${room}`;
  }

  /** Adds a listener; returns the function that removes it. */
  add(namespace: string, room: string, listener: RoomListener): () => void {
    const key = RoomListeners.key(namespace, room);
    let listeners = this.rooms.get(key);
    if (listeners === undefined) {
      listeners = new Set();
      this.rooms.set(key, listeners);
      for (const notify of this.interest) notify(namespace, room, true);
    }
    listeners.add(listener);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const current = this.rooms.get(key);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) {
        this.rooms.delete(key);
        for (const notify of this.interest) notify(namespace, room, false);
      }
    };
  }

  /** The rooms of `namespace` with at least one listener. */
  *roomsOf(namespace: string): IterableIterator<string> {
    const prefix = `${namespace}\u0000`;
    for (const key of this.rooms.keys()) if (key.startsWith(prefix)) yield key.slice(prefix.length);
  }

  has(namespace: string, room: string): boolean {
    return this.rooms.has(RoomListeners.key(namespace, room));
  }

  onInterest(listener: InterestListener): () => void {
    this.interest.add(listener);
    return () => this.interest.delete(listener);
  }

  /** One publication as broadcast to its room: every listener of that room gets it (a listener that throws does not stop the others). */
  deliver(namespace: string, message: Message, onError?: (error: unknown) => void): void {
    const listeners = this.rooms.get(RoomListeners.key(namespace, message.room));
    if (listeners === undefined) return;
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch (error) {
        onError?.(error);
      }
    }
  }
}
