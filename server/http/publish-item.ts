/**
 * One item of a multi-item publish (a room of POST /api/v1/publish with
 * `rooms[]`, a publication of POST /api/v1/batch): stored or refused on its
 * own, never thrown, so the route answers 200 with one result per item. The
 * rule lives here once: stored -> `{ room, offset, epoch }`; refused ->
 * `{ room, error }` (not stored); outcome unknown (the store may have written
 * it) -> `{ room, error: UNAVAILABLE, unknown: true }`: retry that item with
 * the same idempotencyKey.
 */
import type { JsonValue, PublishItemResult } from '../../shared/index.js';
import type { Publisher } from '../core/publisher.js';
import { OutcomeUnknownError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { reportError } from '../ops/report-error.js';

export interface ItemPublication {
  namespace: string;
  room: string;
  event: string;
  data: JsonValue;
  /** `data` as Publisher.checkData returned it (checked once however many rooms share it). */
  dataJson: string;
  idempotencyKey?: string;
}

/**
 * The items published with one store call (Publisher.publishMany: one Redis script call on a single
 * Redis), results[i] answering items[i]. Items of one room are stored in the order given.
 */
export async function publishItems(publisher: Publisher, logger: Logger, items: readonly ItemPublication[]): Promise<PublishItemResult[]> {
  const answers = await publisher.publishMany(items.map((item) => ({ ...item, source: 'http' as const })));
  return answers.map((answer, index): PublishItemResult => {
    const { room } = items[index] as ItemPublication;
    if (answer.ok) return { room: answer.outcome.room, offset: answer.outcome.offset, epoch: answer.outcome.epoch };
    const payload = reportError(logger, answer.error, { room }, 'publish failed');
    return answer.error instanceof OutcomeUnknownError ? { room, error: payload, unknown: true } : { room, error: payload };
  });
}
