/**
 * POST /api/v1/users/:user/disconnect (body `{ code? }`, default
 * UNAUTHENTICATED): every connection and SSE stream of the user, on every
 * node, is told `protocol:error { code }` and closed.
 * POST /api/v1/users/:user/rooms/:room/leave?namespace= : the user leaves the
 * room on every node (each connection is told `room:left { room, reason: 'api' }`;
 * its SSE streams of that room are closed).
 *
 * Both answer once the command is sent to every node (core/user-commands.ts),
 * not once carried out: no node can hold the request. A token still valid lets
 * the client come back: narrow or revoke the grant too when it must stay out.
 */
import type { Request, Response } from 'express';
import {
  disconnectBodySchema,
  leaveQuerySchema,
  userParamsSchema,
  userRoomParamsSchema,
  type DisconnectResponse,
  type UserLeaveResponse,
} from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import type { UserCommands } from '../core/user-commands.js';
import { sendError } from '../ops/http-errors.js';
import type { Logger } from '../ops/logger.js';
import { reportError } from '../ops/report-error.js';
import { declaredNamespace, parseInput, queryOf } from './api-input.js';

export function disconnectRoute(users: UserCommands, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const params = parseInput(res, userParamsSchema, req.params, 'path');
    if (params === undefined) return;
    // No body (or an empty one) is the default.
    const body = parseInput(res, disconnectBodySchema, req.body ?? {}, 'body');
    if (body === undefined) return;
    const code = body.code ?? 'UNAUTHENTICATED';
    try {
      await users.disconnect(params.user, code);
      res.json({ ok: true, user: params.user, code } satisfies DisconnectResponse);
    } catch (error) {
      sendError(res, reportError(logger, error, { user: params.user }, 'user disconnect failed'));
    }
  };
}

export function leaveRoute(users: UserCommands, namespaces: readonly NamespaceRules[], logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const params = parseInput(res, userRoomParamsSchema, req.params, 'path');
    if (params === undefined) return;
    const query = parseInput(res, leaveQuerySchema, queryOf(req), 'query');
    if (query === undefined) return;
    const rules = declaredNamespace(res, namespaces, query.namespace);
    if (rules === undefined) return;
    try {
      await users.leave(params.user, rules.name, params.room);
      res.json({ ok: true, user: params.user, room: params.room, namespace: rules.name } satisfies UserLeaveResponse);
    } catch (error) {
      sendError(res, reportError(logger, error, { user: params.user, room: params.room }, 'user leave failed'));
    }
  };
}
