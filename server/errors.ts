/** The server-side error: thrown inside the gateway, turned into an ErrorPayload at the edge. */
import { errorPayload, type ErrorCode, type ErrorPayload } from '../shared/index.js';

export class RoomcastError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message?: string) {
    const payload = errorPayload(code, message);
    super(payload.message);
    this.name = 'RoomcastError';
    this.code = code;
    this.retryable = payload.retryable;
  }

  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/**
 * A store call whose outcome cannot be known (the command reached Redis, the
 * answer did not come back, and Redis did not come back in time to ask again).
 * It must not be answered as "not stored": the HTTP API closes the connection
 * without an answer and a socket request gets no ack, which the contract calls
 * "unknown: retry with the same idempotencyKey".
 */
export class OutcomeUnknownError extends RoomcastError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
    this.name = 'OutcomeUnknownError';
  }
}

/** Any thrown value as a wire error: ours keep their code, anything else becomes INTERNAL with no detail. */
export function toErrorPayload(error: unknown): ErrorPayload {
  return error instanceof RoomcastError ? error.toPayload() : errorPayload('INTERNAL');
}
