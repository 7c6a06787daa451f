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
import { HeldRoomStore, type RoomState } from './held-room-store.js';
import type { RoomLease, RoomMemberships } from './room-memberships.js';

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

export class PresenceStore extends HeldRoomStore<PresenceSnapshot> {
  private readonly client: HookClient;
  private readonly options: LivePresenceOptions;
  private live: LivePresence | undefined;

  constructor(client: HookClient, room: string, memberships: RoomMemberships, options: LivePresenceOptions = {}) {
    super(room, memberships, (held) => ({ members: [], users: [], loaded: false, ...held }));
    this.client = client;
    this.options = options;
  }

  protected listen(lease: RoomLease): Array<() => void> {
    // The room is held already: a LivePresence of a room being joined lists it on the join's ack.
    const live = this.client.presenceList(this.room, this.options);
    this.live = live;
    return [
      live.on('change', () => this.update({ members: live.members, users: live.users, loaded: true, error: lease.state.error })),
      live.on('error', (error) => this.update({ error })),
    ];
  }

  protected override stopListening(): void {
    this.live?.close();
    this.live = undefined;
  }
}
