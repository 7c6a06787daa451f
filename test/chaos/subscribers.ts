/**
 * SDK clients, each in one or two rooms, recording into the ledger every
 * message the SDK hands to the application and every `gap`, per membership (a
 * join until its leave). Most go through NGINX; the churn fault's clients talk
 * to one node's own URL. Each also measures its recoveries: from the moment its
 * state leaves `connected` to the moment it is `connected` again and every one
 * of its rooms has been rejoined (a `recovered` event, or a `gap` if it could
 * not be).
 */
import { RoomcastClient, type ConnectionState, type Message } from '../../client/index.js';
import { MAX_TIMELINE, reachedTarget, type ChaosConsumer, type RecoveryEpisode, type StreamTarget, type TimelineEntry } from './consumers.js';
import type { Ledger, SubscriptionLog } from './ledger.js';

export type TransportMode = 'websocket' | 'default';
export type { RecoveryEpisode, TimelineEntry } from './consumers.js';

export interface SubscriberOptions {
  id: string;
  url: string;
  token: string;
  rooms: readonly string[];
  transport: TransportMode;
  ledger: Ledger;
  now: () => number;
  /** The node's id when `url` is one node's own URL. */
  pinnedNode?: string;
}

export class ChaosSubscriber implements ChaosConsumer {
  readonly id: string;
  readonly kind = 'sdk' as const;
  readonly transport: TransportMode;
  readonly pinnedNode: string | undefined;
  readonly client: RoomcastClient;
  readonly timeline: TimelineEntry[] = [];
  readonly episodes: RecoveryEpisode[] = [];
  readonly errors = new Map<string, number>();
  /** The rooms it was created with. */
  readonly initialRooms: readonly string[];
  private readonly options: SubscriberOptions;
  /** Open memberships: room -> its ledger log. */
  private readonly logs = new Map<string, SubscriptionLog>();
  private readonly joinCounts = new Map<string, number>();
  private state: ConnectionState;
  private node: string | undefined;
  private open: RecoveryEpisode | undefined;
  private pending = new Set<string>();
  private nextCause: string | undefined;
  private closed = false;

