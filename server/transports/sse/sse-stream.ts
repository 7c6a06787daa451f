/**
 * GET /sse?room=...: Server-Sent Events of one room, for one-way consumers.
 *
 * This module only adapts HTTP to the core (as centrifuge's handler_sse.go
 * does): who may connect is the core's Session, what the stream carries and in
 * which order is the core's Subscription; here they become response headers,
 * SSE frames, a keep-alive comment and the end of the response.
 *
 * The request (see sse-request.ts): a connection token in `Authorization:
 * Bearer` or `?token=` (EventSource cannot set headers), the namespace from
 * `?namespace=` (default `/`, declared ones only), the room, and the resume
 * point. Refusals before the stream starts are the usual typed JSON errors
 * (401, 403, 400, 429, 503).
 *
 * Ids are `<epoch>:<offset>`, so a Last-Event-ID names a position within an
 * epoch: after the room's history was lost (a new epoch) an old id cannot be
 * mistaken for a position in the new epoch, and the stream answers
 * `event: recovered` `{ recovered: false }` instead of resuming at the wrong
 * place. See docs/protocol.md, "Server-Sent Events".
 *
 * A stream is a member of its room (Membership, like a socket): it is added
 * before the stream starts (a full room is refused ROOM_FULL) and removed with
 * reason `disconnect` when the response closes, so presence counts and
 * webhooks (member.joined/left, room.occupied/vacated) see SSE subscribers too.
 */
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { errorPayload, type Message, type StreamPosition } from '../../../shared/index.js';
import type { Config } from '../../config/config.js';
import type { VerifiedToken } from '../../auth/token-verifier.js';
import type { LocalMembership, Membership } from '../../core/membership.js';
import { grantAllows, Session, type Sessions } from '../../core/session.js';
import type { OrderedRoomStream, StreamSink } from '../../core/ordered-room-stream.js';
import type { Subscriptions } from '../../core/subscription.js';
import { reportError } from '../../ops/report-error.js';
import type { ClientAddresses } from '../../ops/client-address.js';
import type { Logger } from '../../ops/logger.js';
import type { GatewayMetrics } from '../../ops/metrics.js';
import { sendError } from '../../ops/http-errors.js';
import { formatEventId, parseRequest, streamCredentials, type SseRequest } from './sse-request.js';
import type { SseStreams, StreamEnd } from './sse-streams.js';

/** `retry:` sent when a stream starts (what EventSource waits before reconnecting after a dropped stream). */
export const SSE_DEFAULT_RETRY_MS = 3000;

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

function errorEvent(payload: object): string {
  return `event: protocol:error\ndata: ${JSON.stringify(payload)}\n\n`;
}

export interface SseDeps {
  config: Config;
  logger: Logger;
  sessions: Sessions;
  subscriptions: Subscriptions;
  metrics: GatewayMetrics;
  streams: SseStreams;
  /** The client address of a request (per-address limits). */
  addresses: ClientAddresses;
  /** Streams are members of their room. */
  membership: Membership;
  /** This node's streams as members (the liveness sweeper asks for them after a Redis outage). */
  memberships: SseMemberships;
}

/** The memberships of this node's open SSE streams, by connection id. */
export class SseMemberships {
  private readonly open = new Map<string, LocalMembership>();

  add(membership: LocalMembership): void {
    this.open.set(membership.member.connectionId, membership);
  }

  delete(connectionId: string): void {
    this.open.delete(connectionId);
  }

  list(): LocalMembership[] {
    return [...this.open.values()];
  }
}

