/**
 * usePresence's external store: the members of a room from the SDK's
 * LivePresence (presence:list, then presence:join / presence:leave, re-read
 * after every rejoin), as an immutable snapshot.
 *
 * The first subscriber holds the room (the gateway sends presence events to its
 * members only) and opens a LivePresence; the last one closes it and lets the
 * room go. The members stay in the snapshot in between (StrictMode's
 * unsubscribe-subscribe), and the new list replaces them when it arrives.
 */
import type { LivePresence, LivePresenceOptions, PresenceMember, RoomcastError } from '../index.js';
import type { HookClient } from './hook-client.js';
import type { RoomLease, RoomMemberships } from './room-memberships.js';
import type { RoomState } from './room-store.js';

export interface PresenceSnapshot {
  /** One entry per connection in the room, oldest first. */
  readonly members: readonly PresenceMember[];
  /** The distinct user ids among them, in order of their first connection. */
  readonly users: readonly string[];
  /** True once the first list arrived. */
  readonly loaded: boolean;
  /** Where the room's join stands (presence needs the room joined). */
  readonly state: RoomState;
  /** The join's refusal, or the last failed list request (the list is kept and read again later). */
  readonly error: RoomcastError | undefined;
}

export const IDLE_PRESENCE: PresenceSnapshot = Object.freeze({ members: [], users: [], loaded: false, state: 'idle', error: undefined });

export class PresenceStore {
  readonly room: string;
  private readonly client: HookClient;
  private readonly memberships: RoomMemberships;
  private readonly options: LivePresenceOptions;
  private readonly listeners = new Set<() => void>();
  private snapshot: PresenceSnapshot;
  private lease: RoomLease | undefined;
  private live: LivePresence | undefined;
  private offs: Array<() => void> = [];

  constructor(client: HookClient, room: string, memberships: RoomMemberships, options: LivePresenceOptions = {}) {
    this.client = client;
    this.room = room;
    this.memberships = memberships;
    this.options = options;
    const held = memberships.peek(room);
    this.snapshot = { members: [], users: [], loaded: false, state: held?.status ?? 'joining', error: held?.error };
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.attach();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.detach();
    };
  };

  readonly getSnapshot = (): PresenceSnapshot => this.snapshot;

  private attach(): void {
    // The room first: a LivePresence of a room being joined lists it on the join's ack.
    const lease = this.memberships.acquire(this.room);
    const live = this.client.presenceList(this.room, this.options);
    this.lease = lease;
    this.live = live;
    this.offs = [
      live.on('change', () => this.update({ members: live.members, users: live.users, loaded: true, error: lease.state.error })),
      live.on('error', (error) => this.update({ error })),
      lease.subscribe(() => this.update({ state: lease.state.status, error: lease.state.error })),
    ];
    const { status, error } = lease.state;
    if (status !== this.snapshot.state || error !== this.snapshot.error) this.update({ state: status, error });
  }

  private detach(): void {
    for (const off of this.offs.splice(0)) off();
    this.live?.close();
    this.live = undefined;
    this.lease?.release();
    this.lease = undefined;
  }

  private update(change: Partial<PresenceSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of [...this.listeners]) listener();
  }
}
