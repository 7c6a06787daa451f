/**
 * RoomcastClient: one Socket.IO connection to a namespace of a Roomcast gateway,
 * the SDK's public face. Like socket.io-client's Socket over its Manager, it
 * delegates: the Connection (connection.ts) owns the connection's life (handshake
 * token, refresh, reconnects, drain), JoinedRooms (joined-rooms.ts) rejoins every
 * room with `since` after a reconnect and routes each room's traffic through a
 * RoomStream, which makes the ordering guarantee, and the OutboxSender
 * (outbox-sender.ts) sends what was published offline. This class wires them
 * together, checks calls, and emits the public events under the application's types.
 */
import type { HistoryResult, JoinResult, PublishResult } from '../shared/events.js';
import type { JsonValue, Message, PresenceMember, PublishRequest, StreamPosition } from '../shared/wire-types.js';
import type { ClientEvents, ConnectionState, DefaultEvents, EventName, HistoryOptions, JoinOptions, MessageHandler, PublishOptions, RoomcastSocket } from './client-types.js';
import { Connection } from './connection.js';
import { TypedEmitter } from './emitter.js';
import { clientClosedError, RoomcastError } from './errors.js';
import { JoinedRooms, type RoomEvents } from './joined-rooms.js';
import { resolveOptions, type ResolvedOptions, type RoomcastClientOptions } from './options.js';
import { Outbox } from './outbox.js';
import { OutboxSender, type OutboxSenderHost } from './outbox-sender.js';
import { LivePresence, type LivePresenceOptions, type PresenceSource } from './presence-list.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import { throttle, type Shaped } from './timing.js';

export class RoomcastClient<Events extends object = DefaultEvents, Signals extends object = DefaultEvents> extends TypedEmitter<
  ClientEvents<Events, Signals>
