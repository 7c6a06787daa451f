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
  httpPublishParsedBodySchema,
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
import { publishItems } from './publish-item.js';
import { errorAnswer, okAnswer, sendAnswer, type RouteAnswer } from './route-answer.js';

/** The body object and its `data`: `data` itself may nest MAX_DATA_DEPTH levels. */
const MAX_BODY_DEPTH = MAX_DATA_DEPTH + 1;

/** The route through Express (bodies the lean listener leaves to it: other encodings, charsets, chunked). */
export function publishRoute(publisher: Publisher, namespaces: readonly NamespaceRules[], logger: Logger) {
  const answer = publishAnswerer(publisher, namespaces, logger);
  return async (req: Request, res: Response): Promise<void> => sendAnswer(req, res, await answer(req.body));
}

/** The answer to a parsed body (publish-fast-path.ts and publishRoute send it). */
export function publishAnswerer(publisher: Publisher, namespaces: readonly NamespaceRules[], logger: Logger) {
  const declared = new Set(namespaces.map((rules) => rules.name));
  return async (raw: unknown): Promise<RouteAnswer> => {
    // Measured without recursion before zod walks it: a 5,000-deep body would exhaust zod's stack.
    if (jsonDepth(raw as JsonValue, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      return errorAnswer(errorPayload('INVALID_PAYLOAD', `data may nest at most ${MAX_DATA_DEPTH} levels deep`));
    }
    const parsed = httpPublishParsedBodySchema.safeParse(raw);
    if (!parsed.success) {
      return errorAnswer(errorPayload('INVALID_PAYLOAD', describeIssues(parsed.error.issues)), 400, { issues: parsed.error.issues.slice(0, 20) });
    }
    const body = parsed.data;
    const namespace = body.namespace ?? DEFAULT_NAMESPACE;
    if (!declared.has(namespace)) return errorAnswer(errorPayload('INVALID_PAYLOAD', `namespace ${namespace} is not declared`));
    let dataJson: string;
    try {
      dataJson = publisher.checkData(body.data);
    } catch (error) {
      return errorAnswer(toErrorPayload(error));
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
          return { kind: 'noAnswer' };
        }
        return errorAnswer(reportError(logger, error, {}, 'publish failed'));
      }
      return okAnswer({ ok: true, results: [result] } satisfies HttpPublishResponse);
    }

    const results: PublishItemResult[] = await publishItems(publisher, logger, [...new Set(body.rooms)].map(input));
    return okAnswer({ ok: true, results } satisfies HttpPublishResponse);
  };
}
