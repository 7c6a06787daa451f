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

/** Any thrown value as a wire error: ours keep their code, anything else becomes INTERNAL with no detail. */
export function toErrorPayload(error: unknown): ErrorPayload {
  return error instanceof RoomcastError ? error.toPayload() : errorPayload('INTERNAL');
}