export function sseRoute(deps: SseDeps) {
  const { config, logger, sessions } = deps;
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = parseRequest(req, config.namespaces, config.proxies.connectUrl !== null);
    if ('error' in parsed) {
      sendError(res, parsed.error, parsed.status);
      return;
    }
    // Per client address first: an anonymous flood must not even reach the token check.
    const address = deps.addresses.of(req);
    const refused = sessions.admitAddress(address);
    if (refused !== null) {
      res.setHeader('retry-after', '1');
      sendError(res, refused.error, refused.status);
      return;
    }
    let verified: VerifiedToken;
    try {
      verified = await sessions.authenticateHandshake(streamCredentials(req, parsed.token, address));
    } catch (error) {
      sendError(res, reportError(logger, error, {}, 'sse: token verification failed unexpectedly'));
      return;
    }
    const rules = config.namespaces.find((candidate) => candidate.name === parsed.namespace);
    // A room the grant does not cover is refused here, unless a join proxy is asked once the stream is admitted.
    if (rules === undefined || (!grantAllows(verified, rules, parsed.room) && config.proxies.joinUrl === null)) {
      sendError(res, errorPayload('FORBIDDEN_ROOM', `not allowed to join ${parsed.room}`));
      return;
    }
    const admitted = sessions.admit(verified);
    if (!(admitted instanceof Session)) {
      res.setHeader('retry-after', '1');
      sendError(res, admitted);
      return;
    }
    const session = admitted;
    const slot = sessions.claimSlot();
    if (slot !== null) {
      session.close();
      res.setHeader('retry-after', '1');
      sendError(res, slot);
      return;
    }
    if (req.socket.destroyed) {
      session.close();
      sessions.releaseSlot();
      return;
    }
    // A member of its room before the stream starts: a full room is still a JSON refusal, and a request
    // that went away during the add is taken out again by Membership (stillOpen).
    const member = { userId: session.userId, connectionId: `sse-${crypto.randomUUID()}`, nodeId: config.nodeId, joinedAt: Date.now() };
    try {
      // The grant, or JOIN_PROXY_URL for a room it does not cover (FORBIDDEN_ROOM, the backend's refusal, or UNAVAILABLE).
      await session.authorizeJoin(rules, parsed.room, member.connectionId);
      await deps.membership.add(parsed.namespace, parsed.room, member, () => !req.socket.destroyed);
    } catch (error) {
      session.close();
      sessions.releaseSlot();
      if (!req.socket.destroyed) sendError(res, reportError(logger, error, { room: parsed.room }, 'sse: joining the room failed'));
      return;
    }
    deps.memberships.add({ namespace: parsed.namespace, room: parsed.room, member });
    sessions.opened(address);
    new SseStream(deps, req, res, parsed, session, address, member.connectionId).start();
  };
}

/** One open stream: the HTTP response a core OrderedRoomStream writes into. */
export class SseStream implements StreamEnd, StreamSink {
  private closed = false;
  private keepalive: NodeJS.Timeout | null = null;
  private room: OrderedRoomStream | null = null;

  constructor(
    private readonly deps: SseDeps,
    private readonly req: IncomingMessage,
    private readonly res: Response,
    private readonly request: SseRequest,
    private readonly session: Session,
    private readonly address: string,
    /** Its connection id as a member of the room. */
    private readonly connectionId: string,
  ) {}

  start(): void {
    const { res, req, deps } = this;
    deps.streams.add(this, { user: this.session.userId, namespace: this.request.namespace, room: this.request.room });
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
    this.room = deps.subscriptions.stream(this.request.namespace, this.request.room, this.request.since, this);
    this.keepalive = setInterval(() => this.write(': ka\n\n'), deps.config.sse.keepaliveMs);
    this.session.watchExpiry(() =>
      this.end(errorEvent(errorPayload('TOKEN_EXPIRED', 'the token expired; open a new stream with a fresh token and ?lastEventId='))),
    );
  }

  /** Ends the stream after writing `last` (drain, expiry) or nothing (close). */
  end(last?: string): void {
    if (this.closed) return;
    if (last !== undefined && !this.res.writableEnded) this.res.write(last);
    this.cleanup();
    if (!this.res.writableEnded) this.res.end();
  }

  message(message: Message): void {
    this.write(eventText(message));
  }

  control(event: 'position' | 'recovered', position: StreamPosition, extra: { recovered: false } | undefined): void {
    const { namespace, room } = this.request;
    this.write(`id: ${formatEventId(position)}\nevent: ${event}\ndata: ${JSON.stringify({ namespace, room, epoch: position.epoch, offset: position.offset, ...extra })}\n\n`);
  }

  drained(): Promise<void> {
    if (!this.res.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  failed(error: unknown): void {
    if (this.closed) return;
    const payload = reportError(this.deps.logger, error, {}, 'sse stream failed');
    // The stream cannot vouch for its order any more: end it; EventSource comes back with Last-Event-ID.
    this.end(errorEvent(payload));
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.room?.close();
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.deps.streams.delete(this);
    this.session.close();
    this.deps.sessions.releaseSlot();
    this.deps.sessions.closed(this.address);
    this.deps.memberships.delete(this.connectionId);
    const { namespace, room } = this.request;
    this.deps.membership
      .remove(namespace, room, this.connectionId, 'disconnect')
      .catch((error: unknown) => this.deps.logger.warn({ err: error, conn: this.connectionId }, 'presence removal failed'));
  }

  /** Writes raw SSE text; a consumer too slow to take it (MAX_CLIENT_BUFFER_BYTES waiting) is cut off. */
  private write(text: string): boolean {
    if (this.closed || this.res.writableEnded) return false;
    const flushed = this.res.write(text);
    if (this.res.writableLength > this.deps.config.limits.maxClientBufferBytes) {
      this.deps.metrics.error('SLOW_CONSUMER');
      this.deps.logger.warn({ user: this.session.userId, room: this.request.room, code: 'SLOW_CONSUMER' }, 'sse stream closed: the consumer does not keep up');
      this.cleanup();
      this.res.destroy();
      return false;
    }
    return flushed;
  }
}
