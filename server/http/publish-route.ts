/**
 * POST /api/v1/publish: a backend publishes into one room or several.
 *
 * One room (`room`): 2xx means stored (and broadcast); any error status means
 * not stored; no answer (the connection closed) means unknown: retry with the
 * same idempotencyKey.
 *
 * Several rooms (`rooms[]`): each room is stored or refused on its own, so the
 * answer is 200 with one item per room, `{ room, offset, epoch }` (stored),
 * `{ room, error }` (not stored) or `{ room, error: UNAVAILABLE, unknown: true }`
 * (may be stored: retry that room with the same idempotencyKey): publish-item.ts,
 * shared with POST /api/v1/batch. Only a request
 * malformed as a whole is a 4xx. (A single error status after some rooms were
 * stored would break "any error status means not stored".)
 */
import type { Request, Response } from 'express';
import {
  errorPayload,
  httpPublishBodySchema,
  DEFAULT_NAMESPACE,
  MAX_DATA_DEPTH,
  type HttpPublishResponse,
  type JsonValue,
  type PublishItemResult,
  type PublishResult,
} from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { jsonDepth, type Publisher } from '../core/publisher.js';
import { describeIssues, OutcomeUnknownError, toErrorPayload } from '../errors.js';
import { reportError } from '../ops/report-error.js';
import type { Logger } from '../ops/logger.js';
import { sendError } from '../ops/http-errors.js';
import { publishItem } from './publish-item.js';

/** The body object and its `data`: `data` itself may nest MAX_DATA_DEPTH levels. */
const MAX_BODY_DEPTH = MAX_DATA_DEPTH + 1;

export function publishRoute(publisher: Publisher, namespaces: readonly NamespaceRules[], logger: Logger) {
  const declared = new Set(namespaces.map((rules) => rules.name));
  return async (req: Request, res: Response): Promise<void> => {
    // Measured without recursion before zod walks it: a 5,000-deep body would exhaust zod's stack.
    if (jsonDepth(req.body as JsonValue, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      sendError(res, errorPayload('INVALID_PAYLOAD', `data may nest at most ${MAX_DATA_DEPTH} levels deep`));
      return;
    }
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
    let dataJson: string;
    try {
      dataJson = publisher.checkData(body.data);
    } catch (error) {
      sendError(res, toErrorPayload(error));
      return;
    }
    const input = (room: string) => ({
      namespace,
      room,
      event: body.event,
      data: body.data,
      dataJson,
      ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
    });

    if (body.rooms === undefined) {
      let result: PublishResult;
      try {
        const outcome = await publisher.publish({ ...input(body.room as string), source: 'http' });
        result = { room: outcome.room, offset: outcome.offset, epoch: outcome.epoch };
      } catch (error) {
        if (error instanceof OutcomeUnknownError) {
          // The contract's "no answer": the publisher retries with the same idempotencyKey.
          logger.warn({ code: 'UNAVAILABLE' }, 'publish outcome unknown: closing the request without an answer');
          req.socket.destroy();
          return;
        }
        sendError(res, reportError(logger, error, {}, 'publish failed'));
        return;
      }
      res.status(200).json({ ok: true, results: [result] } satisfies HttpPublishResponse);
      return;
    }

    const results: PublishItemResult[] = [];
    for (const room of new Set(body.rooms)) results.push(await publishItem(publisher, logger, input(room)));
    res.status(200).json({ ok: true, results } satisfies HttpPublishResponse);
  };
}
