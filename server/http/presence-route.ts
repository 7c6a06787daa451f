/** GET /api/v1/rooms/:room/presence?namespace=/ : the members of a room, for backends. */
import type { Request, Response } from 'express';
import { DEFAULT_NAMESPACE, errorPayload, roomNameProblem } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { toErrorPayload } from '../errors.js';
import type { Membership } from '../core/membership.js';
import { sendError } from '../ops/http-errors.js';

export function presenceRoute(membership: Membership, namespaces: readonly NamespaceRules[]) {
  return async (req: Request, res: Response): Promise<void> => {
    const room = req.params.room;
    const problem = roomNameProblem(room);
    if (problem !== null) {
      sendError(res, errorPayload('INVALID_PAYLOAD', problem));
      return;
    }
    const namespace = typeof req.query.namespace === 'string' ? req.query.namespace : DEFAULT_NAMESPACE;
    const rules = namespaces.find((candidate) => candidate.name === namespace);
    if (rules === undefined || !rules.presence) {
      sendError(res, errorPayload('INVALID_PAYLOAD', `namespace ${namespace} is not declared or has presence off`));
      return;
    }
    try {
      res.json({ ok: true, room, namespace, members: await membership.list(namespace, room as string) });
    } catch (error) {
      sendError(res, toErrorPayload(error));
    }
  };
}
