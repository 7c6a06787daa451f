/**
 * What the hooks' stores (room, presence, signal) share: an external store for
 * useSyncExternalStore whose first subscriber holds the room
 * (room-memberships.ts) and starts the store's own listeners, and whose last
 * subscriber stops them and lets the room go. The snapshot is immutable,
 * replaced on every change, and outlives an unsubscribe (StrictMode's
 * unsubscribe-subscribe keeps what was shown). Every snapshot carries where the
 * room's join stands (`state`, `error`), followed from the lease.
 */
import type { RoomcastError } from '../index.js';
import type { ExternalStore } from './external-store.js';
import type { RoomLease, RoomMemberships, RoomStatus } from './room-memberships.js';

/** `idle`: no room given (the hook was passed null). */
export type RoomState = 'idle' | RoomStatus;

export interface HeldRoomSnapshot {
  readonly state: RoomState;
  readonly error: RoomcastError | undefined;
}

export abstract class HeldRoomStore<Snapshot extends HeldRoomSnapshot> implements ExternalStore<Snapshot> {
  readonly room: string;
  protected snapshot: Snapshot;
  private readonly memberships: RoomMemberships;
  private readonly listeners = new Set<() => void>();
  private lease: RoomLease | undefined;
  private offs: Array<() => void> = [];

  /** `initial` gets where the room's join already stands, so a store of a room held elsewhere starts there (no flash of `joining`). */
  protected constructor(room: string, memberships: RoomMemberships, initial: (held: HeldRoomSnapshot) => Snapshot) {
    this.room = room;
    this.memberships = memberships;
    const held = memberships.peek(room);
    this.snapshot = initial({ state: held?.status ?? 'joining', error: held?.error });
  }

  /** For useSyncExternalStore: stable, bound. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.attach();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.detach();
    };
  };

  readonly getSnapshot = (): Snapshot => this.snapshot;

  /** True while a subscriber holds the room. */
  protected get held(): boolean {
    return this.lease !== undefined;
  }

  /** Starts the store's own listeners once the room is held; returns what removes them. */
  protected abstract listen(lease: RoomLease): Array<() => void>;

  /** Stops what `listen` started beyond its listeners (timers, lists), before the room is let go. */
  protected stopListening(): void {}

  protected update(change: Partial<Snapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of [...this.listeners]) listener();
  }

  private attach(): void {
    // The room first: what `listen` opens (a presence list) may need the join under way.
    const lease = this.memberships.acquire(this.room);
    this.lease = lease;
    this.offs = [...this.listen(lease), lease.subscribe(() => this.followLease(lease))];
    this.followLease(lease);
  }

  private detach(): void {
    for (const off of this.offs.splice(0)) off();
    this.stopListening();
    this.lease?.release();
    this.lease = undefined;
  }

  private followLease(lease: RoomLease): void {
    const { status, error } = lease.state;
    if (status !== this.snapshot.state || error !== this.snapshot.error) this.update({ state: status, error } as Partial<Snapshot>);
  }
}