  constructor(options: SubscriberOptions) {
    this.options = options;
    this.id = options.id;
    this.initialRooms = options.rooms;
    this.transport = options.transport;
    this.pinnedNode = options.pinnedNode;
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
    this.client.on('draining', (event) => {
      this.nextCause ??= 'draining';
      this.mark(`draining ${event.reconnectInMs}ms`);
    });
    this.client.on('error', (error) => this.errors.set(error.code, (this.errors.get(error.code) ?? 0) + 1));
    // Why (re)connecting fails: the transport (engine) and the namespace handshake.
    this.client.socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      this.mark(`connect_error: ${error.data?.code ?? ''} ${error.message}`.trim());
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

  /** Connects and joins every initial room; resolves with each room's first join ack. */
  async start(): Promise<void> {
    await this.client.connect();
    await Promise.all(this.initialRooms.map((room) => this.join(room)));
  }

  /** Connects without joining anything. */
  async connect(): Promise<void> {
    await this.client.connect();
  }

  /**
   * Joins `room` as a new membership (a new ledger log once it has left the room
   * before); resolves with the join ack. The SDK delivers after the ack's offset.
   */
  async join(room: string): Promise<void> {
    if (this.logs.has(room)) throw new Error(`${this.id} is already in ${room}`);
    const count = (this.joinCounts.get(room) ?? 0) + 1;
    this.joinCounts.set(room, count);
    const log = this.options.ledger.subscription(count === 1 ? this.id : `${this.id}#${count}`, room, {
      kind: 'sdk',
      ...(this.pinnedNode === undefined ? {} : { node: this.pinnedNode }),
    });
    if (this.state !== 'connected') log.offline.push([this.options.now(), null]);
    this.logs.set(room, log);
    this.mark(`join:${room}`);
    const ack = await this.client.join(room, (message) => this.onMessage(log, message), {
      onGap: (gap) => {
        log.gaps.push({ epoch: gap.epoch, from: gap.from, to: gap.to, reason: gap.reason, at: this.options.now(), epochChange: gap.reason === 'epoch-changed' });
        this.onRejoined(gap.room, `gap:${gap.room} ${gap.reason} ${gap.epoch}:${gap.from}-${gap.to ?? ''}`);
      },
    });
    log.join = { epoch: ack.epoch, offset: ack.offset, at: this.options.now() };
  }

  /** Leaves `room`: its membership ends now (nothing published after this is expected of it). */
  async leave(room: string): Promise<void> {
    const log = this.logs.get(room);
    if (log === undefined) return;
    this.endMembership(room, log, 'leave');
    this.mark(`leave:${room}`);
    await this.client.leave(room);
  }

  rooms(): string[] {
    return [...this.logs.keys()];
  }

  membership(room: string): string | undefined {
    return this.logs.get(room)?.client;
  }

  /** Closes the transport from the client side, as a network loss would. */
  cut(): void {
    this.nextCause = 'cut';
    this.mark('cut');
    this.client.socket.io.engine?.close();
  }

  /** The app disconnects the client (the SDK keeps its rooms and positions) until goOnline(). */
  goOffline(): void {
    this.nextCause = 'offline';
    this.mark('offline');
    this.client.socket.disconnect();
  }

  /** connect() again: every room is rejoined from its position. */
  goOnline(): void {
    this.mark('online');
    this.client.connect().catch((error: unknown) => this.mark(`connect failed: ${(error as Error).message}`));
  }

  get connectedNode(): string | undefined {
    return this.state === 'connected' ? this.node : undefined;
  }

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  caughtUp(targets: ReadonlyMap<string, StreamTarget>): boolean {
    return this.rooms().every((room) => reachedTarget(this.client.position(room), targets.get(room)));
  }

  position(room: string): StreamTarget | undefined {
    return this.client.position(room);
  }

  openEpisode(): RecoveryEpisode | undefined {
    return this.open === undefined ? undefined : { ...this.open, pending: [...this.pending] };
  }

  /** End of the run: memberships stay open (they lasted to the end). */
  close(): void {
    this.closed = true;
    this.client.close();
  }

  /** A short-lived client's own end: every membership ends now, then the client closes. */
  closeAndEnd(): void {
    for (const [room, log] of this.logs) this.endMembership(room, log, 'close');
    this.mark('close');
    this.close();
  }

  private endMembership(room: string, log: SubscriptionLog, reason: string): void {
    log.end = { at: this.options.now(), reason };
    const last = log.offline.at(-1);
    if (last !== undefined && last[1] === null) last[1] = log.end.at;
    this.logs.delete(room);
    this.pending.delete(room);
  }

  private onMessage(log: SubscriptionLog, message: Message): void {
    const data = message.data as { k?: unknown } | null;
    const key = data !== null && typeof data === 'object' && typeof data.k === 'string' ? data.k : null;
    log.deliveries.push({ epoch: message.epoch, offset: message.offset, key, at: this.options.now() });
  }

  private onState(state: ConnectionState): void {
    const previous = this.state;
    this.state = state;
    const at = this.options.now();
    if (state === 'connected') {
      this.node = this.client.socket.io.engine?.id?.split('.')[0];
      this.mark(state, this.node);
      for (const log of this.logs.values()) {
        const last = log.offline.at(-1);
        if (last !== undefined && last[1] === null) last[1] = at;
      }
      if (this.open !== undefined) {
        this.open.to = this.node;
        this.pending = new Set(this.rooms());
        if (this.pending.size === 0) this.finishEpisode();
      }
      return;
    }
    this.mark(state);
    if (previous === 'connected' && !this.closed) {
      for (const log of this.logs.values()) log.offline.push([at, null]);
    }
    if (previous === 'connected' && this.open === undefined && state !== 'closed') {
      this.open = { start: at, cause: this.nextCause ?? 'lost', ...(this.node === undefined ? {} : { from: this.node }) };
      this.episodes.push(this.open);
    }
    this.nextCause = undefined;
  }

  private onRejoined(room: string, event: string): void {
    this.mark(event);
    if (this.open === undefined || this.state !== 'connected' || !this.pending.delete(room)) return;
    if (this.pending.size === 0) this.finishEpisode();
  }

  private finishEpisode(): void {
    if (this.open === undefined) return;
    this.open.end = this.options.now();
    this.open = undefined;
  }

  private mark(event: string, node?: string): void {
    if (this.timeline.length >= MAX_TIMELINE) return;
    this.timeline.push({ at: this.options.now(), event, ...(node === undefined ? {} : { node }) });
  }
}
