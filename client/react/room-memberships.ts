/**
 * The room joins of one client, shared by every hook that uses the client and
 * counted: the first hook that needs a room joins it, the last one to let go
 * leaves it, one macrotask later. React's StrictMode mounts a component, unmounts
 * it and mounts it again at once: with the leave deferred, the second mount finds
 * the room still held and the gateway sees one join, not join, leave, join (a
 * fresh join would also start the room over, without `since`). Two components
 * showing the same room share its one join as well.
 *
 * A room the client was already in when a hook first asked (the app called
 * `client.join` itself, or the gateway joined it: `session`) is followed here but
 * neither joined nor left: that membership is the app's. (`client.join` on a
 * joined room would replace the app's message handler, so the hooks never call it
 * for such a room; they read the client's `message`, `gap` and `signal` events.)
 *
 * No React in here: the stores use it, and unit tests drive it with a stand-in client.
 */
import { RoomcastError } from '../index.js';
import { clientClosedError } from '../errors.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../scheduler.js';
import type { HookClient } from './hook-client.js';

/**
 * Where a room stands for the hooks:
 * - `joining`: the first join is on its way (or waits for the connection);
 * - `joined`: the gateway acknowledged the (re)join: messages flow;
 * - `rejoining`: the connection dropped; the client rejoins with `since` when it is back (nothing is lost);
 * - `left`: the gateway took this connection out of the room (`room:left`): it is not rejoined;
 * - `error`: the join was refused (`error` says why, e.g. FORBIDDEN_ROOM), a rejoin was refused for good, or the client closed.
 */
export type RoomStatus = 'joining' | 'joined' | 'rejoining' | 'left' | 'error';

export interface MembershipState {
  readonly status: RoomStatus;
  /** Why the room is `error` (or `left`); undefined otherwise. */
  readonly error: RoomcastError | undefined;
}

/** One hook's hold on a room: read its state, hear of changes, let go (once; later calls do nothing). */
export interface RoomLease {
  readonly room: string;
  readonly state: MembershipState;
  subscribe(listener: () => void): () => void;
  release(): void;
}

/** How long the last release waits before leaving: long enough for StrictMode's immediate remount. */
export const LEAVE_DELAY_MS = 0;

class Membership {
  readonly room: string;
  /** Joined (and to be left) here; false for a room the client was in already. */
  readonly owned: boolean;
  refs = 0;
  leaveTimer: TimerHandle | undefined;
  private current: MembershipState;
  private readonly client: HookClient;
  private readonly listeners = new Set<() => void>();
  private readonly offs: Array<() => void> = [];
  private disposed = false;

  constructor(client: HookClient, room: string) {
    this.client = client;
    this.room = room;
    this.owned = !client.joinedRooms.includes(room);
    this.current = { status: this.owned ? 'joining' : this.followedStatus(), error: undefined };
    this.listen();
    if (this.owned) {
      client.join(room).then(
        () => this.set('joined'),
        (error: unknown) => this.fail(RoomcastError.from(error, { room, event: 'room:join' })),
      );
    }
  }

  get state(): MembershipState {
    return this.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
    // A refused or ended room is no longer the client's: leave() then does nothing, which is fine.
    if (this.owned) this.client.leave(this.room).catch(() => undefined);
  }

  private listen(): void {
    const { client, room } = this;
    this.offs.push(
      client.on('joined', (result) => {
        if (result.room === room) this.set('joined');
      }),
      client.on('state', (state) => {
        if (state === 'closed') this.fail(clientClosedError(room));
        else if (state !== 'connected' && this.current.status === 'joined') this.set('rejoining');
      }),
      client.on('room:left', (event) => {
        if (event.room !== room || this.ended) return;
        this.current = { status: 'left', error: RoomcastError.local('FORBIDDEN_ROOM', `the server took this connection out of ${room}`, { room, event: 'room:join' }) };
        this.notify();
      }),
      // A rejoin refused for good, or the gateway taking the room away (a narrowed token): the client forgot the room.
      client.on('error', (error) => {
        if (error.room === room && !client.joinedRooms.includes(room)) this.fail(error);
      }),
    );
  }

  /** For a room the client was in already: what its position and the connection say. */
  private followedStatus(): RoomStatus {
    if (this.client.position(this.room) === undefined) return 'joining';
    return this.client.state === 'connected' ? 'joined' : 'rejoining';
  }

  private get ended(): boolean {
    return this.disposed || this.current.status === 'error' || this.current.status === 'left';
  }

  private set(status: 'joined' | 'rejoining'): void {
    if (this.ended || this.current.status === status) return;
    this.current = { status, error: undefined };
    this.notify();
  }

  private fail(error: RoomcastError): void {
    if (this.ended) return;
    this.current = { status: 'error', error };
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** The counted joins of one client. */
export class RoomMemberships {
  private readonly client: HookClient;
  private readonly scheduler: Scheduler;
  private readonly rooms = new Map<string, Membership>();

  constructor(client: HookClient, scheduler: Scheduler = realScheduler) {
    this.client = client;
    this.scheduler = scheduler;
  }

  /** Rooms held by at least one hook (or waiting out their leave delay). */
  get held(): string[] {
    return [...this.rooms.keys()];
  }

  /** The state of a room some hook holds, without holding it: a new store's first snapshot, so it does not flash `joining`. */
  peek(room: string): MembershipState | undefined {
    return this.rooms.get(room)?.state;
  }

  /** Holds `room` (joining it if this is the first hold and the client is not in it already). */
  acquire(room: string): RoomLease {
    let membership = this.rooms.get(room);
    if (membership === undefined) {
      membership = new Membership(this.client, room);
      this.rooms.set(room, membership);
    }
    if (membership.leaveTimer !== undefined) {
      this.scheduler.clearTimeout(membership.leaveTimer);
      membership.leaveTimer = undefined;
    }
    membership.refs += 1;
    const held = membership;
    let released = false;
    return {
      room,
      get state() {
        return held.state;
      },
      subscribe: (listener) => held.subscribe(listener),
      release: () => {
        if (released) return;
        released = true;
        this.release(held);
      },
    };
  }

  private release(membership: Membership): void {
    membership.refs -= 1;
    if (membership.refs > 0) return;
    membership.leaveTimer = this.scheduler.setTimeout(() => {
      membership.leaveTimer = undefined;
      if (membership.refs > 0 || this.rooms.get(membership.room) !== membership) return;
      this.rooms.delete(membership.room);
      membership.dispose();
    }, LEAVE_DELAY_MS);
  }
}

const registries = new WeakMap<object, RoomMemberships>();

/** The one RoomMemberships of a client (made on first use, gone with the client). */
export function membershipsOf(client: HookClient): RoomMemberships {
  let memberships = registries.get(client);
  if (memberships === undefined) {
    memberships = new RoomMemberships(client);
    registries.set(client, memberships);
  }
  return memberships;
}
