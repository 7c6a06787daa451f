/**
 * The client's one Socket.IO connection and its life, as socket.io-client's
 * Manager is under its Socket: the connection state, the handshake token and
 * its renewal (token-keeper.ts), the reconnects socket.io-client leaves to us
 * (after a refused handshake or a gateway-side disconnect: it retries only lost
 * transports), and drain (server:draining: reconnect elsewhere after the delay
 * the node gave). It knows nothing of rooms or the outbox: the client hears of
 * each connect, disconnect, give-up and close through ConnectionHost.
 */
import { Manager, type Socket } from 'socket.io-client';
import { isErrorPayload } from '../shared/errors.js';
import type { ClientEventName, DrainingEvent } from '../shared/events.js';
import { backoffDelay } from './backoff.js';
import type { ConnectionState, RoomcastSocket } from './client-types.js';
import { deferred, type Deferred } from './deferred.js';
import { clientClosedError, RoomcastError } from './errors.js';
import { socketIoOptions, type ResolvedOptions, type RoomcastClientOptions } from './options.js';
import { sendRequest, type RequestOf, type ResultOf } from './requests.js';
import type { Scheduler, TimerHandle } from './scheduler.js';
import { TokenKeeper } from './token-keeper.js';

/** TOKEN_EXPIRED handshakes in a row, each after a new token, before the client gives up. */
const MAX_TOKEN_EXPIRED_RETRIES = 3;
/** Added to `reconnectInMs` of server:draining, so clients told the same delay still spread out. */
const DRAIN_JITTER_MS = 500;

/** What the connection tells the client (RoomcastClient), which owns the rooms, the outbox and the public events. */
export interface ConnectionHost {
  /** The state changed; never called again after 'closed'. */
  onState(state: ConnectionState): void;
  onError(error: RoomcastError): void;
  /** server:draining arrived; the connection has not yet armed its reconnect. */
  onDraining(event: DrainingEvent): void;
  /** Connected (connectCount bumped, token renewal armed, connect() waiters resolved): rejoin and flush. */
  onConnect(): void;
  /** The socket disconnected, for any reason (also while closing or moving off a draining node). */
  onDisconnect(): void;
  /** Connecting was given up for good with `error`, before the connect() waiters are rejected with it. */
  onGiveUp(error: RoomcastError): void;
  /** close() was called: give up everything with `error`, before the socket goes. */
  onClose(error: RoomcastError): void;
}

export interface ConnectionOptions {
  /** The gateway's origin. */
  url: string;
  options: RoomcastClientOptions;
  resolved: ResolvedOptions;
  scheduler: Scheduler;
  host: ConnectionHost;
}

export class Connection {
  readonly socket: RoomcastSocket;
  private readonly options: RoomcastClientOptions;
  private readonly resolved: ResolvedOptions;
  private readonly scheduler: Scheduler;
  private readonly host: ConnectionHost;
  private readonly tokens: TokenKeeper;
  private readonly connectWaiters = new Set<Deferred<void>>();
  private currentState: ConnectionState;
  private isClosed = false;
  private everConnected = false;
  /** Bumped on every connect, so answers to requests of an older connection are recognised. */
  private connects = 0;
  /** Set while the client itself disconnects to reconnect elsewhere (drain). */
  private restarting = false;
  private reconnectTimer: TimerHandle | undefined;
  private reconnectAttempts = 0;
  private tokenExpiredCount = 0;
  /** The token function or refreshToken threw during the current handshake. */
  private tokenSourceFailed = false;
  private drainTimer: TimerHandle | undefined;
  private drainReconnectAt: number | undefined;

  constructor({ url, options, resolved, scheduler, host }: ConnectionOptions) {
    this.options = options;
    this.resolved = resolved;
    this.scheduler = scheduler;
    this.host = host;
    this.tokens = new TokenKeeper({ token: options.token, refreshToken: options.refreshToken, scheduler });
    const ioOptions = socketIoOptions(options, resolved, (send) => this.authenticate(send));
    // An own Manager per client: io() would share one connection between clients of the same URL.
    this.socket = new Manager(url, ioOptions).socket(resolved.namespace, ioOptions);
    this.currentState = ioOptions.autoConnect === false ? 'disconnected' : 'connecting';
    this.listen();
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** How many times this client connected: a request answered under an older count belongs to a connection that is gone. */
  get connectCount(): number {
    return this.connects;
  }

  /** Connects (if not connected or connecting already); resolves once connected, rejects if the gateway refuses for good. */
  connect(): Promise<void> {
    if (this.isClosed) return Promise.reject(clientClosedError());
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

  /** Disconnects for good; the host gives up its rooms and outbox with `error` first. Idempotent. */
  close(error: RoomcastError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.clearReconnectTimer();
    this.clearDrainTimer();
    this.tokens.cancel();
    this.host.onClose(error);
    this.rejectWaiters(error);
    this.socket.disconnect();
    this.setState('closed');
  }

  /** One protocol request over this connection (see requests.ts). */
  request<E extends ClientEventName>(
    event: E,
    payload: RequestOf<E>,
    room?: string,
    options: { volatile?: boolean; idempotencyKey?: string | undefined } = {},
  ): Promise<ResultOf<E>> {
    return sendRequest(this.socket, event, payload, room, options);
  }

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (error) => this.onConnectError(error));
    socket.io.on('reconnect_attempt', () => {
      if (!this.isClosed) this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    });
    socket.io.on('reconnect_failed', () => {
      this.giveUp(RoomcastError.local('UNAVAILABLE', 'could not reconnect to the gateway'));
    });
    socket.on('server:draining', (event) => this.onDraining(event));
  }

