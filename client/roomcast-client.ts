/**
 * RoomcastClient: one Socket.IO connection to a namespace of a Roomcast gateway.
 * It owns the connection's life (handshake token, refresh, reconnects, drain),
 * rejoins every room with `since` after a reconnect, and routes each room's
 * traffic through a RoomStream, which makes the ordering guarantee.
 */
import { Manager, type Socket } from 'socket.io-client';
import { isErrorPayload, roomNameProblem } from '../shared/index.js';
import type {
  ClientEventName,
  DrainingEvent,
  HistoryResult,
  JoinRequest,
  JoinResult,
  JsonValue,
  Message,
  PresenceEvent,
  PresenceMember,
  PublishRequest,
  PublishResult,
  Signal,
  StreamPosition,
} from '../shared/index.js';
import { backoffDelay } from './backoff.js';
import { deferred, type Deferred } from './deferred.js';
import { TypedEmitter } from './emitter.js';
import { RoomcastError } from './errors.js';
import { resolveOptions, socketIoOptions, type ResolvedOptions, type RoomcastClientOptions } from './options.js';
import { Outbox } from './outbox.js';
import { OutboxSender, type OutboxSenderHost } from './outbox-sender.js';
import type {
  ClientEvents,
  ConnectionState,
  DefaultEvents,
  EventName,
  HistoryOptions,
  JoinOptions,
  MessageHandler,
  PresenceChange,
  PublishOptions,
  RoomcastSocket,
  TypedMessage,
  TypedSignal,
} from './client-types.js';

import { LivePresence, type LivePresenceOptions, type PresenceSource } from './presence-list.js';
import { throttle, type Shaped } from './timing.js';
import { RoomStream } from './room-stream.js';
import { sendRequest, type RequestOf, type ResultOf } from './requests.js';
import { callSafely } from './safe-call.js';
import { realScheduler, type Scheduler, type TimerHandle } from './scheduler.js';
import { TokenKeeper } from './token-keeper.js';

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


/** TOKEN_EXPIRED handshakes in a row, each after a new token, before the client gives up. */
const MAX_TOKEN_EXPIRED_RETRIES = 3;
/** Added to `reconnectInMs` of server:draining, so clients told the same delay still spread out. */
const DRAIN_JITTER_MS = 500;

export class RoomcastClient<Events extends object = DefaultEvents, Signals extends object = DefaultEvents> extends TypedEmitter<
  ClientEvents<Events, Signals>
