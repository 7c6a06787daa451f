/**
 * Routes each protocol event of a connection to its handler: the payload is
 * validated with the shared zod schema, the handler's result or typed error
 * goes back on the acknowledgement, and nothing thrown crosses the wire.
 */
import type { ZodType } from 'zod';
import {
  authRefreshRequestSchema,
  errorPayload,
  historyRequestSchema,
  joinRequestSchema,
  leaveRequestSchema,
  presenceListRequestSchema,
  publishRequestSchema,
  signalRequestSchema,
  type Ack,
  type ClientEventName,
} from '../../../shared/index.js';
import { describeIssues, OutcomeUnknownError } from '../../errors.js';
import { reportError } from '../../ops/report-error.js';
import type { NamespaceContext } from './context.js';
import { handleAuthRefresh } from './handlers/auth-refresh.js';
import { handleHistory } from './handlers/history.js';
import { handleJoin } from './handlers/join.js';
import { handleLeave } from './handlers/leave.js';
import { handlePresenceList } from './handlers/presence-list.js';
import { handlePublish } from './handlers/publish.js';
import { handleSignal } from './handlers/signal.js';
import { normalizeToJson } from './json-normalize.js';
import type { RoomcastSocket } from './types.js';
import { connectionState } from './connection-state.js';
import { admitPacket } from './request-guard.js';

type Handler<Request, Result> = (ctx: NamespaceContext, socket: RoomcastSocket, request: Request) => Promise<Result>;

interface Route {
  schema: ZodType<unknown>;
  handler: Handler<unknown, object>;
}

function route<Request, Result extends object>(schema: ZodType<Request>, handler: Handler<Request, Result>): Route {
  return { schema: schema as ZodType<unknown>, handler: handler as Handler<unknown, object> };
}

/** Each protocol event's payload schema and handler: one table for every connection. */
const ROUTES = new Map<string, Route>([
  ['room:join', route(joinRequestSchema, handleJoin)],
  ['room:leave', route(leaveRequestSchema, handleLeave)],
  ['room:publish', route(publishRequestSchema, handlePublish)],
  ['room:history', route(historyRequestSchema, handleHistory)],
  ['presence:list', route(presenceListRequestSchema, handlePresenceList)],
  ['room:signal', route(signalRequestSchema, handleSignal)],
  ['auth:refresh', route(authRefreshRequestSchema, handleAuthRefresh)],
] satisfies Array<[ClientEventName, Route]>);

/**
 * The connection's one Socket.IO middleware, bound to its socket (`dispatchPacket.bind(socket)`: Socket.IO calls
 * middleware without the socket): the request guard, then the event's handler, called directly. No listener per
 * event and connection: the packet never goes on to Socket.IO's event emitter (`next` is only for errors).
 */
export function dispatchPacket(this: RoomcastSocket, packet: unknown[], _next: (error?: Error) => void): void {
  const state = connectionState(this);
  if (!admitPacket(this, state, packet)) return;
  // The request guard has checked that the packet is [known event, payload, ack].
  const event = packet[0] as ClientEventName;
  void handle(state.ctx, this, event, ROUTES.get(event) as Route, packet[1], packet[2] as (response: Ack<object>) => void);
}

async function handle(ctx: NamespaceContext, socket: RoomcastSocket, event: ClientEventName, { schema, handler }: Route, payload: unknown, ack: (response: Ack<object>) => void): Promise<void> {
  let parsed;
  try {
    // msgpack carries undefined, Dates and NaN, which the JSON parser never delivers: bring them to JSON first.
    parsed = schema.safeParse(ctx.config.parser === 'msgpack' ? normalizeToJson(payload) : payload);
  } catch {
    // zod recurses into the payload; a pathologically deep one can exhaust the stack.
    ctx.metrics.error('INVALID_PAYLOAD');
    ack({ ok: false, error: errorPayload('INVALID_PAYLOAD', 'payload is nested too deeply') });
    return;
  }
  if (!parsed.success) {
    ctx.metrics.error('INVALID_PAYLOAD');
    ack({ ok: false, error: errorPayload('INVALID_PAYLOAD', describeIssues(parsed.error.issues)) });
    return;
  }
  try {
    const result = await handler(ctx, socket, parsed.data);
    ack({ ok: true, ...result });
    if (event === 'room:history' || event === 'room:join') ctx.checkOutgoingBuffer(socket);
  } catch (error) {
    // Unknown outcome: no ack at all, so the client's ack timeout says "unknown" and it retries with its key.
    if (error instanceof OutcomeUnknownError) return;
    const answer = reportError(ctx.logger, error, { event, conn: socket.id, user: socket.data.userId }, 'handler failed');
    ctx.metrics.error(answer.code);
    ack({ ok: false, error: answer });
  }
}
