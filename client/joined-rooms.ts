/**
 * The rooms a client is in or joining, each with its RoomStream (which makes
 * the ordering guarantee) and the application's callbacks for it. After every
 * connect each room is rejoined with `since`, the last position it delivered,
 * so the gateway sends what was missed; a rejoin refused for now is retried
 * with backoff on the same connection. Until a room's (re)join is acknowledged
 * the gateway refuses publications to it, so publishers wait on `ready`.
 *
 * The gateway may join a connection to rooms itself at connect (the token's
 * `subscribe` claim, `user:<sub>`) and says so with `session`: those rooms are
 * tracked from then on exactly like rooms joined here (rejoined with `since`
 * after a reconnect, to any node). A `room:left` (the backend took the user out
 * of a room) ends the room: it is not rejoined.
 */
import { roomNameProblem } from '../shared/rooms.js';
import type { JoinResult, PresenceEvent, RoomLeftEvent, SessionEvent } from '../shared/events.js';
import type { JoinRequest, Message, Signal, StreamPosition } from '../shared/wire-types.js';
import { backoffDelay } from './backoff.js';
import type { JoinOptions, PresenceChange, RoomcastSocket } from './client-types.js';
import type { Connection } from './connection.js';
import { deferred, type Deferred } from './deferred.js';
import { RoomcastError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { GapEvent, RecoveredEvent } from './room-stream-types.js';
import { RoomStream } from './room-stream.js';
import { callSafely } from './safe-call.js';
import type { Scheduler, TimerHandle } from './scheduler.js';

interface RoomEntry {
  readonly room: string;
  readonly stream: RoomStream;
  onMessage: (message: Message) => void;
  options: JoinOptions<never>;
  /** What join() returned: settles with the first ack only. */
  readonly joined: Deferred<JoinResult>;
  /** Settles when the current (re)join is acknowledged; publish() waits for it. */
  ready: Deferred<void>;
  retryTimer: TimerHandle | undefined;
  retries: number;
}

/**
 * The client events the rooms raise, untyped: RoomcastClient re-emits them under
 * the application's event maps (TypedMessage, TypedSignal).
 */
export interface RoomEvents {
  message: [message: Message];
  signal: [signal: Signal];
  joined: [result: JoinResult];
  gap: [gap: GapEvent];
  recovered: [event: RecoveredEvent];
  presence: [change: PresenceChange];
  error: [error: RoomcastError];
  session: [event: SessionEvent];
  'room:left': [event: RoomLeftEvent];
}

/**
 * Live messages of rooms not tracked yet, kept from a connect until its `session` event: the gateway joins its
 * rooms before it sends `session`, so their first publications may come first. Past this many, the oldest go
 * (the room's stream fetches what it lacks from history when the next one arrives).
 */
export const MAX_PRE_SESSION_MESSAGES = 1000;

export interface JoinedRoomsOptions {
  /** What the rooms use of the connection: its requests, and whether an answer still belongs to it. */
  connection: Pick<Connection, 'request' | 'connected' | 'closed' | 'connectCount'>;
  resolved: ResolvedOptions;
  scheduler: Scheduler;
  emit<K extends keyof RoomEvents>(event: K, ...args: RoomEvents[K]): void;
}

export class JoinedRooms {
  private readonly entries = new Map<string, RoomEntry>();
  private readonly connection: JoinedRoomsOptions['connection'];
  private readonly resolved: ResolvedOptions;
  private readonly scheduler: Scheduler;
  private readonly emit: JoinedRoomsOptions['emit'];
  /** Set from a connect until its `session`: untracked rooms' messages are kept (see MAX_PRE_SESSION_MESSAGES). */
  private preSession: Message[] | null = null;

  constructor(options: JoinedRoomsOptions) {
    this.connection = options.connection;
    this.resolved = options.resolved;
    this.scheduler = options.scheduler;
    this.emit = options.emit;
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  /** The last delivered position of a room: what a rejoin sends as `since`. */
  position(room: string): StreamPosition | undefined {
    return this.entries.get(room)?.stream.position;
  }

  /** The room is tracked and its current (re)join is not acknowledged yet. */
  awaitsJoin(room: string): boolean {
    const entry = this.entries.get(room);
    return entry !== undefined && !entry.ready.settled;
  }

  /** Routes the room traffic of `socket` to the rooms. */
  listen(socket: RoomcastSocket): void {
    socket.on('message', (message) => this.onMessage(message));
    socket.on('session', (event) => this.onSession(event));
    socket.on('room:left', (event) => this.onRoomLeft(event));
    socket.on('signal', (signal) => this.onSignal(signal));
    socket.on('presence:join', (event) => this.onPresence('join', event));
    socket.on('presence:leave', (event) => this.onPresence('leave', event));
    socket.on('protocol:error', (event) => {
      const { event: cause, room, ...payload } = event;
      const error = new RoomcastError(payload, { ...(cause === undefined ? {} : { event: cause }), ...(room === undefined ? {} : { room }) });
      // The gateway took this connection out of the room (a refreshed token no longer allows it): stop tracking it.
      const entry = room === undefined || payload.code !== 'FORBIDDEN_ROOM' ? undefined : this.entries.get(room);
      if (entry !== undefined) this.fail(entry, error);
      else this.emit('error', error);
    });
  }

  /** Tracks a room and joins it now if connected (else on the next connect); a room already tracked only gets the new callbacks. */
  join(room: string, onMessage: (message: Message) => void, options: JoinOptions<never>): Promise<JoinResult> {
    const problem = roomNameProblem(room);
    if (problem !== null) return Promise.reject(RoomcastError.local('INVALID_PAYLOAD', problem, { room, event: 'room:join' }));
    const existing = this.entries.get(room);
    if (existing !== undefined) {
      existing.onMessage = onMessage;
      existing.options = options;
      return existing.joined.promise;
    }
    const entry: RoomEntry = {
      room,
      stream: this.createStream(room),
      onMessage,
      options,
      joined: deferred<JoinResult>(),
      ready: deferred<void>({ internal: true }),
      retryTimer: undefined,
      retries: 0,
    };
    this.entries.set(room, entry);
    // Not connected yet: the next connect sends it.
    if (this.connection.connected) this.sendJoin(entry);
    return entry.joined.promise;
  }

  async leave(room: string): Promise<void> {
    const entry = this.entries.get(room);
    if (entry === undefined) return;
    this.forget(entry, RoomcastError.local('UNAVAILABLE', `left ${room} before its join completed`, { room, event: 'room:join' }));
    if (this.connection.connected) await this.connection.request('room:leave', { room }, room);
  }

  /** Connected: every room is rejoined, with `since` where it delivered something; the `session` event is awaited. */
  rejoinAll(): void {
    this.preSession = [];
    for (const entry of [...this.entries.values()]) this.sendJoin(entry);
  }

  /** Disconnected: streams stop waiting for history, and publishers wait for the next rejoin. */
  suspendAll(): void {
    this.preSession = null;
    for (const entry of this.entries.values()) {
      entry.stream.suspend();
      this.clearRetry(entry);
      if (entry.ready.settled) entry.ready = deferred<void>({ internal: true });
    }
  }

  /** Connecting was given up: first joins fail with `error`; rooms already joined are kept for a later connect(). */
  dropPendingJoins(error: RoomcastError): void {
    for (const entry of [...this.entries.values()]) {
      if (!entry.joined.settled) this.forget(entry, error);
    }
  }

  /** The client closed: every room is dropped with `error`. */
  close(error: RoomcastError): void {
    for (const entry of this.entries.values()) this.dispose(entry, error);
    this.entries.clear();
  }

  /**
   * Waits (up to ackTimeout) for the room's current (re)join before a publication
   * to it; rejects when the room is dropped or the wait times out.
   */
  whenJoined(room: string): Promise<void> {
    const entry = this.entries.get(room);
    if (entry === undefined || entry.ready.settled) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.scheduler.setTimeout(
        () => reject(RoomcastError.local('UNAVAILABLE', `${room} is not joined yet`, { room, event: 'room:publish' })),
        this.resolved.ackTimeout,
      );
      entry.ready.promise.then(
        () => {
          this.scheduler.clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          this.scheduler.clearTimeout(timer);
          reject(RoomcastError.from(error, { room, event: 'room:publish' }));
        },
      );
    });
  }

  /**
   * For the outbox: 'ready' once the room's rejoin is done or the room is no longer
   * tracked (the publication goes anyway and its refusal is reported); 'retry' when
   * the rejoin is still slow after ackTimeout.
   */
  async readyForOutbox(room: string): Promise<'ready' | 'retry'> {
    const entry = this.entries.get(room);
    if (entry === undefined || entry.ready.settled) return 'ready';
    try {
      await this.whenJoined(room);
      return 'ready';
    } catch {
      return this.entries.get(room) === entry ? 'retry' : 'ready';
    }
  }

  private createStream(room: string): RoomStream {
    return new RoomStream({
      room,
      reorderWindowMs: this.resolved.reorderWindowMs,
      historyPageSize: this.resolved.historyPageSize,
      scheduler: this.scheduler,
      fetchHistory: (since, limit) => this.connection.request('room:history', { room, since, limit }, room),
      deliver: (message) => {
        const entry = this.entries.get(room);
        if (entry === undefined) return;
        callSafely(entry.onMessage, message);
        this.emit('message', message);
      },
      onGap: (gap) => {
        const onGap = this.entries.get(room)?.options.onGap;
        if (onGap !== undefined) callSafely(onGap, gap);
        this.emit('gap', gap);
      },
      onRecovered: (event) => this.emit('recovered', event),
      onError: (error) => this.emit('error', error),
    });
  }

  private sendJoin(entry: RoomEntry): void {
    this.clearRetry(entry);
    const since = entry.stream.beginJoin();
    const connection = this.connection.connectCount;
    const request: JoinRequest = since === undefined ? { room: entry.room } : { room: entry.room, since };
    this.connection.request('room:join', request, entry.room).then(
      (result) => {
        if (!this.isCurrent(entry, connection)) return;
        entry.retries = 0;
        entry.stream.completeJoin(result, since);
        entry.ready.resolve();
        entry.joined.resolve(result);
        this.emit('joined', result);
      },
      (error: unknown) => {
        // An answer lost with its connection is not a failure: the next connect rejoins.
        if (!this.isCurrent(entry, connection)) return;
        const failure = RoomcastError.from(error, { room: entry.room, event: 'room:join' });
        if (!entry.joined.settled || !failure.retryable) {
          // A first join's failure is the caller's to handle: join()'s promise rejects, and nothing else reports it.
          // A rejoin refused for good (the token's rooms narrowed) has no promise waiting: one `error`. Either way
          // the room ends and is no longer rejoined.
          this.fail(entry, failure);
          return;
        }
        // A rejoin refused for now is retried with backoff; `error` once, at the first refusal until it succeeds.
        if (entry.retries === 0) this.emit('error', failure);
        entry.retryTimer = this.scheduler.setTimeout(
          () => {
            entry.retryTimer = undefined;
            if (this.isCurrent(entry, connection)) this.sendJoin(entry);
          },
          backoffDelay(entry.retries++, this.resolved.backoff),
        );
      },
    );
  }

  /** The answer is for this entry (not a later join of the same room) and came on the connection it was sent on. */
  private isCurrent(entry: RoomEntry, connectCount: number): boolean {
    const connection = this.connection;
    return !connection.closed && this.entries.get(entry.room) === entry && connection.connectCount === connectCount && connection.connected;
  }

  /**
   * A room ends on a refusal, reported once: to join()'s promise while the first join is pending, else (no one
   * waits on it) as an `error` event.
   */
  private fail(entry: RoomEntry, error: RoomcastError): void {
    const pending = !entry.joined.settled;
    this.forget(entry, error);
    if (!pending) this.emit('error', error);
  }

  /** Stops tracking a room: its stream ends and whoever waits on its join gets `error`. */
  private forget(entry: RoomEntry, error: RoomcastError): void {
    this.entries.delete(entry.room);
    this.dispose(entry, error);
  }

  private dispose(entry: RoomEntry, error: RoomcastError): void {
    this.clearRetry(entry);
    entry.stream.dispose();
    entry.joined.reject(error);
    entry.ready.reject(error);
  }

  private onMessage(message: Message): void {
    const entry = this.entries.get(message.room);
    if (entry !== undefined) {
      entry.stream.receive(message);
      return;
    }
    if (this.preSession === null) return;
    this.preSession.push(message);
    if (this.preSession.length > MAX_PRE_SESSION_MESSAGES) this.preSession.shift();
  }

  /**
   * The rooms the gateway joined this connection to. A room tracked already is being rejoined with `since` (that
   * join recovers it); any other starts here, at the position the gateway gave, as if join() had been acknowledged.
   */
  private onSession(event: SessionEvent): void {
    const early = this.preSession ?? [];
    this.preSession = null;
    for (const { room, epoch, offset } of event.rooms) {
      if (this.entries.has(room)) continue;
      const result: JoinResult = { room, epoch, offset, recovered: true, missed: [] };
      const entry: RoomEntry = {
        room,
        stream: this.createStream(room),
        onMessage: () => undefined,
        options: {},
        joined: deferred<JoinResult>(),
        ready: deferred<void>({ internal: true }),
        retryTimer: undefined,
        retries: 0,
      };
      this.entries.set(room, entry);
      entry.stream.beginJoin();
      entry.stream.completeJoin(result, undefined);
      entry.ready.resolve();
      entry.joined.resolve(result);
      this.emit('joined', result);
    }
    // Publications that came before `session`: each stream keeps those after its position, once.
    for (const message of early) this.entries.get(message.room)?.stream.receive(message);
    this.emit('session', event);
  }

  /** The gateway took this connection out of a room (the backend asked): it is no longer tracked nor rejoined. */
  private onRoomLeft(event: RoomLeftEvent): void {
    const entry = this.entries.get(event.room);
    if (entry !== undefined) this.forget(entry, RoomcastError.local('FORBIDDEN_ROOM', `the server took this connection out of ${event.room}`, { room: event.room, event: 'room:join' }));
    this.emit('room:left', event);
  }

  private onPresence(type: PresenceChange['type'], event: PresenceEvent): void {
    const change: PresenceChange = { type, room: event.room, member: event.member };
    const onPresence = this.entries.get(event.room)?.options.onPresence;
    if (onPresence !== undefined) callSafely(onPresence, change);
    this.emit('presence', change);
  }

  private onSignal(signal: Signal): void {
    const entry = this.entries.get(signal.room);
    if (entry === undefined) return;
    const onSignal = entry.options.onSignal as ((signal: Signal) => void) | undefined;
    if (onSignal !== undefined) callSafely(onSignal, signal);
    this.emit('signal', signal);
  }

  private clearRetry(entry: RoomEntry): void {
    if (entry.retryTimer === undefined) return;
    this.scheduler.clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
  }
}
