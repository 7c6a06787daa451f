/**
 * SSE consumers: GET /sse of one room, through NGINX or pinned to one node's
 * URL, reconnecting with Last-Event-ID whenever the stream ends (drain, node
 * killed, cut), as an app keeping an EventSource open does. They record into
 * the ledger what they would hand to the app, with no help from the SDK: every
 * publication event in arrival order (the server promises each offset once and
 * in order per stream, and an exact resume), and every gap the stream reports.
 *
 * The stream's own events (see server/transports/sse/sse-stream.ts):
 * - `position` `{ epoch, offset }`: first on a fresh stream: where it starts (its
 *   membership's join position);
 * - `recovered` `{ epoch, offset, recovered: false }`: the stream goes on from
 *   that position (what history still holds follows); what lay between its
 *   previous position and this one will not come: offsets prev+1..offset of the
 *   same epoch, or, into another epoch, the rest of the old epoch and offsets
 *   1..offset of the new one (a position behind the previous one in the same
 *   epoch: the rest of the epoch);
 * - `server:draining`, `protocol:error`: the stream ends; it is reopened.
 * Anything else is a publication: `data` is the message (`epoch`, `offset`, `data.k`).
 */
import { SseConsumer, type SseConsumerEvent, type SseEnd } from '../support/sse-consumer.js';
import { MAX_TIMELINE, reachedTarget, type ChaosConsumer, type RecoveryEpisode, type StreamTarget, type TimelineEntry } from './consumers.js';
import type { Ledger, SubscriptionLog } from './ledger.js';

const CONTROL_EVENTS = new Set(['position', 'recovered', 'server:draining', 'protocol:error']);

export interface SseSubscriberOptions {
  id: string;
  /** NGINX's URL or one node's own URL. */
  url: string;
  token: string;
  room: string;
  ledger: Ledger;
  now: () => number;
  pinnedNode?: string;
  /** Resume from this id at the first connection (a stream reopened by another consumer object). */
  lastEventId?: string;
}

export function parseEventId(id: string | null): StreamTarget | undefined {
  if (id === null) return undefined;
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const offset = Number(id.slice(colon + 1));
  return Number.isInteger(offset) && offset >= 0 ? { epoch: id.slice(0, colon), offset } : undefined;
}

export class SseSubscriber implements ChaosConsumer {
  readonly id: string;
  readonly kind = 'sse' as const;
  readonly transport = 'sse';
  readonly pinnedNode: string | undefined;
  readonly room: string;
  readonly timeline: TimelineEntry[] = [];
  readonly episodes: RecoveryEpisode[] = [];
  readonly errors = new Map<string, number>();
  private readonly options: SseSubscriberOptions;
  private readonly stream: SseConsumer;
  private log: SubscriptionLog | undefined;
  private ended = false;
  private open: RecoveryEpisode | undefined;
  private nextCause: string | undefined;
  private firstOpen: { resolve: () => void; reject: (error: Error) => void } | undefined;
  /** Where the app stands: the last position event, recovered event or publication. */
  private current: StreamTarget | undefined;
  /** When the current connection got its 200 (ms after t=0), undefined while none is open. */
  openedAt: number | undefined;

  constructor(options: SseSubscriberOptions) {
    this.options = options;
    this.id = options.id;
    this.room = options.room;
    this.pinnedNode = options.pinnedNode;
    this.current = parseEventId(options.lastEventId ?? null);
    const params = new URLSearchParams({ room: options.room, token: options.token });
    this.stream = new SseConsumer({
      url: `${options.url}/sse?${params.toString()}`,
      lastEventId: options.lastEventId ?? null,
      maxRetryMs: 3_000,
      onEvent: (event) => this.onEvent(event),
      onOpen: ({ attempt, resumed }) => this.onOpen(attempt, resumed),
      onEnd: (end) => this.onEnd(end),
    });
  }

  /** The ledger log of this stream's membership (created at start). */
  get membershipLog(): SubscriptionLog | undefined {
    return this.log;
  }

  /** The id a reopened stream would send. */
  get lastEventId(): string | null {
    return this.stream.lastEventId;
  }

