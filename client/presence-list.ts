/**
 * A live member list of one room, from `presence:list` and the
 * `presence:join` / `presence:leave` events.
 *
 * The gateway announces joins and leaves only while the room has at most
 * PRESENCE_EVENTS_MAX_MEMBERS members (default 100): above it, members come and
 * go silently. So the list re-reads `presence:list` on its own while the room is
 * at or above that size (every `pollMs`), after every (re)join of the room (the
 * events of the time offline are gone), and whenever `refresh()` is called.
 * Events that arrive while a list request is in flight are applied again on top
 * of its answer, so a join or leave racing the request is not lost.
 */
import type { PresenceMember } from '../shared/wire-types.js';
import { TypedEmitter } from './emitter.js';
import { RoomcastError } from './errors.js';
import { realScheduler, type Scheduler, type TimerHandle } from './scheduler.js';

/** The gateway's default PRESENCE_EVENTS_MAX_MEMBERS. */
export const DEFAULT_PRESENCE_EVENTS_MAX_MEMBERS = 100;
export const DEFAULT_PRESENCE_POLL_MS = 15_000;

type RosterEvent = { type: 'join' | 'leave'; member: PresenceMember };

/** The list logic alone: members by connection, events buffered around a list request. */
export class PresenceRoster {
  private readonly byConnection = new Map<string, PresenceMember>();
  private inFlight: RosterEvent[] | undefined;
  private listed = false;

  /** Members (one per connection), oldest first. */
  get members(): PresenceMember[] {
    return [...this.byConnection.values()].sort((a, b) => a.joinedAt - b.joinedAt || a.connectionId.localeCompare(b.connectionId));
  }

  /** Distinct users present, in order of their first connection. */
  get users(): string[] {
    return [...new Set(this.members.map((member) => member.userId))];
  }

  get size(): number {
    return this.byConnection.size;
  }

  /** True once a list has been applied. */
  get loaded(): boolean {
    return this.listed;
  }

  /** True when join/leave events may be missing: the room is at or above the gateway's cap. */
  mayMissEvents(eventsMaxMembers: number): boolean {
    return eventsMaxMembers <= 0 || this.byConnection.size >= eventsMaxMembers;
  }

  /** A `presence:list` request is being sent: events from now on are replayed on top of its answer. */
  beginList(): void {
    this.inFlight ??= [];
  }

  /** The list request failed: stop buffering (events already applied stay applied). */
  abortList(): void {
    this.inFlight = undefined;
  }

  /** The answer of `presence:list`: replaces the members, then replays the events that raced it. Returns whether anything changed. */
  applyList(members: readonly PresenceMember[]): boolean {
    const before = this.signature();
    this.byConnection.clear();
    for (const member of members) this.byConnection.set(member.connectionId, member);
    const raced = this.inFlight ?? [];
    this.inFlight = undefined;
    for (const event of raced) this.applyEvent(event);
    const first = !this.listed;
    this.listed = true;
    return first || this.signature() !== before;
  }

  /** A presence:join or presence:leave event. Returns whether the list changed. */
  apply(type: 'join' | 'leave', member: PresenceMember): boolean {
    this.inFlight?.push({ type, member });
    return this.applyEvent({ type, member });
  }

  private applyEvent(event: RosterEvent): boolean {
    if (event.type === 'join') {
      const had = this.byConnection.has(event.member.connectionId);
      this.byConnection.set(event.member.connectionId, event.member);
      return !had;
    }
    return this.byConnection.delete(event.member.connectionId);
  }

  private signature(): string {
    return [...this.byConnection.keys()].sort().join('\n');
  }
}

/** What LivePresence needs of the client (a small interface, so it is testable without a socket). */
export interface PresenceSource {
  presence(room: string): Promise<PresenceMember[]>;
  on(event: 'presence', listener: (change: { type: 'join' | 'leave'; room: string; member: PresenceMember }) => void): () => void;
  on(event: 'joined', listener: (result: { room: string }) => void): () => void;
}

export interface LivePresenceOptions {
  /** The gateway's PRESENCE_EVENTS_MAX_MEMBERS. Default 100. */
  eventsMaxMembers?: number;
  /** How often the list is re-read while the room is at or above that size. Default 15 000 ms. */
  pollMs?: number;
  /** Re-read every this many ms whatever the size. Default: never. */
  refreshMs?: number;
  scheduler?: Scheduler;
}

export type LivePresenceEvents = {
  /** The members changed (after a list or an event). */
  change: (members: PresenceMember[]) => void;
  /** A list request failed; the list is kept and read again later. */
  error: (error: RoomcastError) => void;
};

export class LivePresence extends TypedEmitter<LivePresenceEvents> {
  readonly room: string;
  private readonly roster = new PresenceRoster();
  private readonly source: PresenceSource;
  private readonly eventsMaxMembers: number;
  private readonly pollMs: number;
  private readonly refreshMs: number | undefined;
  private readonly scheduler: Scheduler;
  private readonly unsubscribe: Array<() => void> = [];
  private timer: TimerHandle | undefined;
  private listing: Promise<PresenceMember[]> | undefined;
  private closed = false;

  constructor(source: PresenceSource, room: string, options: LivePresenceOptions = {}) {
    super();
    this.source = source;
    this.room = room;
    this.eventsMaxMembers = options.eventsMaxMembers ?? DEFAULT_PRESENCE_EVENTS_MAX_MEMBERS;
    this.pollMs = options.pollMs ?? DEFAULT_PRESENCE_POLL_MS;
    this.refreshMs = options.refreshMs;
    this.scheduler = options.scheduler ?? realScheduler;
    this.unsubscribe.push(
      source.on('presence', (change) => {
        if (change.room !== room || this.closed) return;
        if (this.roster.apply(change.type, change.member)) this.changed();
      }),
      // After every (re)join: the connection id is new and the events of the time away are gone.
      source.on('joined', (result) => {
        if (result.room === room && !this.closed) void this.refresh().catch(() => undefined);
      }),
    );
  }

  get members(): PresenceMember[] {
    return this.roster.members;
  }

  get users(): string[] {
    return this.roster.users;
  }

  /** True once the first list has arrived. */
  get loaded(): boolean {
    return this.roster.loaded;
  }

  /** Reads `presence:list` now (one request at a time) and resolves with the members. */
  refresh(): Promise<PresenceMember[]> {
    if (this.closed) return Promise.resolve(this.members);
    if (this.listing !== undefined) return this.listing;
    this.clearTimer();
    this.roster.beginList();
    const listing = this.source.presence(this.room).then(
      (members) => {
        this.listing = undefined;
        if (this.closed) return this.members;
        if (this.roster.applyList(members)) this.changed();
        this.arm();
        return this.members;
      },
      (error: unknown) => {
        this.listing = undefined;
        this.roster.abortList();
        const failure = RoomcastError.from(error, { room: this.room, event: 'presence:list' });
        if (!this.closed) {
          this.emit('error', failure);
          this.arm();
        }
        throw failure;
      },
    );
    this.listing = listing;
    return listing;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    for (const off of this.unsubscribe.splice(0)) off();
    this.removeAllListeners();
  }

  private changed(): void {
    this.emit('change', this.members);
    // Crossing the cap starts (or stops) the polling.
    if (this.listing === undefined) this.arm();
  }

  private arm(): void {
    this.clearTimer();
    if (this.closed) return;
    const delay = this.roster.mayMissEvents(this.eventsMaxMembers) ? Math.min(this.pollMs, this.refreshMs ?? Infinity) : this.refreshMs;
    if (delay === undefined) return;
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined;
      void this.refresh().catch(() => undefined);
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
