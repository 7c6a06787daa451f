/**
 * The one error type the SDK surfaces: every failure (a refused acknowledgement,
 * a refused handshake, a `protocol:error`, a timeout) becomes a RoomcastError
 * with a code from the shared catalog, so applications switch on `code` and
 * decide on retries with `retryable` instead of parsing messages.
 */
import { ERROR_CATALOG, isErrorPayload } from '../shared/index.js';
import type { ErrorCode, ErrorPayload } from '../shared/index.js';

export interface RoomcastErrorContext {
  /** The room the failed request was about, when there was one. */
  room?: string;
  /** The protocol event that failed, when known. */
  event?: string;
  cause?: unknown;
}

export class RoomcastError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly room: string | undefined;
  readonly event: string | undefined;

  constructor(payload: ErrorPayload, context: RoomcastErrorContext = {}) {
    super(payload.message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'RoomcastError';
    this.code = payload.code;
    this.retryable = payload.retryable;
    this.room = context.room;
    this.event = context.event;
  }

  /** An error raised by the SDK itself (not sent by the gateway), with the catalog's retryability. */
  static local(code: ErrorCode, message: string, context: RoomcastErrorContext = {}): RoomcastError {
    return new RoomcastError({ code, message, retryable: ERROR_CATALOG[code].retryable }, context);
  }

  /**
   * Normalises anything thrown around a request. A wire error keeps its code;
   * anything else (ack timeout, "socket has been disconnected") means the outcome
   * is unknown and the gateway may be reachable later, hence UNAVAILABLE.
   */
  static from(error: unknown, context: RoomcastErrorContext = {}): RoomcastError {
    if (error instanceof RoomcastError) return error;
    if (isErrorPayload(error)) return new RoomcastError(error, context);
    const message = error instanceof Error ? error.message : String(error);
    return RoomcastError.local('UNAVAILABLE', message, { ...context, cause: error });
  }
}
