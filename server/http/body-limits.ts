/**
 * The largest request bodies the publish routes read, one rule for the Express
 * app and the lean listener (publish-fast-path.ts): larger is 413 PAYLOAD_TOO_LARGE.
 */

/** Room for the JSON envelope and a batch's room list around the largest allowed `data`. */
const BODY_OVERHEAD_BYTES = 64 * 1024;
/**
 * A POST /api/v1/batch body holds at most this many largest `data` (plus the envelope): 1 MiB by
 * default, room for a thousand small publications; a larger body is 413 PAYLOAD_TOO_LARGE (split it).
 */
const BATCH_BODY_PAYLOADS = 16;

/** POST /api/v1/publish (and the other JSON bodies of the API). */
export const publishBodyLimit = (maxPayloadBytes: number): number => maxPayloadBytes + BODY_OVERHEAD_BYTES;

/** POST /api/v1/batch. */
export const batchBodyLimit = (maxPayloadBytes: number): number => BATCH_BODY_PAYLOADS * maxPayloadBytes + BODY_OVERHEAD_BYTES;

/** The 400 INVALID_PAYLOAD message for a body that cannot be read as JSON. */
export const UNREADABLE_BODY = 'the request body could not be read as JSON (check its Content-Encoding and charset)';
