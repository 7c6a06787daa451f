/**
 * The closed catalog of error codes that cross the wire, on sockets and over HTTP.
 * Nothing else is ever sent as an error: no stack, no internal message.
 * `retryable` tells a client whether the same request may succeed later unchanged
 * (or, for TOKEN_EXPIRED, with a fresh token).
 */
export const ERROR_CATALOG = {
  UNAUTHENTICATED: { retryable: false, message: 'A valid token is required' },
  TOKEN_EXPIRED: { retryable: true, message: 'The token has expired; connect again with a fresh one' },
  FORBIDDEN_ROOM: { retryable: false, message: 'The token does not allow this room' },
  INVALID_PAYLOAD: { retryable: false, message: 'The request does not match the protocol' },
  PAYLOAD_TOO_LARGE: { retryable: false, message: 'The payload is larger than the gateway accepts' },
  RATE_LIMITED: { retryable: true, message: 'Too many requests; slow down' },
  ROOM_FULL: { retryable: true, message: 'The room has reached its member limit' },
  TOO_MANY_ROOMS: { retryable: false, message: 'This connection has joined as many rooms as allowed' },
  PUBLISH_FORBIDDEN: { retryable: false, message: 'Publishing is not allowed here' },
  UNKNOWN_EVENT: { retryable: false, message: 'This event is not part of the protocol' },
  NOT_FOUND: { retryable: false, message: 'No such route or resource' },
  TOO_MANY_CONNECTIONS: { retryable: false, message: 'This user has as many connections as allowed' },
  SLOW_CONSUMER: { retryable: true, message: 'The connection did not read fast enough and was closed' },
  UNAVAILABLE: { retryable: true, message: 'The gateway cannot serve this now; retry later' },
  INTERNAL: { retryable: true, message: 'Internal error' },
} as const satisfies Record<string, { retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

/** The shape every error takes on the wire. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOG, value);
}

/** Builds the wire form of an error; `message` refines the catalog's text. */
export function errorPayload(code: ErrorCode, message?: string): ErrorPayload {
  const entry = ERROR_CATALOG[code];
  return { code, message: message ?? entry.message, retryable: entry.retryable };
}

/** True when `value` has the wire shape of an error (e.g. `connect_error.data`). */
export function isErrorPayload(value: unknown): value is ErrorPayload {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return isErrorCode(candidate.code) && typeof candidate.message === 'string' && typeof candidate.retryable === 'boolean';
}
