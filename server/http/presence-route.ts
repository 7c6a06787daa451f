/**
 * GET /api/v1/rooms/:room/presence?namespace=/ : the members of a room on every
 * node, for backends (namespaces with presence on: the list names users).
 * `?counts=1`: only the counts, `{ members, users }` (members = connections, as
 * in GET /api/v1/rooms; users = distinct users), in any declared namespace.
 */
import type { Request, Response } from 'express';
import { errorPayload, presenceQuerySchema, roomParamsSchema, type PresenceCountsResponse, type PresenceListResponse } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { toErrorPayload } from '../errors.js';
import type { Membership } from '../core/membership.js';
import { sendError } from '../ops/http-errors.js';
import { declaredNamespace, parseInput, queryOf } from './api-input.js';

export function presenceRoute(membership: Membership, namespaces: readonly NamespaceRules[]) {
  return async (req: Request, res: Response): Promise<void> => {
    const params = parseInput(res, roomParamsSchema, req.params, 'path');
    if (params === undefined) return;
    const query = parseInput(res, presenceQuerySchema, queryOf(req), 'query');
    if (query === undefined) return;
    const rules = declaredNamespace(res, namespaces, query.namespace);
    if (rules === undefined) return;
    const counts = query.counts === '1';
    if (!counts && !rules.presence) {
      sendError(res, errorPayload('INVALID_PAYLOAD', `namespace ${rules.name} has presence off: ask for ?counts=1`));
      return;
    }
    const { room } = params;
    try {
      const members = await membership.list(rules.name, room);
      if (counts) {
        const users = new Set(members.map((member) => member.userId)).size;
        res.json({ ok: true, room, namespace: rules.name, members: members.length, users } satisfies PresenceCountsResponse);
      } else {
        res.json({ ok: true, room, namespace: rules.name, members } satisfies PresenceListResponse);
      }
    } catch (error) {
      sendError(res, toErrorPayload(error));
    }
  };
}
