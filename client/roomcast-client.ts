/**
 * RoomcastClient: one Socket.IO connection to a namespace of a Roomcast gateway.
 * It owns the connection's life (handshake token, refresh, reconnects, drain),
 * rejoins every room with `since` after a reconnect, and routes each room's
 * traffic through a RoomStream, which makes the ordering guarantee.
 */
import { Manager } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { isErrorPayload, roomNameProblem } from '../shared/index.js';
import type {
  Ack,
  AckCallback,
  ClientEventName,
  ClientToServerEvents,
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
  ServerToClientEvents,
  StreamPosition,
} from '../shared/index.js';
import { backoffDelay } from './backoff.js';
import { deferred, type Deferred } from './deferred.js';
import { TypedEmitter } from './emitter.js';
import { RoomcastError } from './errors.js';
import { resolveOptions, socketIoOptions, type ResolvedOptions, type RoomcastClientOptions } from './options.js';
import { RoomStream, type GapEvent, type RecoveredEvent } from './room-stream.js';
import { callSafely } from './safe-call.js';
import { realScheduler, type Scheduler, type TimerHandle } from './scheduler.js';
import { TokenKeeper } from './token-keeper.js';

export type RoomcastSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export interface PresenceChange {
  type: 'join' | 'leave';
  room: string;
  member: PresenceMember;
}

export type ClientEvents = {
  state: (state: ConnectionState) => void;
  error: (error: RoomcastError) => void;
  /** Offsets of a room that will never be delivered (history no longer has them). */
  gap: (gap: GapEvent) => void;
  /** A room was rejoined after a reconnect and everything missed is (being) delivered. */
  recovered: (event: RecoveredEvent) => void;
  presence: (change: PresenceChange) => void;
  /** The gateway node is shutting down; the client reconnects after `reconnectInMs`. */
  draining: (event: DrainingEvent) => void;
};

export type MessageHandler = (message: Message) => void;

export interface JoinOptions {
  onPresence?: (change: PresenceChange) => void;
  onGap?: (gap: GapEvent) => void;
}

export interface PublishOptions {
  /** Makes a retried publication safe: the gateway stores it once and answers with the original offset. */
  idempotencyKey?: string;
}

export interface HistoryOptions {
  /** Read after this position (exclusive); without it, the oldest retained messages. */
  since?: StreamPosition;
  limit?: number;
}

interface RoomEntry {
  readonly room: string;
  readonly stream: RoomStream;
  onMessage: MessageHandler;
  options: JoinOptions;
  /** What join() returned: settles with the first ack only. */
  readonly joined: Deferred<JoinResult>;
  /** Settles when the current (re)join is acknowledged; publish() waits for it. */
  ready: Deferred<void>;
  retryTimer: TimerHandle | undefined;
  retries: number;
}

type RequestOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
type ResultOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[1] extends AckCallback<infer R> ? R : never;

/** TOKEN_EXPIRED handshakes in a row, each after a new token, before the client gives up. */
const MAX_TOKEN_EXPIRED_RETRIES = 3;
/** Added to `reconnectInMs` of server:draining, so clients told the same delay still spread out. */
const DRAIN_JITTER_MS = 500;

export class RoomcastClient extends TypedEmitter<ClientEvents> {
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

  /**
   * @param url the gateway's origin, e.g. `https://rt.example.com` (the namespace is an option).
   */
  constructor(url: string, options: RoomcastClientOptions) {
    super();
    this.options = options;
    this.resolved = resolveOptions(options);
    this.tokens = new TokenKeeper({ token: options.token, refreshToken: options.refreshToken, scheduler: this.scheduler });
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
    this.socket.disconnect();
    this.setState('closed');
  }

  /**
   * Joins a room; `onMessage` then receives each of its publications once, in
   * offset order, across reconnects. Resolves with the first join's ack.
   * Joining a room again only replaces its callbacks.
   */
  join(room: string, onMessage: MessageHandler, options: JoinOptions = {}): Promise<JoinResult> {
    if (this.closed) return Promise.reject(closedError(room));
    const problem = roomNameProblem(room);
    if (problem !== null) return Promise.reject(RoomcastError.local('INVALID_PAYLOAD', problem, { room, event: 'room:join' }));
    const existing = this.rooms.get(room);
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
   */
  async publish(room: string, event: string, data: JsonValue, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.closed) throw closedError(room);
    const entry = this.rooms.get(room);
    // After a reconnect the gateway accepts a publication only once the room is rejoined.
    if (entry !== undefined && !entry.ready.settled) await this.whenReady(entry);
    const request: PublishRequest = { room, event, data };
    if (options.idempotencyKey !== undefined) request.idempotencyKey = options.idempotencyKey;
    return this.request('room:publish', request, room);
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
        if (entry !== undefined) callSafely(entry.onMessage, message);
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

  // ---- requests -----------------------------------------------------------------

  /** Sends a protocol request and unwraps its acknowledgement; every failure becomes a RoomcastError. */
  private async request<E extends ClientEventName>(event: E, payload: RequestOf<E>, room?: string): Promise<ResultOf<E>> {
    let ack: Ack<ResultOf<E>>;
    try {
      // socket.io-client's emitWithAck cannot infer through a generic event name; RequestOf/ResultOf
      // still tie each call to ClientToServerEvents. The socket's ackTimeout bounds the wait.
      const emitWithAck = this.socket.emitWithAck as (event: E, payload: RequestOf<E>) => Promise<Ack<ResultOf<E>>>;
      ack = await emitWithAck.call(this.socket, event, payload);
    } catch (error) {
      throw RoomcastError.from(error, { room, event });
    }
    if (!ack.ok) throw new RoomcastError(ack.error, { room, event });
    // The application gets the result alone; `ok` only made sense on the wire.
    const result: Record<string, unknown> = { ...ack };
    delete result.ok;
    return result as ResultOf<E>;
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