> {
  /** The underlying socket, for diagnostics and tests; the client keeps its own listeners on it. */
  readonly socket: RoomcastSocket;
  private readonly options: RoomcastClientOptions;
  private readonly resolved: ResolvedOptions;
  private readonly scheduler: Scheduler = realScheduler;
  private readonly tokens: TokenKeeper;
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly connectWaiters = new Set<Deferred<void>>();
  private currentState: ConnectionState;
  private closed = false;
  private everConnected = false;
  /** Bumped on every connect, so answers to requests of an older connection are recognised. */
  private connection = 0;
  /** Set while the client itself disconnects to reconnect elsewhere (drain). */
  private restarting = false;
  private reconnectTimer: TimerHandle | undefined;
  private reconnectAttempts = 0;
  private tokenExpiredCount = 0;
  /** The token function or refreshToken threw during the current handshake. */
  private tokenSourceFailed = false;
  private drainTimer: TimerHandle | undefined;
  private drainReconnectAt: number | undefined;
  /** Publications made while offline (undefined with `outbox: false`). */
  private readonly outbox: OutboxSender | undefined;

  /**
   * @param url the gateway's origin, e.g. `https://rt.example.com` (the namespace is an option).
   */
  constructor(url: string, options: RoomcastClientOptions) {
    super();
    this.options = options;
    this.resolved = resolveOptions(options);
    this.tokens = new TokenKeeper({ token: options.token, refreshToken: options.refreshToken, scheduler: this.scheduler });
    this.outbox = options.outbox === false ? undefined : new OutboxSender(new Outbox<JsonValue>({ ...options.outbox, scheduler: this.scheduler }), this.outboxHost());
    const ioOptions = socketIoOptions(options, this.resolved, (send) => this.authenticate(send));
    // An own Manager per client: io() would share one connection between clients of the same URL.
    this.socket = new Manager(url, ioOptions).socket(this.resolved.namespace, ioOptions);
    this.currentState = ioOptions.autoConnect === false ? 'disconnected' : 'connecting';
    this.listen();
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Rooms this client is in (or joining). */
  get joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /** Publications waiting in the outbox (sent once the connection is back). */
  get outboxSize(): number {
    return this.outbox?.size ?? 0;
  }

  /** The last delivered position of a room: what a rejoin sends as `since`. */
  position(room: string): StreamPosition | undefined {
    return this.rooms.get(room)?.stream.position;
  }

  /** Connects (if not connected or connecting already); resolves once connected, rejects if the gateway refuses for good. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.socket.connected) return Promise.resolve();
    const waiter = deferred<void>();
    this.connectWaiters.add(waiter);
    if (!this.socket.active && this.reconnectTimer === undefined) {
      this.reconnectAttempts = 0;
      this.tokenExpiredCount = 0;
      this.setState(this.everConnected ? 'reconnecting' : 'connecting');
      this.socket.connect();
    }
    return waiter.promise;
  }

  /** Disconnects for good and forgets every room. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearReconnectTimer();
    this.clearDrainTimer();
    this.tokens.cancel();
    const error = closedError();
    for (const entry of this.rooms.values()) this.dropRoom(entry, error);
    this.rooms.clear();
    this.rejectWaiters(error);
    this.outbox?.close(error);
    this.socket.disconnect();
    this.setState('closed');
  }

  /**
   * Joins a room; `onMessage` then receives each of its publications once, in
   * offset order, across reconnects. Resolves with the first join's ack.
   * Joining a room again only replaces its callbacks.
   */
  join(room: string, onMessage: MessageHandler<Events> = () => undefined, options: JoinOptions<Signals> = {}): Promise<JoinResult> {
    if (this.closed) return Promise.reject(closedError(room));
    const problem = roomNameProblem(room);
    if (problem !== null) return Promise.reject(RoomcastError.local('INVALID_PAYLOAD', problem, { room, event: 'room:join' }));
    const existing = this.rooms.get(room);
    // The typed handler sees Message through TypedMessage<Events>: the application's types are its promise.
    const handler = onMessage as unknown as (message: Message) => void;
    const roomOptions = options as unknown as JoinOptions<never>;
    if (existing !== undefined) {
      existing.onMessage = handler;
      existing.options = roomOptions;
      return existing.joined.promise;
    }
    const entry: RoomEntry = {
      room,
      stream: this.createStream(room),
      onMessage: handler,
      options: roomOptions,
      joined: deferred<JoinResult>(),
      ready: deferred<void>({ internal: true }),
      retryTimer: undefined,
      retries: 0,
    };
    this.rooms.set(room, entry);
    // Not connected yet: the 'connect' handler sends it.
    if (this.socket.connected) this.sendJoin(entry);
    return entry.joined.promise;
  }

  async leave(room: string): Promise<void> {
    const entry = this.rooms.get(room);
    if (entry === undefined) return;
    this.rooms.delete(room);
    this.dropRoom(entry, RoomcastError.local('UNAVAILABLE', `left ${room} before its join completed`, { room, event: 'room:join' }));
    if (this.socket.connected) await this.request('room:leave', { room }, room);
  }

  /**
   * Publishes into a joined room. The gateway broadcasts the publication back to
   * this client too, as a `message` with the returned offset.
   *
   * While the client is offline (and while earlier offline publications are still
   * being sent) the publication waits in the outbox, with an idempotency key made
   * now (or `options.idempotencyKey`), and is sent once the connection and the
   * room's rejoin are back, in order; the promise settles then. An entry never sent
   * within `outbox.ttlMs` rejects with OUTBOX_EXPIRED, one that does not fit with
   * OUTBOX_FULL. An entry that was sent but not acknowledged is sent again with its key
   * until the TTL passes, then rejects with UNAVAILABLE, `unknown: true` and its
   * `idempotencyKey` (it may have been stored: retry with that key). All of these are
   * also emitted as `outbox:dropped`.
   *
   * A publish sent directly that gets no answer (ack timeout, connection lost) rejects
   * with UNAVAILABLE and `unknown: true`: retry it with the same `idempotencyKey`.
   */
  async publish<K extends EventName<Events>>(room: string, event: K, data: Events[K], options: PublishOptions = {}): Promise<PublishResult> {
    if (this.closed) throw closedError(room);
    const json = data as unknown as JsonValue;
    if (this.outbox?.shouldQueue() === true) return this.outbox.enqueue(room, event, json, options.idempotencyKey);
    const entry = this.rooms.get(room);
    // After a reconnect the gateway accepts a publication only once the room is rejoined.
    if (entry !== undefined && !entry.ready.settled) await this.whenReady(entry);
    const request: PublishRequest = { room, event, data: json };
    if (options.idempotencyKey !== undefined) request.idempotencyKey = options.idempotencyKey;
    return this.request('room:publish', request, room, { idempotencyKey: options.idempotencyKey });
  }

  /** A page of a room's history, as the gateway stores it (no ordering or dedup applied). */
  history(room: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    if (this.closed) return Promise.reject(closedError(room));
    return this.request('room:history', { room, ...options }, room);
  }

  async presence(room: string): Promise<PresenceMember[]> {
    if (this.closed) throw closedError(room);
    const result = await this.request('presence:list', { room }, room);
    return result.members;
  }

  /**
   * Sends a volatile signal (typing, cursor) to the room's other members: not
   * stored, no offset, not in history. Resolves true once the gateway relayed it,
   * false when it was dropped (offline, room not (re)joined yet, or no answer in
   * time); rejects with a RoomcastError when refused (RATE_LIMITED, PUBLISH_FORBIDDEN,
   * PAYLOAD_TOO_LARGE...). Never queued: a stale cursor is worth nothing.
   */
  async signal<K extends EventName<Signals>>(room: string, event: K, data: Signals[K]): Promise<boolean> {
    if (this.closed) throw closedError(room);
    const entry = this.rooms.get(room);
    if (!this.socket.connected || (entry !== undefined && !entry.ready.settled)) return false;
    try {
      await this.request('room:signal', { room, event, data: data as unknown as JsonValue }, room, { volatile: true });
      return true;
    } catch (error) {
      if (error instanceof RoomcastError && !error.unknown) throw error;
      return false; // not acknowledged (dropped on the way, or the connection went): volatile
    }
  }

  /**
   * A throttled signal sender for high-frequency events: at most one signal per
   * `windowMs` (default 80 ms), the latest data winning; the first goes at once.
   * Refusals are emitted as `error` events. Call `.cancel()` when done.
   */
  throttledSignal<K extends EventName<Signals>>(room: string, event: K, windowMs = 80): Shaped<[data: Signals[K]]> {
    return throttle(
      (data: Signals[K]) => {
        this.signal(room, event, data).catch((error: unknown) => this.emitError(RoomcastError.from(error, { room, event: 'room:signal' })));
      },
      windowMs,
      { scheduler: this.scheduler },
    );
  }

  /**
   * A live member list of a room: kept up to date from presence:join/leave, and
   * re-read with presence:list after every (re)join, periodically while the room
   * is too large for join/leave events (PRESENCE_EVENTS_MAX_MEMBERS), and on
   * `refresh()`. Join the room to get its events; call `close()` when done.
   */
  presenceList(room: string, options: LivePresenceOptions = {}): LivePresence {
    const source: PresenceSource = {
      presence: (name) => this.presence(name),
      on: ((event: 'presence' | 'joined', listener: never) => this.on(event, listener)) as PresenceSource['on'],
    };
    const live = new LivePresence(source, room, { scheduler: this.scheduler, ...options });
    const entry = this.rooms.get(room);
    // A room still joining is listed by its 'joined'; otherwise list now.
    if (this.socket.connected && (entry === undefined || entry.ready.settled)) void live.refresh().catch(() => undefined);
    return live;
  }

  // ---- connection ---------------------------------------------------------------

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (error) => this.onConnectError(error));
    socket.io.on('reconnect_attempt', () => {
      if (!this.closed) this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    });
    socket.io.on('reconnect_failed', () => {
      this.fail(RoomcastError.local('UNAVAILABLE', 'could not reconnect to the gateway'));
    });
    socket.on('message', (message) => this.rooms.get(message.room)?.stream.receive(message));
    socket.on('signal', (signal) => this.onSignal(signal));
    socket.on('presence:join', (event) => this.onPresence('join', event));
    socket.on('presence:leave', (event) => this.onPresence('leave', event));
    socket.on('server:draining', (event) => this.onDraining(event));
    socket.on('protocol:error', (event) => {
      const { event: cause, room, ...payload } = event;
      const error = new RoomcastError(payload, { ...(cause === undefined ? {} : { event: cause }), ...(room === undefined ? {} : { room }) });
      // The gateway took this connection out of the room (a refreshed token no longer allows it): stop tracking it.
      const entry = room === undefined || payload.code !== 'FORBIDDEN_ROOM' ? undefined : this.rooms.get(room);
      if (entry !== undefined) {
        this.rooms.delete(entry.room);
        this.dropRoom(entry, error);
      }
      this.emitError(error);
    });
  }

  /** socket.io-client asks for the handshake `auth` on every (re)connect, so a token function is called each time. */
  private authenticate(send: (data: object) => void): void {
    this.tokenSourceFailed = false;
    this.tokens.forHandshake().then(
      (token) => send({ token }),
      (error: unknown) => {
        this.tokenSourceFailed = true;
        this.emitError(RoomcastError.from(error, { event: 'auth' }));
        // Try with what we have: a still-valid token connects; a refusal is then retried (see onConnectError).
        send({ token: this.tokens.token ?? '' });
      },
    );
  }

  private onConnect(): void {
    if (this.closed) return;
    this.connection += 1;
    this.everConnected = true;
    this.reconnectAttempts = 0;
    this.tokenExpiredCount = 0;
    this.drainReconnectAt = undefined;
    this.clearReconnectTimer();
    this.clearDrainTimer();
    this.setState('connected');
    this.tokens.schedule(
      async (token) => {
        await this.request('auth:refresh', { token });
      },
      (error) => this.emitError(error),
    );
    for (const entry of [...this.rooms.values()]) this.sendJoin(entry);
    for (const waiter of this.connectWaiters) waiter.resolve();
    this.connectWaiters.clear();
    // After the rejoins were sent: each outbox entry waits for its room's rejoin.
    this.outbox?.onConnect();
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    this.tokens.cancel();
    for (const entry of this.rooms.values()) {
      entry.stream.suspend();
      this.clearRetry(entry);
      if (entry.ready.settled) entry.ready = deferred<void>({ internal: true });
    }
    if (this.closed || this.restarting) return;
    if (this.socket.active) {
      // A lost transport: socket.io-client reconnects with its own backoff.
      this.setState('reconnecting');
      return;
    }
    if (reason === 'io client disconnect') {
      // The application disconnected the raw socket itself.
      this.setState('disconnected');
      return;
    }
    // The gateway closed the connection (drain, token expiry): socket.io-client leaves reconnecting to us.
    const drainWait = this.drainReconnectAt === undefined ? undefined : Math.max(0, this.drainReconnectAt - this.scheduler.now());
    this.clearDrainTimer();
    this.scheduleReconnect(drainWait);
  }

  private onConnectError(error: Error): void {
    if (this.closed) return;
    if (this.socket.active) {
      // The transport failed (gateway unreachable): socket.io-client retries unless told not to.
      if (!this.resolved.reconnection) this.fail(RoomcastError.from(error, { event: 'connect' }));
      return;
    }
    // The gateway refused the handshake: socket.io-client does not retry that by itself.
    const data = (error as Error & { data?: unknown }).data;
    const refusal = isErrorPayload(data) ? new RoomcastError(data, { event: 'connect' }) : RoomcastError.from(error, { event: 'connect' });
    this.emitError(refusal);
    // The application's token source failed (e.g. its token endpoint was down): the refusal says nothing
    // about the user, so try again later instead of giving up.
    if (this.tokenSourceFailed) this.scheduleReconnect();
    else if (refusal.code === 'TOKEN_EXPIRED') void this.reconnectWithNewToken(refusal);
    else if (refusal.retryable) this.scheduleReconnect();
    else this.fail(refusal);
  }

  private async reconnectWithNewToken(refusal: RoomcastError): Promise<void> {
    this.tokenExpiredCount += 1;
    const renewable = this.tokens.canRefresh || typeof this.options.token === 'function';
    if (!renewable || this.tokenExpiredCount > MAX_TOKEN_EXPIRED_RETRIES) {
      this.fail(refusal);
      return;
    }
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    if (this.tokens.canRefresh) {
      try {
        await this.tokens.refresh();
      } catch (error) {
        const failure = RoomcastError.from(error, { event: 'auth:refresh' });
        this.emitError(failure);
        this.fail(failure);
        return;
      }
    }
    // A token function is asked again by the handshake itself.
    this.scheduleReconnect(0);
  }

  private scheduleReconnect(delay?: number): void {
    if (this.closed) return;
    if (!this.resolved.reconnection || this.reconnectAttempts >= this.resolved.reconnectionAttempts) {
      this.fail(RoomcastError.local('UNAVAILABLE', 'could not reconnect to the gateway'));
      return;
    }
    const wait = delay ?? backoffDelay(this.reconnectAttempts, this.resolved.backoff);
    this.reconnectAttempts += 1;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    this.clearReconnectTimer();
    this.reconnectTimer = this.scheduler.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, wait);
  }

  /** The gateway node is going away: reconnect (to another node) after the delay it gave. */
  private onDraining(event: DrainingEvent): void {
    this.emit('draining', event);
    const delay = Math.max(0, event.reconnectInMs) + Math.random() * DRAIN_JITTER_MS;
    this.drainReconnectAt = this.scheduler.now() + delay;
    this.clearDrainTimer();
    this.drainTimer = this.scheduler.setTimeout(() => {
      this.drainTimer = undefined;
      this.drainReconnectAt = undefined;
      if (this.closed || !this.socket.connected) return;
      this.restarting = true;
      try {
        this.socket.disconnect();
      } finally {
        this.restarting = false;
      }
      this.scheduleReconnect(0);
    }, delay);
  }

  /** Gives up connecting: waiters and pending first joins are rejected; joined rooms are kept for a later connect(). */
  private fail(error: RoomcastError): void {
    if (this.closed) return;
    this.clearReconnectTimer();
    this.clearDrainTimer();
    this.tokens.cancel();
    if (!this.socket.connected) this.socket.disconnect();
    for (const entry of [...this.rooms.values()]) {
      if (entry.joined.settled) continue;
      this.rooms.delete(entry.room);
      this.dropRoom(entry, error);
    }
    this.rejectWaiters(error);
    this.setState('disconnected');
  }

  // ---- rooms --------------------------------------------------------------------

  private createStream(room: string): RoomStream {
    return new RoomStream({
      room,
      reorderWindowMs: this.resolved.reorderWindowMs,
      historyPageSize: this.resolved.historyPageSize,
      scheduler: this.scheduler,
      fetchHistory: (since, limit) => this.request('room:history', { room, since, limit }, room),
      deliver: (message) => {
        const entry = this.rooms.get(room);
        if (entry === undefined) return;
        callSafely(entry.onMessage, message);
        this.emit('message', message as unknown as TypedMessage<Events>);
      },
      onGap: (gap) => {
        const onGap = this.rooms.get(room)?.options.onGap;
        if (onGap !== undefined) callSafely(onGap, gap);
        this.emit('gap', gap);
      },
      onRecovered: (event) => this.emit('recovered', event),
      onError: (error) => this.emitError(error),
    });
  }

  private sendJoin(entry: RoomEntry): void {
    this.clearRetry(entry);
    const since = entry.stream.beginJoin();
    const connection = this.connection;
    const request: JoinRequest = since === undefined ? { room: entry.room } : { room: entry.room, since };
    this.request('room:join', request, entry.room).then(
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
          // A first join's failure is the caller's to handle; a rejoin refused for good (the token's rooms
          // narrowed) ends the room. Either way it is no longer rejoined.
          this.rooms.delete(entry.room);
          this.dropRoom(entry, failure);
          if (entry.joined.settled) this.emitError(failure);
          return;
        }
        this.emitError(failure);
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

  private isCurrent(entry: RoomEntry, connection: number): boolean {
    return !this.closed && this.rooms.get(entry.room) === entry && this.connection === connection && this.socket.connected;
  }

  private dropRoom(entry: RoomEntry, error: RoomcastError): void {
    this.clearRetry(entry);
    entry.stream.dispose();
    entry.joined.reject(error);
    entry.ready.reject(error);
  }

  private whenReady(entry: RoomEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.scheduler.setTimeout(
        () => reject(RoomcastError.local('UNAVAILABLE', `${entry.room} is not joined yet`, { room: entry.room, event: 'room:publish' })),
        this.resolved.ackTimeout,
      );
      entry.ready.promise.then(
        () => {
          this.scheduler.clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          this.scheduler.clearTimeout(timer);
          reject(RoomcastError.from(error, { room: entry.room, event: 'room:publish' }));
        },
      );
    });
  }

  private onPresence(type: PresenceChange['type'], event: PresenceEvent): void {
    const change: PresenceChange = { type, room: event.room, member: event.member };
    const onPresence = this.rooms.get(event.room)?.options.onPresence;
    if (onPresence !== undefined) callSafely(onPresence, change);
    this.emit('presence', change);
  }

  private onSignal(signal: Signal): void {
    const entry = this.rooms.get(signal.room);
    if (entry === undefined) return;
    const typed = signal as unknown as TypedSignal<Signals>;
    const onSignal = entry.options.onSignal as ((signal: TypedSignal<Signals>) => void) | undefined;
    if (onSignal !== undefined) callSafely(onSignal, typed);
    this.emit('signal', typed);
  }

  // ---- outbox -------------------------------------------------------------------

  /** What the outbox sender needs of this client (see outbox-sender.ts). */
  private outboxHost(): OutboxSenderHost {
    return {
      scheduler: this.scheduler,
      backoff: this.resolved.backoff,
      connection: () => this.connection,
      connected: () => this.socket.connected,
      closed: () => this.closed,
      roomReady: async (room) => {
        const entry = this.rooms.get(room);
        if (entry === undefined || entry.ready.settled) return 'ready';
        try {
          await this.whenReady(entry);
          return 'ready';
        } catch {
          // Still tracked: its rejoin is slow, try later. Dropped: the publication goes anyway and its refusal is reported.
          return this.rooms.get(room) === entry ? 'retry' : 'ready';
        }
      },
      send: (item) =>
        this.request('room:publish', { room: item.room, event: item.event, data: item.data, idempotencyKey: item.idempotencyKey }, item.room, {
          idempotencyKey: item.idempotencyKey,
        }),
      onDropped: (drop) => this.emit('outbox:dropped', drop),
    };
  }

  // ---- requests -----------------------------------------------------------------

  private request<E extends ClientEventName>(
    event: E,
    payload: RequestOf<E>,
    room?: string,
    options: { volatile?: boolean; idempotencyKey?: string | undefined } = {},
  ): Promise<ResultOf<E>> {
    return sendRequest(this.socket, event, payload, room, options);
  }

  // ---- small helpers ------------------------------------------------------------

  private setState(state: ConnectionState): void {
    if (this.currentState === state || this.currentState === 'closed') return;
    this.currentState = state;
    this.emit('state', state);
  }

  private emitError(error: RoomcastError): void {
    this.emit('error', error);
  }

  private rejectWaiters(error: RoomcastError): void {
    for (const waiter of this.connectWaiters) waiter.reject(error);
    this.connectWaiters.clear();
  }

  private clearRetry(entry: RoomEntry): void {
    if (entry.retryTimer === undefined) return;
    this.scheduler.clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer === undefined) return;
    this.scheduler.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private clearDrainTimer(): void {
    if (this.drainTimer === undefined) return;
    this.scheduler.clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
  }
}

function closedError(room?: string): RoomcastError {
  return RoomcastError.local('UNAVAILABLE', 'the client is closed', room === undefined ? {} : { room });
}
