/**
 * Binds each protocol event of a connection to its handler: the payload is
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

type Handler<Request, Result> = (ctx: NamespaceContext, socket: RoomcastSocket, request: Request) => Promise<Result>;

function bind<Request, Result extends object>(
  ctx: NamespaceContext,
  socket: RoomcastSocket,
  event: ClientEventName,
  schema: ZodType<Request>,
  handler: Handler<Request, Result>,
): void {
  // The request guard has already checked that the packet is [event, payload, ack].
  const msgpack = ctx.config.parser === 'msgpack';
  const listener = async (payload: unknown, ack: (response: Ack<Result>) => void): Promise<void> => {
    let parsed;
    try {
      // msgpack carries undefined, Dates and NaN, which the JSON parser never delivers: bring them to JSON first.
      parsed = schema.safeParse(msgpack ? normalizeToJson(payload) : payload);
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
      const payload = reportError(ctx.logger, error, { event, conn: socket.id, user: socket.data.userId }, 'handler failed');
      ctx.metrics.error(payload.code);
      ack({ ok: false, error: payload });
    }
  };
  (socket.on as (event: string, listener: (...args: never[]) => void) => void)(event, listener);
}

export function registerHandlers(ctx: NamespaceContext, socket: RoomcastSocket): void {
  bind(ctx, socket, 'room:join', joinRequestSchema, handleJoin);
  bind(ctx, socket, 'room:leave', leaveRequestSchema, handleLeave);
  bind(ctx, socket, 'room:publish', publishRequestSchema, handlePublish);
  bind(ctx, socket, 'room:history', historyRequestSchema, handleHistory);
  bind(ctx, socket, 'presence:list', presenceListRequestSchema, handlePresenceList);
  bind(ctx, socket, 'room:signal', signalRequestSchema, handleSignal);
  bind(ctx, socket, 'auth:refresh', authRefreshRequestSchema, handleAuthRefresh);
}
