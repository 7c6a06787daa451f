/**
 * GET /sse?room=...: Server-Sent Events of one room, for one-way consumers.
 *
 * Same auth and room policy as a socket's room:join: a connection token (JWT)
 * in `Authorization: Bearer` or `?token=` (EventSource cannot set headers), the
 * namespace from `?namespace=` (default `/`, declared ones only), the room
 * allowed by the token's `rooms` claim, the namespace's public rooms or the
 * user's personal room. Refusals before the stream starts are the usual typed
 * JSON errors (401, 403, 400, 429, 503).
 *
 * Ids are `<epoch>:<offset>`, so a Last-Event-ID names a position within an
 * epoch: after the room's history was lost (a new epoch) an old id cannot be
 * mistaken for a position in the new epoch, and the stream answers
 * `event: recovered` `{ recovered: false }` instead of resuming at the wrong
 * place. See docs/protocol.md, "Server-Sent Events".
 *
 * Delivery comes from RoomListeners, fed by the adapter (every broadcast this
 * node sees, local or from another node), not from the local publisher only.
 * Each stream writes one room's offsets once and in order: a duplicate (an
 * idempotent retry broadcast again, an offset already sent from history) is
 * dropped; an offset past the next one (another node's publication overtaking)
 * is preceded by the missing ones read from history, which holds every
 * broadcast offset (it is stored before it is broadcast).
 */
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { errorPayload, type Message, type StreamPosition } from '../../../shared/index.js';
import { mayJoinRoom } from '../../auth/room-policy.js';
import type { TokenVerifier, VerifiedToken } from '../../auth/token-verifier.js';
import type { Config } from '../../config/config.js';
import type { HistoryStore } from '../../core/history-store.js';
import type { RoomListeners } from '../../core/room-listeners.js';
import type { RoomWatermarks } from '../../core/room-watermarks.js';
import { RoomcastError, toErrorPayload } from '../../errors.js';
import type { Admission } from '../../ops/admission.js';
import type { ClientAddresses } from '../../ops/client-address.js';
import type { Logger } from '../../ops/logger.js';
import type { GatewayMetrics } from '../../ops/metrics.js';
import { HTTP_STATUS, sendError } from '../../http/errors.js';
import { formatEventId, parseRequest, type SseRequest } from './sse-request.js';
import type { SseStreams, StreamEnd } from './sse-streams.js';

/** Messages per history read when a stream resumes or fills a gap. */
export const SSE_HISTORY_PAGE = 100;
/** `retry:` sent when a stream starts (what EventSource waits before reconnecting after a dropped stream). */
export const SSE_DEFAULT_RETRY_MS = 3000;
// setTimeout cannot wait longer than 2^31-1 ms; a longer wait is re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A publication's event text, built once however many streams of the room write it (they get the same object). */
const eventTexts = new WeakMap<Message, string>();
function eventText(message: Message): string {
  let text = eventTexts.get(message);
  if (text === undefined) {
    text = `id: ${formatEventId(message)}\nevent: ${message.event}\ndata: ${JSON.stringify(message)}\n\n`;
    eventTexts.set(message, text);
  }
  return text;
}

export interface SseDeps {
  config: Config;
  logger: Logger;
  history: HistoryStore;
  listeners: RoomListeners;
  /** Resolves once publications of the room made on any node reach this one (see realtime/adapter-taps.ts). */
  whenReceiving(namespace: string, room: string): Promise<void>;
  /** The last position of each served room this node saw (Redis only): a stream's starting read counts. */
  watermarks?: RoomWatermarks;
  verifyToken: TokenVerifier;
  admission: Admission;
  metrics: GatewayMetrics;
  streams: SseStreams;
  /** The client address of a request (per-address limits). */
  addresses: ClientAddresses;
}