  /** socket.io-client asks for the handshake `auth` on every (re)connect, so a token function is called each time. */
  private authenticate(send: (data: object) => void): void {
    this.tokenSourceFailed = false;
    this.tokens.forHandshake().then(
      (token) => send({ token }),
      (error: unknown) => {
        this.tokenSourceFailed = true;
        this.host.onError(RoomcastError.from(error, { event: 'auth' }));
        // Try with what we have: a still-valid token connects; a refusal is then retried (see onConnectError).
        send({ token: this.tokens.token ?? '' });
      },
    );
  }

  private onConnect(): void {
    if (this.isClosed) return;
    this.connects += 1;
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
      (error) => this.host.onError(error),
    );
    // Resolving only queues the waiters' continuations: the host's rejoins and outbox still go out first.
    for (const waiter of this.connectWaiters) waiter.resolve();
    this.connectWaiters.clear();
    this.host.onConnect();
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    this.tokens.cancel();
    this.host.onDisconnect();
    if (this.isClosed || this.restarting) return;
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
    if (this.isClosed) return;
    if (this.socket.active) {
      // The transport failed (gateway unreachable): socket.io-client retries unless told not to.
      if (!this.resolved.reconnection) this.giveUp(RoomcastError.from(error, { event: 'connect' }));
      return;
    }
    // The gateway refused the handshake: socket.io-client does not retry that by itself.
    const data = (error as Error & { data?: unknown }).data;
    const refusal = isErrorPayload(data) ? new RoomcastError(data, { event: 'connect' }) : RoomcastError.from(error, { event: 'connect' });
    this.host.onError(refusal);
    // The application's token source failed (e.g. its token endpoint was down): the refusal says nothing
    // about the user, so try again later instead of giving up.
    if (this.tokenSourceFailed) this.scheduleReconnect();
    else if (refusal.code === 'TOKEN_EXPIRED') void this.reconnectWithNewToken(refusal);
    else if (refusal.retryable) this.scheduleReconnect();
    else this.giveUp(refusal);
  }

  private async reconnectWithNewToken(refusal: RoomcastError): Promise<void> {
    this.tokenExpiredCount += 1;
    const renewable = this.tokens.canRefresh || typeof this.options.token === 'function';
    if (!renewable || this.tokenExpiredCount > MAX_TOKEN_EXPIRED_RETRIES) {
      this.giveUp(refusal);
      return;
    }
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    if (this.tokens.canRefresh) {
      try {
        await this.tokens.refresh();
      } catch (error) {
        const failure = RoomcastError.from(error, { event: 'auth:refresh' });
        this.host.onError(failure);
        this.giveUp(failure);
        return;
      }
    }
    // A token function is asked again by the handshake itself.
    this.scheduleReconnect(0);
  }

  private scheduleReconnect(delay?: number): void {
    if (this.isClosed) return;
    if (!this.resolved.reconnection || this.reconnectAttempts >= this.resolved.reconnectionAttempts) {
      this.giveUp(RoomcastError.local('UNAVAILABLE', 'could not reconnect to the gateway'));
      return;
    }
    const wait = delay ?? backoffDelay(this.reconnectAttempts, this.resolved.backoff);
    this.reconnectAttempts += 1;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    this.clearReconnectTimer();
    this.reconnectTimer = this.scheduler.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.isClosed && !this.socket.connected) this.socket.connect();
    }, wait);
  }

  /** The gateway node is going away: reconnect (to another node) after the delay it gave. */
  private onDraining(event: DrainingEvent): void {
    this.host.onDraining(event);
    const delay = Math.max(0, event.reconnectInMs) + Math.random() * DRAIN_JITTER_MS;
    this.drainReconnectAt = this.scheduler.now() + delay;
    this.clearDrainTimer();
    this.drainTimer = this.scheduler.setTimeout(() => {
      this.drainTimer = undefined;
      this.drainReconnectAt = undefined;
      if (this.isClosed || !this.socket.connected) return;
      this.restarting = true;
      try {
        this.socket.disconnect();
      } finally {
        this.restarting = false;
      }
      this.scheduleReconnect(0);
    }, delay);
  }

  /** Gives up connecting: the host drops its pending first joins, connect() waiters are rejected; a later connect() starts over. */
  private giveUp(error: RoomcastError): void {
    if (this.isClosed) return;
    this.clearReconnectTimer();
    this.clearDrainTimer();
    this.tokens.cancel();
    if (!this.socket.connected) this.socket.disconnect();
    this.host.onGiveUp(error);
    this.rejectWaiters(error);
    this.setState('disconnected');
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state || this.currentState === 'closed') return;
    this.currentState = state;
    this.host.onState(state);
  }

  private rejectWaiters(error: RoomcastError): void {
    for (const waiter of this.connectWaiters) waiter.reject(error);
    this.connectWaiters.clear();
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
