/**
 * The one error the API client throws: the gateway's `{ code, message, retryable }`
 * plus what the HTTP exchange adds (the status, how many attempts were made, and
 * whether the outcome is unknown). Applications switch on `code` and never parse
 * `message`.
 */
import { ERROR_CATALOG, isErrorCode, type ErrorCode, type ErrorPayload } from '../shared/errors.js';

export interface RoomcastApiErrorDetails {
  /** The HTTP status of the last answer; 0 when the last attempt got no answer at all. */
  status: number;
  /** Requests made, the first one included. */
  attempts: number;
  /**
   * True when the last attempt got no answer (timeout, connection refused or cut): a
   * publication may have been stored. Retrying it with the same idempotency key is safe.
   */
  unknown?: boolean;
  /** The key(s) the publication(s) were sent with: publish again with them after an unknown outcome. */
  idempotencyKeys?: string[];
  cause?: unknown;
}

export class RoomcastApiError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  readonly attempts: number;
  readonly unknown: boolean;
  /** publish: its key; batch: one per publication, in order; other calls: empty. */
  readonly idempotencyKeys: readonly string[];

  constructor(error: ErrorPayload, details: RoomcastApiErrorDetails) {
    super(error.message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RoomcastApiError';
    this.code = error.code;
    this.retryable = error.retryable;
    this.status = details.status;
    this.attempts = details.attempts;
    this.unknown = details.unknown ?? false;
    this.idempotencyKeys = details.idempotencyKeys ?? [];
  }

  /** Narrows `error` to a RoomcastApiError, optionally of one code. */
  static is(error: unknown, code?: ErrorCode): error is RoomcastApiError {
    return error instanceof RoomcastApiError && (code === undefined || error.code === code);
  }
}

/** The catalog's wire form of `code`, with a more precise message. */
export function apiErrorPayload(code: ErrorCode, message?: string): ErrorPayload {
  return { code, message: message ?? ERROR_CATALOG[code].message, retryable: ERROR_CATALOG[code].retryable };
}

/**
 * The error in an error answer's body, or, when the body is not the gateway's shape (a proxy
 * in front of it answered, say), the code its status means.
 */
export function errorOfAnswer(status: number, body: unknown): ErrorPayload {
  const error = (body as { error?: unknown } | null)?.error as Partial<ErrorPayload> | undefined;
  if (error !== undefined && error !== null && isErrorCode(error.code)) {
    return {
      code: error.code,
      message: typeof error.message === 'string' ? error.message : ERROR_CATALOG[error.code].message,
      retryable: typeof error.retryable === 'boolean' ? error.retryable : ERROR_CATALOG[error.code].retryable,
    };
  }
  return apiErrorPayload(codeOfStatus(status), `the gateway answered HTTP ${status}`);
}

function codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'UNAUTHENTICATED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 502 || status === 503 || status === 504) return 'UNAVAILABLE';
  if (status >= 500) return 'INTERNAL';
  return 'INVALID_PAYLOAD';
}
