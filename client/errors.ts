/**
 * The one error type the SDK surfaces: every failure (a refused acknowledgement,
 * a refused handshake, a `protocol:error`, a timeout, an outbox entry that could
 * not be sent) becomes a RoomcastError with a code from the shared catalog (or
 * one of the SDK's own outbox codes), so applications switch on `code` and
 * decide on retries with `retryable` instead of parsing messages.
 *
 * `RoomcastError<C>` is typed per code: `RoomcastError.is(error, 'RATE_LIMITED')`
 * narrows `error.code` to that literal.
 */
import { ERROR_CATALOG, isErrorPayload } from '../shared/errors.js';
import type { ErrorCode, ErrorPayload } from '../shared/errors.js';

/**
 * Codes raised by the SDK itself, never sent by the gateway:
 * - OUTBOX_FULL: a publication made while offline did not fit in the outbox (`outbox.maxEntries`);
 * - OUTBOX_EXPIRED: an outbox entry was never sent within `outbox.ttlMs`.
 * Neither was stored by the gateway: publish again (with a new idempotency key) if it still matters.
 * (An entry that was sent but never answered is not OUTBOX_EXPIRED: it fails with UNAVAILABLE, `unknown`.)
 */
export const CLIENT_ERROR_CATALOG = {
  OUTBOX_FULL: { retryable: true, message: 'The outbox is full: the publication was not queued' },
  OUTBOX_EXPIRED: { retryable: true, message: 'The publication waited in the outbox longer than its TTL and was not sent' },
} as const satisfies Record<string, { retryable: boolean; message: string }>;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CATALOG;

/** Every code a RoomcastError may carry: the wire catalog's and the SDK's own. */
export type RoomcastErrorCode = ErrorCode | ClientErrorCode;

/** Whether each code may succeed later unchanged (TOKEN_EXPIRED: with a fresh token). */
export function isRetryableCode(code: RoomcastErrorCode): boolean {
  return code in CLIENT_ERROR_CATALOG ? CLIENT_ERROR_CATALOG[code as ClientErrorCode].retryable : ERROR_CATALOG[code as ErrorCode].retryable;
}

function catalogMessage(code: RoomcastErrorCode): string {
  return code in CLIENT_ERROR_CATALOG ? CLIENT_ERROR_CATALOG[code as ClientErrorCode].message : ERROR_CATALOG[code as ErrorCode].message;
}

export interface RoomcastErrorContext {
  /** The room the failed request was about, when there was one. */
  room?: string;
  /** The protocol event that failed, when known. */
  event?: string;
  cause?: unknown;
  /** The request got no answer: it may have taken effect (see RoomcastError.unknown). */
  unknown?: boolean;
  /** The idempotency key of the publication concerned, when it had one. */
  idempotencyKey?: string;
}

export class RoomcastError<C extends RoomcastErrorCode = RoomcastErrorCode> extends Error {
  readonly code: C;
  readonly retryable: boolean;
  readonly room: string | undefined;
  readonly event: string | undefined;
  /**
   * True when the request got no answer (ack timeout, connection lost): its outcome is unknown.
   * A publication may have been stored: retry it with the same `idempotencyKey` (the gateway
   * stores it once and answers with the original offset), never with a new one.
   * False when the gateway answered with this error (a publication refused is not stored).
   */
  readonly unknown: boolean;
  /** The idempotency key of the publication this error is about, when it had one: the key to retry with. */
  readonly idempotencyKey: string | undefined;

  constructor(payload: { code: C; message: string; retryable: boolean }, context: RoomcastErrorContext = {}) {
    super(payload.message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'RoomcastError';
    this.code = payload.code;
    this.retryable = payload.retryable;
    this.room = context.room;
    this.event = context.event;
    this.unknown = context.unknown ?? false;
    this.idempotencyKey = context.idempotencyKey;
  }

  /** True when `error` is a RoomcastError (of `code`, when given), narrowing its type. */
  static is<C extends RoomcastErrorCode>(error: unknown, code?: C): error is RoomcastError<C> {
    return error instanceof RoomcastError && (code === undefined || error.code === code);
  }

  /** An error raised by the SDK itself (not sent by the gateway), with the catalog's retryability. */
  static local<C extends RoomcastErrorCode>(code: C, message: string = catalogMessage(code), context: RoomcastErrorContext = {}): RoomcastError<C> {
    return new RoomcastError({ code, message, retryable: isRetryableCode(code) }, context);
  }

  /**
   * Normalises anything thrown around a request. A wire error keeps its code;
   * anything else (ack timeout, "socket has been disconnected") means the gateway
   * may be reachable later, hence UNAVAILABLE (the caller that knows the request
   * went unanswered says so with `context.unknown`).
   */
  static from(error: unknown, context: RoomcastErrorContext = {}): RoomcastError {
    if (error instanceof RoomcastError) return error;
    if (isErrorPayload(error)) return new RoomcastError<ErrorCode>(error satisfies ErrorPayload, context);
    const message = error instanceof Error ? error.message : String(error);
    return RoomcastError.local('UNAVAILABLE', message, { ...context, cause: error });
  }
}

/** What every call on a closed client fails with (UNAVAILABLE: a new client can connect). */
export function clientClosedError(room?: string): RoomcastError {
  return RoomcastError.local('UNAVAILABLE', 'the client is closed', room === undefined ? {} : { room });
}