  /**
   * Opens the stream; resolves once the first event with a position arrived
   * (`position` on a fresh stream, the first event of a resumed one, or 200 for a
   * resumed stream with nothing to send). `log` continues an existing membership
   * (a stream reopened with Last-Event-ID); without it a new one starts.
   */
  start(log?: SubscriptionLog, timeoutMs = 20_000): Promise<void> {
    this.log = log ?? this.options.ledger.subscription(this.id, this.room, { kind: 'sse', ...(this.pinnedNode === undefined ? {} : { node: this.pinnedNode }) });
    this.log.offline.push([this.options.now(), null]);
    this.mark(`start${this.options.lastEventId === undefined ? '' : ` from ${this.options.lastEventId}`}`);
    const ready = new Promise<void>((resolve, reject) => {
      this.firstOpen = { resolve, reject };
    });
    const timer = setTimeout(() => this.firstOpen?.reject(new Error(`SSE ${this.id} (${this.room}): no position within ${timeoutMs} ms`)), timeoutMs);
    this.stream.start();
    return ready.finally(() => {
      clearTimeout(timer);
      this.firstOpen = undefined;
    });
  }

  rooms(): string[] {
    return this.log === undefined || this.ended ? [] : [this.room];
  }

  membership(room: string): string | undefined {
    return room === this.room && !this.ended ? this.log?.client : undefined;
  }

  get isConnected(): boolean {
    return this.stream.isOpen;
  }

  get connectedNode(): string | undefined {
    return this.stream.isOpen ? this.pinnedNode : undefined;
  }

  position(room: string): StreamTarget | undefined {
    return room === this.room ? this.current : undefined;
  }

  caughtUp(targets: ReadonlyMap<string, StreamTarget>): boolean {
    return this.rooms().every((room) => reachedTarget(this.current, targets.get(room)));
  }

  /** A network cut: the connection is aborted, and reopened with Last-Event-ID shortly after. */
  cut(): void {
    this.nextCause = 'cut';
    this.mark('cut');
    this.stream.cut(100);
  }

  /** The stream is closed and not reopened until goOnline() (then with Last-Event-ID). */
  goOffline(): void {
    this.nextCause = 'offline';
    this.mark('offline');
    this.stream.cut(24 * 3_600_000);
  }

  goOnline(): void {
    this.mark('online');
    this.stream.reconnectNow();
  }

  /** Closes the stream and reopens it at once with Last-Event-ID, on the same URL: the same membership goes on. */
  reopen(): void {
    this.nextCause = 'reopen';
    this.mark('reopen');
    this.stream.cut(0);
  }

  openEpisode(): RecoveryEpisode | undefined {
    return this.open === undefined ? undefined : { ...this.open, pending: [this.room] };
  }

  /** End of the run: the membership lasted to the end. */
  async close(): Promise<void> {
    await this.stream.close();
  }

  /** The stream's own end (churn): its membership ends now. */
  async closeAndEnd(): Promise<void> {
    this.endMembership('close');
    await this.stream.close();
  }

  /** Ends the membership without closing (the caller hands the position over to another stream object). */
  endMembership(reason: string): void {
    if (this.ended || this.log === undefined) return;
    this.ended = true;
    const at = this.options.now();
    this.log.end = { at, reason };
    const last = this.log.offline.at(-1);
    if (last !== undefined && last[1] === null) last[1] = at;
    this.mark(`end:${reason}`);
  }

  private onOpen(attempt: number, resumed: boolean): void {
    const at = this.options.now();
    this.openedAt = at;
    this.mark(`open #${attempt}${resumed ? ` resume ${this.stream.lastEventId ?? ''}` : ''}`, this.pinnedNode);
    const last = this.log?.offline.at(-1);
    if (last !== undefined && last[1] === null) last[1] = at;
    if (this.open !== undefined) {
      this.open.end = at;
      this.open.to = this.pinnedNode;
      this.open = undefined;
    }
    // A resumed stream may have nothing to send: it stands where it was.
    if (resumed) this.firstOpen?.resolve();
  }

  private onEnd(end: SseEnd & { reconnectInMs: number; deliberate: boolean }): void {
    const at = this.options.now();
    const detail = end.kind === 'refused' ? `${end.status} ${end.body.slice(0, 120)}` : end.kind === 'error' ? end.message : '';
    this.openedAt = undefined;
    this.mark(`end ${end.kind}${detail === '' ? '' : ` ${detail}`}${end.reconnectInMs >= 0 ? `, again in ${end.reconnectInMs} ms` : ''}`);
    if (end.kind === 'refused') this.errors.set(`HTTP ${end.status}`, (this.errors.get(`HTTP ${end.status}`) ?? 0) + 1);
    if (end.reconnectInMs < 0 || this.ended) return;
    const last = this.log?.offline.at(-1);
    if (this.log !== undefined && (last === undefined || last[1] !== null)) this.log.offline.push([at, null]);
    if (this.open === undefined && end.kind !== 'refused') {
      this.open = { start: at, cause: this.nextCause ?? (end.kind === 'ended' ? 'ended' : 'lost'), ...(this.pinnedNode === undefined ? {} : { from: this.pinnedNode }) };
      this.episodes.push(this.open);
    }
    this.nextCause = undefined;
  }

