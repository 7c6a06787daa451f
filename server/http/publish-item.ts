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

export async function publishItem(publisher: Publisher, logger: Logger, item: ItemPublication): Promise<PublishItemResult> {
  const { room } = item;
  try {
    const outcome = await publisher.publish({ ...item, source: 'http' });
    return { room: outcome.room, offset: outcome.offset, epoch: outcome.epoch };
  } catch (error) {
    const payload = reportError(logger, error, { room }, 'publish failed');
    return error instanceof OutcomeUnknownError ? { room, error: payload, unknown: true } : { room, error: payload };
  }
}