> {
  /** The underlying socket, for diagnostics and tests; the client keeps its own listeners on it. */
  readonly socket: RoomcastSocket;
  private readonly resolved: ResolvedOptions;
  private readonly scheduler: Scheduler = realScheduler;
  private readonly connection: Connection;
  private readonly rooms: JoinedRooms;
  /** Publications made while offline (undefined with `outbox: false`). */
  private readonly outbox: OutboxSender | undefined;

  /**
   * @param url the gateway's origin, e.g. `https://rt.example.com` (the namespace is an option).
   */
  constructor(url: string, options: RoomcastClientOptions) {
    super();
    this.resolved = resolveOptions(options);
    this.outbox = options.outbox === false ? undefined : new OutboxSender(new Outbox<JsonValue>({ ...options.outbox, scheduler: this.scheduler }), this.outboxHost());
    this.connection = new Connection({
      url,
      options,
      resolved: this.resolved,
      scheduler: this.scheduler,
      host: {
        onState: (state) => this.emit('state', state),
        onError: (error) => this.emit('error', error),
        onDraining: (event) => this.emit('draining', event),
        onConnect: () => {
          this.rooms.rejoinAll();
          // After the rejoins were sent: each outbox entry waits for its room's rejoin.
          this.outbox?.onConnect();
        },
        onDisconnect: () => this.rooms.suspendAll(),
        onGiveUp: (error) => this.rooms.dropPendingJoins(error),
        onClose: (error) => {
          this.rooms.close(error);
          this.outbox?.close(error);
        },
      },
    });
    this.socket = this.connection.socket;
    // The rooms speak untyped Message and Signal; the application's event maps are its own promise (client-types.ts).
    const emitUntyped = this.emit.bind(this) as (event: keyof RoomEvents, ...args: RoomEvents[keyof RoomEvents]) => void;
    this.rooms = new JoinedRooms({ connection: this.connection, resolved: this.resolved, scheduler: this.scheduler, emit: emitUntyped });
    this.rooms.listen(this.socket);
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Rooms this client is in (or joining). */
  get joinedRooms(): string[] {
    return this.rooms.names;
  }

  /** Publications waiting in the outbox (sent once the connection is back). */
  get outboxSize(): number {
    return this.outbox?.size ?? 0;
  }

  /** The last delivered position of a room: what a rejoin sends as `since`. */
  position(room: string): StreamPosition | undefined {
    return this.rooms.position(room);
  }

  /** Connects (if not connected or connecting already); resolves once connected, rejects if the gateway refuses for good. */
  connect(): Promise<void> {
    return this.connection.connect();
  }

  /** Disconnects for good and forgets every room. Idempotent. */
  close(): void {
    this.connection.close(clientClosedError());
  }

  /**
   * Joins a room; `onMessage` then receives each of its publications once, in
   * offset order, across reconnects. Resolves with the first join's ack.
   * Joining a room again only replaces its callbacks.
   *
   * A refusal is reported once. The first join's refusal (FORBIDDEN_ROOM, ROOM_FULL...)
   * rejects this promise with a RoomcastError (its `room` set) and is not emitted as
   * `error`; the room is not tracked. Once joined, a rejoin after a reconnect has no
   * promise: refused for good (not `retryable`: the token no longer allows the room)
   * it is emitted once as `error` (with `room` and `event: 'room:join'`) and the room
   * is dropped; refused for now (`retryable`) it is retried with backoff and emitted
   * once, at its first refusal, until a rejoin succeeds.
   */
  join(room: string, onMessage: MessageHandler<Events> = () => undefined, options: JoinOptions<Signals> = {}): Promise<JoinResult> {
    if (this.connection.closed) return Promise.reject(clientClosedError(room));
    // The typed handler sees Message through TypedMessage<Events>: the application's types are its promise.
    return this.rooms.join(room, onMessage as unknown as (message: Message) => void, options as unknown as JoinOptions<never>);
  }

  /** Leaves a room (a join still pending rejects); the gateway is told when connected. */
  leave(room: string): Promise<void> {
    return this.rooms.leave(room);
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
    if (this.connection.closed) throw clientClosedError(room);
    const json = data as unknown as JsonValue;
    if (this.outbox?.shouldQueue() === true) return this.outbox.enqueue(room, event, json, options.idempotencyKey);
    // After a reconnect the gateway accepts a publication only once the room is rejoined.
    if (this.rooms.awaitsJoin(room)) await this.rooms.whenJoined(room);
    const request: PublishRequest = { room, event, data: json };
    if (options.idempotencyKey !== undefined) request.idempotencyKey = options.idempotencyKey;
    return this.connection.request('room:publish', request, room, { idempotencyKey: options.idempotencyKey });
  }

  /** A page of a room's history, as the gateway stores it (no ordering or dedup applied). */
  history(room: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    if (this.connection.closed) return Promise.reject(clientClosedError(room));
    return this.connection.request('room:history', { room, ...options }, room);
  }

  async presence(room: string): Promise<PresenceMember[]> {
    if (this.connection.closed) throw clientClosedError(room);
    const result = await this.connection.request('presence:list', { room }, room);
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
    if (this.connection.closed) throw clientClosedError(room);
    if (!this.connection.connected || this.rooms.awaitsJoin(room)) return false;
    try {
      await this.connection.request('room:signal', { room, event, data: data as unknown as JsonValue }, room, { volatile: true });
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
        this.signal(room, event, data).catch((error: unknown) => this.emit('error', RoomcastError.from(error, { room, event: 'room:signal' })));
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
    // A room still joining is listed by its 'joined'; otherwise list now.
    if (this.connection.connected && !this.rooms.awaitsJoin(room)) void live.refresh().catch(() => undefined);
    return live;
  }

  /** What the outbox sender needs of this client (see outbox-sender.ts). */
  private outboxHost(): OutboxSenderHost {
    return {
      scheduler: this.scheduler,
      backoff: this.resolved.backoff,
      connection: () => this.connection.connectCount,
      connected: () => this.connection.connected,
      closed: () => this.connection.closed,
      roomReady: (room) => this.rooms.readyForOutbox(room),
      send: (item) =>
        this.connection.request(
          'room:publish',
          { room: item.room, event: item.event, data: item.data, idempotencyKey: item.idempotencyKey },
          item.room,
          { idempotencyKey: item.idempotencyKey },
        ),
      onDropped: (drop) => this.emit('outbox:dropped', drop),
    };
  }
}