  private onEvent(event: SseConsumerEvent): void {
    const log = this.log;
    if (log === undefined || this.ended) return;
    const at = this.options.now();
    if (event.event === 'server:draining') {
      this.nextCause = 'draining';
      this.mark(`draining ${event.data}`);
      return;
    }
    if (event.event === 'protocol:error') {
      const code = parseJson(event.data)?.code;
      this.errors.set(typeof code === 'string' ? code : 'protocol:error', (this.errors.get(typeof code === 'string' ? code : 'protocol:error') ?? 0) + 1);
      this.mark(`protocol:error ${event.data.slice(0, 200)}`);
      return;
    }
    const data = parseJson(event.data);
    const isControl = CONTROL_EVENTS.has(event.event) && data !== undefined && typeof data.event !== 'string';
    if (isControl && event.event === 'position') {
      const position = toPosition(data);
      if (position === undefined) return;
      if (log.join === undefined) log.join = { ...position, at };
      else if (this.current === undefined || this.current.epoch !== position.epoch || this.current.offset !== position.offset) {
        // A fresh stream where a resume was expected (no id was ever received): whatever lay between is unaccounted for.
        this.mark(`position again ${position.epoch}:${position.offset}`);
      }
      this.current = position;
      this.firstOpen?.resolve();
      return;
    }
    if (isControl && event.event === 'recovered') {
      const position = toPosition(data);
      if (position === undefined) return;
      const previous = this.current;
      if (data.recovered === false) {
        if (previous === undefined || log.join === undefined) {
          if (log.join === undefined) log.join = { ...position, at };
        } else if (previous.epoch === position.epoch) {
          if (position.offset > previous.offset) log.gaps.push({ epoch: position.epoch, from: previous.offset + 1, to: position.offset, reason: 'recovered:false', at, epochChange: false });
          // The room is behind the stream in the same epoch (Redis lost writes the stream had sent): the stream
          // starts over below its position; nothing of the epoch after it can be vouched for. Offsets it then
          // sends again are duplicates of this epoch: the contract says an offset is never handed out twice.
          else if (position.offset < previous.offset) log.gaps.push({ epoch: position.epoch, from: previous.offset + 1, to: null, reason: 'recovered:false (room behind the stream)', at, epochChange: false });
        } else {
          log.gaps.push({ epoch: previous.epoch, from: previous.offset + 1, to: null, reason: 'recovered:false (epoch changed)', at, epochChange: true });
          if (position.offset > 0) log.gaps.push({ epoch: position.epoch, from: 1, to: position.offset, reason: 'recovered:false (new epoch)', at, epochChange: true, sameEvent: true });
        }
        this.mark(`gap:${this.room} ${previous === undefined ? '?' : `${previous.epoch}:${previous.offset}`} -> ${position.epoch}:${position.offset}`);
      }
      this.current = position;
      this.firstOpen?.resolve();
      return;
    }
    // A publication.
    const epoch = data?.epoch;
    const offset = data?.offset;
    if (typeof epoch !== 'string' || typeof offset !== 'number') {
      this.errors.set('unparsable event', (this.errors.get('unparsable event') ?? 0) + 1);
      this.mark(`unparsable event ${event.event} ${event.data.slice(0, 120)}`);
      return;
    }
    const inner = data?.data as { k?: unknown } | null | undefined;
    const key = inner !== null && typeof inner === 'object' && typeof inner.k === 'string' ? inner.k : null;
    log.deliveries.push({ epoch, offset, key, at });
    this.current = { epoch, offset };
    this.firstOpen?.resolve();
  }

  private mark(event: string, node?: string): void {
    if (this.timeline.length >= MAX_TIMELINE) return;
    this.timeline.push({ at: this.options.now(), event, ...(node === undefined ? {} : { node }) });
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function toPosition(data: Record<string, unknown> | undefined): StreamTarget | undefined {
  return typeof data?.epoch === 'string' && typeof data.offset === 'number' ? { epoch: data.epoch, offset: data.offset } : undefined;
}