export function sseRoute(deps: SseDeps) {
  const { config, logger, verifyToken, admission } = deps;
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = parseRequest(req, config.namespaces);
    if ('error' in parsed) {
      sendError(res, parsed.error, parsed.status);
      return;
    }
    // Per client address first: an anonymous flood must not even reach the token check.
    const address = deps.addresses.of(req);
    const connection = admission.admitConnection(address);
    if (connection !== null) {
      res.setHeader('retry-after', '1');
      sendError(res, connection.error, connection.status);
      return;
    }
    let verified: VerifiedToken;
    try {
      verified = await verifyToken(parsed.token);
    } catch (error) {
      if (!(error instanceof RoomcastError)) logger.error({ err: error, code: 'INTERNAL' }, 'sse: token verification failed unexpectedly');
      sendError(res, toErrorPayload(error));
      return;
    }
    const rules = config.namespaces.find((candidate) => candidate.name === parsed.namespace);
    if (rules === undefined || !mayJoinRoom(verified.userId, verified.roomPatterns, rules.publicRooms, parsed.room)) {
      sendError(res, errorPayload('FORBIDDEN_ROOM', `not allowed to join ${parsed.room}`));
      return;
    }
    const user = admission.admitUser(verified.userId);
    if (user !== null) {
      res.setHeader('retry-after', '1');
      sendError(res, user, HTTP_STATUS[user.code]);
      return;
    }
    const capacity = admission.admitAuthenticated();
    if (capacity !== null) {
      admission.releaseUser(verified.userId);
      res.setHeader('retry-after', '1');
      sendError(res, capacity, HTTP_STATUS[capacity.code]);
      return;
    }
    if (req.socket.destroyed) {
      admission.releaseUser(verified.userId);
      admission.releaseAuthenticated();
      return;
    }
    admission.opened(address);
    const stream = new SseStream(deps, req, res, parsed, verified.userId, verified.expiresAt, address);
    stream.start();
  };
}

/** One open stream: its position in the room, its timers, its serial queue of writes. */
export class SseStream implements StreamEnd {
  private position: StreamPosition | null = null;
  /** Live publications and the start-up read run one after the other, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private expiryTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly deps: SseDeps,
    private readonly req: IncomingMessage,
    private readonly res: Response,
    private readonly request: SseRequest,
    private readonly userId: string,
    private readonly expiresAt: number | null,
    private readonly address: string,
  ) {}

  start(): void {
    const { res, req, deps } = this;
    deps.streams.add(this);
    res.on('close', () => this.cleanup());
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    // Proxies that honour it (NGINX does) pass each event on as it is written.
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    this.write(`retry: ${SSE_DEFAULT_RETRY_MS}\n\n`);

    // Listen before reading the position, so nothing published in between falls between them.
    this.unsubscribe = deps.listeners.add(this.request.namespace, this.request.room, (message) => this.enqueue(() => this.live(message)));
    this.enqueue(() => this.begin());
    this.timers.push(setInterval(() => this.write(': ka\n\n'), deps.config.sse.keepaliveMs));
    this.scheduleExpiry();
  }

  /** Ends the stream after writing `last` (drain, expiry) or nothing (close). */
  end(last?: string): void {
    if (this.closed) return;
    if (last !== undefined && !this.res.writableEnded) this.res.write(last);
    this.cleanup();
    if (!this.res.writableEnded) this.res.end();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const timer of this.timers) clearInterval(timer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.deps.streams.delete(this);
    this.deps.admission.releaseUser(this.userId);
    this.deps.admission.releaseAuthenticated();
    this.deps.admission.closed(this.address);
  }

