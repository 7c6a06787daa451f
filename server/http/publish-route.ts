/**
 * POST /api/v1/publish: a backend publishes into one room or a batch of rooms.
 * 2xx means every room's publication is stored (and broadcast); any error
 * status means the failing room's was not; retry with the same idempotencyKey.
 */
import type { Request, Response } from 'express';
import { errorPayload, httpPublishBodySchema, DEFAULT_NAMESPACE, type PublishResult } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import type { Publisher } from '../delivery/publisher.js';
import { OutcomeUnknownError, RoomcastError, toErrorPayload } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { describeIssues } from '../realtime/register-handlers.js';
import { sendError } from './errors.js';

export function publishRoute(publisher: Publisher, namespaces: readonly NamespaceRules[], logger: Logger) {
  const declared = new Set(namespaces.map((rules) => rules.name));
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = httpPublishBodySchema.safeParse(req.body);
    if (!parsed.success) {
      sendError(res, errorPayload('INVALID_PAYLOAD', describeIssues(parsed.error.issues)), 400, { issues: parsed.error.issues.slice(0, 20) });
      return;
    }
    const body = parsed.data;
    const namespace = body.namespace ?? DEFAULT_NAMESPACE;
    if (!declared.has(namespace)) {
      sendError(res, errorPayload('INVALID_PAYLOAD', `namespace ${namespace} is not declared`));
      return;
    }
    const rooms = body.rooms ?? [body.room as string];
    const results: PublishResult[] = [];
    try {
      const dataJson = publisher.checkData(body.data);
      for (const room of new Set(rooms)) {
        const outcome = await publisher.publish({
          namespace,
          room,
          event: body.event,
          data: body.data,
          dataJson,
          source: 'http',
          ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
        });
        results.push({ room: outcome.room, offset: outcome.offset, epoch: outcome.epoch });
      }
    } catch (error) {
      if (error instanceof OutcomeUnknownError) {
        // The contract's "no answer": the publisher retries with the same idempotencyKey.
        logger.warn({ storedRooms: results.length, code: 'UNAVAILABLE' }, 'publish outcome unknown: closing the request without an answer');
        req.socket.destroy();
        return;
      }
      if (!(error instanceof RoomcastError)) logger.error({ err: error, code: 'INTERNAL' }, 'publish failed');
      // Rooms already stored are reported, so a retry with the idempotency key is understood.
      sendError(res, toErrorPayload(error), undefined, { results });
      return;
    }
    res.status(200).json({ ok: true, results });
  };
}
