/**
 * GET /sse's request: the token (Authorization: Bearer or ?token=; none: a
 * cookie session for the connect proxy, when CONNECT_PROXY_URL is set), the room,
 * the namespace and the resume point (Last-Event-ID or ?lastEventId=), each
 * checked before anything is spent on the stream; and the `<epoch>:<offset>`
 * event ids the stream writes and reads back.
 */
import type { Request } from 'express';
import { DEFAULT_NAMESPACE, errorPayload, roomNameProblem, type ErrorPayload, type StreamPosition } from '../../../shared/index.js';
import type { Config } from '../../config/config.js';
import type { HandshakeCredentials } from '../../core/session.js';

const ID_PATTERN = /^(.{1,64}):(\d{1,15})$/;

export interface SseRequest {
  /** null: no token, a cookie session (only when a connect proxy is set). */
  token: string | null;
  namespace: string;
  room: string;
  since: StreamPosition | null;
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** Parses an SSE id, `<epoch>:<offset>`; null when it is not one. */
export function parseEventId(id: string): StreamPosition | null {
  const match = ID_PATTERN.exec(id.trim());
  if (match === null) return null;
  return { epoch: match[1] as string, offset: Number(match[2]) };
}

export function formatEventId(position: StreamPosition): string {
  return `${position.epoch}:${position.offset}`;
}

/**
 * The request's parameters, or the typed error (and its status) refusing it. `cookieSessions`: a connect proxy is
 * set, so a request without a token goes on (the proxy decides); otherwise it is refused here.
 */
export function parseRequest(req: Request, namespaces: Config['namespaces'], cookieSessions = false): SseRequest | { error: ErrorPayload; status: number } {
  const header = req.headers.authorization;
  const bearer = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  const given = bearer?.[1] ?? firstString(req.query.token);
  const token = given === undefined || given === '' ? null : given;
  if (token === null && !cookieSessions) {
    return { error: errorPayload('UNAUTHENTICATED', 'a token is required: Authorization: Bearer <token> or ?token='), status: 401 };
  }
  const room = firstString(req.query.room);
  const problem = roomNameProblem(room);
  if (room === undefined || problem !== null) return { error: errorPayload('INVALID_PAYLOAD', problem ?? 'room is required'), status: 400 };
  const namespace = firstString(req.query.namespace) ?? DEFAULT_NAMESPACE;
  if (!namespaces.some((rules) => rules.name === namespace)) {
    return { error: errorPayload('INVALID_PAYLOAD', `namespace ${namespace} is not declared`), status: 400 };
  }
  // The header is what EventSource sends on its own reconnections; the query is for a manual reconnect (a new EventSource).
  const headerId = firstString(req.headers['last-event-id']);
  const lastEventId = headerId !== undefined && headerId !== '' ? headerId : firstString(req.query.lastEventId);
  let since: StreamPosition | null = null;
  if (lastEventId !== undefined && lastEventId !== '') {
    since = parseEventId(lastEventId);
    if (since === null) return { error: errorPayload('INVALID_PAYLOAD', 'Last-Event-ID must be <epoch>:<offset>, an id this route sent'), status: 400 };
  }
  return { token, namespace, room, since };
}

/** What Sessions.authenticateHandshake needs of a stream's request: its token, or a cookie session's headers and address. */
export function streamCredentials(req: Request, token: string | null, ip: string): HandshakeCredentials {
  const { cookie, origin } = req.headers;
  const userAgent = req.headers['user-agent'];
  return {
    token,
    headers: { ...(cookie !== undefined ? { cookie } : {}), ...(userAgent !== undefined ? { 'user-agent': userAgent } : {}), ...(origin !== undefined ? { origin } : {}) },
    ip,
    transport: 'sse',
  };
}