  private scheduleExpiry(): void {
    const expiresAt = this.expiresAt;
    if (expiresAt === null || this.closed) return;
    const wait = Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      if (Date.now() < expiresAt) return this.scheduleExpiry();
      this.deps.metrics.error('TOKEN_EXPIRED');
      const error = errorPayload('TOKEN_EXPIRED', 'the token expired; open a new stream with a fresh token and ?lastEventId=');
      this.end(`event: protocol:error\ndata: ${JSON.stringify(error)}\n\n`);
    }, wait);
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.queue = this.queue
      .then(() => (this.closed ? undefined : task()))
      .catch((error: unknown) => {
        if (this.closed) return;
        const payload = toErrorPayload(error);
        if (!(error instanceof RoomcastError)) this.deps.logger.error({ err: error, code: payload.code }, 'sse stream failed');
        // The stream cannot vouch for its order any more: end it; EventSource comes back with Last-Event-ID.
        this.end(`event: protocol:error\ndata: ${JSON.stringify(payload)}\n\n`);
      });
  }

  /** Writes raw SSE text; a consumer too slow to take it (MAX_CLIENT_BUFFER_BYTES waiting) is cut off. */
  private write(text: string): boolean {
    if (this.closed || this.res.writableEnded) return false;
    const flushed = this.res.write(text);
    if (this.res.writableLength > this.deps.config.limits.maxClientBufferBytes) {
      this.deps.metrics.error('SLOW_CONSUMER');
      this.deps.logger.warn({ user: this.userId, room: this.request.room, code: 'SLOW_CONSUMER' }, 'sse stream closed: the consumer does not keep up');
      this.cleanup();
      this.res.destroy();
      return false;
    }
    return flushed;
  }

  private writeMessage(message: Message): void {
    this.write(eventText(message));
    this.position = { epoch: message.epoch, offset: message.offset };
  }

  /** A position the consumer can resume from, with no publication: `position` at start, `recovered` after a gap. */
  private writeControl(event: 'position' | 'recovered', position: StreamPosition, extra: object = {}): void {
    const { namespace, room } = this.request;
    this.write(`id: ${formatEventId(position)}\nevent: ${event}\ndata: ${JSON.stringify({ namespace, room, epoch: position.epoch, offset: position.offset, ...extra })}\n\n`);
    this.position = position;
  }

  private async begin(): Promise<void> {
    const { history } = this.deps;
    const { namespace, room, since } = this.request;
    // The position is read only once this node receives the room from every node (on Redis Cluster the
    // subscription is asynchronous): a publication in between would otherwise be above the position and never come.
    await this.deps.whenReceiving(namespace, room);
    if (since === null) {
      const position = await history.position(namespace, room);
      this.deps.watermarks?.note(namespace, room, position);
      this.writeControl('position', position);
      return;
    }
    this.position = since;
    const gaps = await this.catchUp(null);
    this.deps.metrics.namespace(namespace).rejoin(gaps === 0);
  }

  /**
   * Writes, from history, what follows the stream's position up to `target`
   * (the room's last offset when null), and returns how many gaps it had to
   * report. Each gap is an `event: recovered` `{ recovered: false }` whose id is
   * the position the stream goes on from:
   * - history no longer holds what follows (trimmed, expired): the gap ends just
   *   before the first offset it still holds, which follows;
   * - the room's history was lost (another epoch), or Redis lost writes this
   *   stream had already sent (same epoch, but the room is behind the stream's
   *   position): nothing after the position can be vouched for, so the stream
   *   starts the room again from offset 0 of its current epoch, as history holds it.
   * Epochs are opaque: only a history answer moves the stream to another one.
   */
  private async catchUp(target: number | null): Promise<number> {
    const { namespace, room } = this.request;
    let gaps = 0;
    let restarted = false;
    for (;;) {
      const from = this.position as StreamPosition;
      if (target !== null && from.offset >= target) return gaps;
      const limit = target === null ? SSE_HISTORY_PAGE : Math.min(SSE_HISTORY_PAGE, target - from.offset);
      const read = await this.deps.history.read(namespace, room, from, limit);
      if (this.closed) return gaps;
      if (read.epoch !== from.epoch || read.offset < from.offset) {
        // A live message's target belongs to the position given up: read the room to its end instead.
        this.position = { epoch: read.epoch, offset: 0 };
        target = null;
        restarted = true;
        continue;
      }
      const end = target ?? read.offset;
      if (!read.recovered || restarted) {
        // The gap ends just before the first offset history still holds (or at the end when it holds none).
        const first = read.messages[0]?.offset;
        const resumeAt = Math.max(Math.min(first === undefined ? end : first - 1, end), from.offset);
        gaps += 1;
        this.writeControl('recovered', { epoch: read.epoch, offset: resumeAt }, { recovered: false });
        restarted = false;
      }
      const position = this.position as StreamPosition;
      if (position.offset >= end) return gaps;
      for (const message of read.messages) if (message.offset > position.offset && message.offset <= end) this.writeMessage(message);
      if ((this.position as StreamPosition).offset === position.offset) {
        // Nothing new although the room is ahead: what is missing cannot be had; go on from the end.
        gaps += 1;
        this.writeControl('recovered', { epoch: read.epoch, offset: end }, { recovered: false });
        return gaps;
      }
      // A large catch-up waits for the consumer between pages rather than piling up in memory.
      if (this.res.writableNeedDrain) await new Promise<void>((resolve) => {
        const done = (): void => {
          this.res.off('drain', done);
          this.res.off('close', done);
          resolve();
        };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
      if (this.closed) return gaps;
    }
  }

  private async live(message: Message): Promise<void> {
    const position = this.position as StreamPosition;
    if (message.epoch !== position.epoch) {
      // Not this stream's epoch: a late message of an epoch already left behind, or the first sign of a new one.
      // Only history can tell; it holds every broadcast publication (stored before broadcast), this one included.
      await this.catchUp(null);
      return;
    }
    if (message.offset <= position.offset) return;
    if (message.offset > position.offset + 1) {
      await this.catchUp(message.offset - 1);
      if (this.closed) return;
      const caughtUp = this.position as StreamPosition;
      if (caughtUp.epoch !== message.epoch || message.offset <= caughtUp.offset) return;
    }
    this.writeMessage(message);
    this.deps.metrics.delivered(this.request.namespace, 1);
  }
}
