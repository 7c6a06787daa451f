/**
 * SDK clients through NGINX, each in one or two rooms, recording into the
 * ledger every message the SDK hands to the application and every `gap`. Each
 * also measures its recoveries: from the moment its state leaves `connected`
 * to the moment it is `connected` again and every one of its rooms has been
 * rejoined (a `recovered` event, or a `gap` if it could not be).
 */
import { RoomcastClient, type ConnectionState, type Message } from '../../client/index.js';
import type { Ledger } from './ledger.js';

export type TransportMode = 'websocket' | 'default';

export interface SubscriberOptions {
  id: string;
  url: string;
  token: string;
  rooms: readonly string[];
  transport: TransportMode;
  ledger: Ledger;
  now: () => number;
}

export interface TimelineEntry {
  at: number;
  /** A connection state, or `draining` / `cut` / `recovered:<room>` / `gap:<room>`. */
  event: string;
  /** The node of the Engine.IO session (from its id), when connected. */
  node?: string;
}

export interface RecoveryEpisode {
  start: number;
  end?: number;
  /** What the client was told or did: cut (by the suite), draining (server:draining), or lost (the transport went away). */
  cause: string;
  /** The node it was on when the connection went, and the one it came back on. */
  from?: string;
  to?: string;
  /** Rooms not rejoined yet (while the episode is open). */
  pending?: string[];
}

/** Timeline entries kept per client (a client failing to connect for minutes must not fill the memory). */
const MAX_TIMELINE = 5_000;

export class ChaosSubscriber {
  readonly id: string;
  readonly rooms: readonly string[];
  readonly transport: TransportMode;
  readonly client: RoomcastClient;
  readonly timeline: TimelineEntry[] = [];
  readonly episodes: RecoveryEpisode[] = [];
  readonly errors = new Map<string, number>();
  private readonly options: SubscriberOptions;
  private state: ConnectionState;
  private node: string | undefined;
  private open: RecoveryEpisode | undefined;
  private pending = new Set<string>();
  private nextCause: string | undefined;

  constructor(options: SubscriberOptions) {
    this.options = options;
    this.id = options.id;
    this.rooms = options.rooms;
    this.transport = options.transport;
    this.client = new RoomcastClient(options.url, {
      token: options.token,
      autoConnect: false,
      reconnectionDelay: 250,
      reconnectionDelayMax: 2_000,
      ...(options.transport === 'websocket' ? { transports: ['websocket'] } : {}),
    });
    this.state = this.client.state;
    this.client.on('state', (state) => this.onState(state));
    this.client.on('recovered', (event) => this.onRejoined(event.room, `recovered:${event.room}`));
    this.client.on('gap', (gap) => {
      this.options.ledger.subscription(this.id, gap.room).gaps.push({ epoch: gap.epoch, from: gap.from, to: gap.to, reason: gap.reason, at: this.options.now() });
      this.onRejoined(gap.room, `gap:${gap.room}`);
    });
    this.client.on('draining', (event) => {
      this.nextCause ??= 'draining';
      this.mark(`draining ${event.reconnectInMs}ms`);
    });
    this.client.on('error', (error) => this.errors.set(error.code, (this.errors.get(error.code) ?? 0) + 1));
    // Why (re)connecting fails: the transport (engine) and the namespace handshake.
    this.client.socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      this.mark(`connect_error: ${error.data?.code ?? ''} ${error.message}`.replace(': ', ': ').trim());
    });
    this.client.socket.io.on('reconnect_attempt', (attempt) => this.mark(`reconnect_attempt ${attempt}`));
    this.client.socket.io.on('error', (error: Error & { description?: unknown }) => {
      const description = error.description;
      const detail = description instanceof Error ? description.message : typeof description === 'number' ? `HTTP ${description}` : '';
      this.mark(`transport error: ${error.message}${detail === '' ? '' : ` (${detail})`}`);
    });
    // Runs after the SDK's own listener (which moves the state first): names an episode the suite did not cause.
    this.client.socket.on('disconnect', (reason) => {
      this.mark(`disconnect: ${reason}`);
      if (this.open !== undefined && this.open.cause === 'lost') this.open.cause = reason;
    });
  }

  /** Connects and joins every room; resolves with each room's first join ack. */
  async start(): Promise<void> {
    await this.client.connect();
    await Promise.all(
      this.rooms.map(async (room) => {
        const log = this.options.ledger.subscription(this.id, room);
        const ack = await this.client.join(room, (message) => this.onMessage(log, message));
        log.join = { epoch: ack.epoch, offset: ack.offset, at: this.options.now() };
      }),
    );
  }

  /** Closes the transport from the client side, as a network loss would. */
  cut(): void {
    this.nextCause = 'cut';
    this.mark('cut');
    this.client.socket.io.engine?.close();
  }

  get connectedNode(): string | undefined {
    return this.state === 'connected' ? this.node : undefined;
  }

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  /** Whether every room has reached `targets` (the last offset answered 2xx). */
  caughtUp(targets: ReadonlyMap<string, { epoch: string; offset: number }>): boolean {
    return this.rooms.every((room) => {
      const target = targets.get(room);
      if (target === undefined) return true;
      const position = this.client.position(room);
      return position !== undefined && position.epoch === target.epoch && position.offset >= target.offset;
    });
  }

  position(room: string): { epoch: string; offset: number } | undefined {
    return this.client.position(room);
  }

  /** An episode still open at the end (never fully recovered), for the report. */
  openEpisode(): RecoveryEpisode | undefined {
    return this.open === undefined ? undefined : { ...this.open, pending: [...this.pending] };
  }

  close(): void {
    this.client.close();
  }

  private onMessage(log: ReturnType<Ledger['subscription']>, message: Message): void {
    const data = message.data as { k?: unknown } | null;
    const key = data !== null && typeof data === 'object' && typeof data.k === 'string' ? data.k : null;
    log.deliveries.push({ epoch: message.epoch, offset: message.offset, key, at: this.options.now() });
  }

  private onState(state: ConnectionState): void {
    const previous = this.state;
    this.state = state;
    if (state === 'connected') {
      this.node = this.client.socket.io.engine?.id?.split('.')[0];
      this.mark(state, this.node);
      if (this.open !== undefined) {
        this.open.to = this.node;
        this.pending = new Set(this.rooms);
      }
      return;
    }
    this.mark(state);
    if (previous === 'connected' && this.open === undefined && state !== 'closed') {
      this.open = { start: this.options.now(), cause: this.nextCause ?? 'lost', ...(this.node === undefined ? {} : { from: this.node }) };
      this.episodes.push(this.open);
    }
    this.nextCause = undefined;
  }

  private onRejoined(room: string, event: string): void {
    this.mark(event);
    if (this.open === undefined || this.state !== 'connected' || !this.pending.delete(room)) return;
    if (this.pending.size === 0) {
      this.open.end = this.options.now();
      this.open = undefined;
    }
  }

  private mark(event: string, node?: string): void {
    if (this.timeline.length >= MAX_TIMELINE) return;
    this.timeline.push({ at: this.options.now(), event, ...(node === undefined ? {} : { node }) });
  }
}
