/**
 * POST /api/v1/batch { publications: [{ namespace?, room, event, data, idempotencyKey? }] }:
 * up to BATCH_MAX_PUBLICATIONS publications, each into its own room and
 * namespace. Only a body malformed as a whole (not an object, no array, empty,
 * too many) is a 400; each item, an invalid one too, is checked and stored or
 * refused on its own, and results[i] answers publications[i] (publish-item.ts:
 * stored, refused, or unknown).
 *
 * The valid items are published with one store call (publish-item.ts
 * publishItems -> Publisher.publishMany -> HistoryStore.appendMany: one Redis
 * script call on a single Redis, one per hash slot on a Cluster), in the
 * batch's order, so each room's offsets follow it.
 */
import type { Request, Response } from 'express';
import {
  batchEnvelopeSchema,
  batchPublicationParsedSchema,
  errorPayload,
  MAX_DATA_DEPTH,
  type BatchResponse,
  type JsonValue,
  type PublishItemResult,
} from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { jsonDepth, type Publisher } from '../core/publisher.js';
import { describeIssues, toErrorPayload } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { checkInput } from './api-input.js';
import { publishItems, type ItemPublication } from './publish-item.js';
import { okAnswer, sendAnswer, type RouteAnswer } from './route-answer.js';

/** An item object and its `data`: `data` itself may nest MAX_DATA_DEPTH levels. */
const MAX_ITEM_DEPTH = MAX_DATA_DEPTH + 1;

/** The route through Express (bodies the lean listener leaves to it: other encodings, charsets, chunked). */
export function batchRoute(publisher: Publisher, namespaces: readonly NamespaceRules[], logger: Logger) {
  const answer = batchAnswerer(publisher, namespaces, logger);
  return async (req: Request, res: Response): Promise<void> => sendAnswer(req, res, await answer(req.body));
}

/** The answer to a parsed body (publish-fast-path.ts and batchRoute send it). */
export function batchAnswerer(publisher: Publisher, namespaces: readonly NamespaceRules[], logger: Logger) {
  const declared = new Set(namespaces.map((rules) => rules.name));

  /** An item ready to publish, or its refusal. */
  const check = (raw: unknown, index: number): ItemPublication | PublishItemResult => {
    const room = typeof raw === 'object' && raw !== null && typeof (raw as { room?: unknown }).room === 'string' ? (raw as { room: string }).room : '';
    const refuse = (message: string): PublishItemResult => ({ room, error: errorPayload('INVALID_PAYLOAD', `publications[${index}]: ${message}`) });
    // Measured without recursion before zod walks it: a 5,000-deep item would exhaust zod's stack.
    if (jsonDepth(raw as JsonValue, MAX_ITEM_DEPTH) > MAX_ITEM_DEPTH) return refuse(`data may nest at most ${MAX_DATA_DEPTH} levels deep`);
    const parsed = batchPublicationParsedSchema.safeParse(raw);
    if (!parsed.success) return refuse(describeIssues(parsed.error.issues));
    const item = parsed.data;
    const namespace = item.namespace ?? '/';
    if (!declared.has(namespace)) return refuse(`namespace ${namespace} is not declared`);
    let dataJson: string;
    try {
      dataJson = publisher.checkData(item.data);
    } catch (error) {
      return { room, error: toErrorPayload(error) };
    }
    return {
      namespace,
      room: item.room,
      event: item.event,
      data: item.data,
      dataJson,
      ...(item.idempotencyKey !== undefined ? { idempotencyKey: item.idempotencyKey } : {}),
    };
  };

  return async (raw: unknown): Promise<RouteAnswer> => {
    const envelope = checkInput(batchEnvelopeSchema, raw, 'body');
    if (!('data' in envelope)) return envelope.answer;
    const body = envelope.data;
    const results: PublishItemResult[] = new Array<PublishItemResult>(body.publications.length);
    const valid: ItemPublication[] = [];
    const validIndex: number[] = [];
    body.publications.forEach((raw, index) => {
      const checked = check(raw, index);
      if (!('namespace' in checked)) {
        results[index] = checked;
        return;
      }
      valid.push(checked);
      validIndex.push(index);
    });
    if (valid.length > 0) {
      const published = await publishItems(publisher, logger, valid);
      published.forEach((result, i) => {
        results[validIndex[i] as number] = result;
      });
    }
    return okAnswer({ ok: true, results } satisfies BatchResponse);
  };
}
