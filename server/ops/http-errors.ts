/** Error codes as HTTP responses: the status for each code, and one JSON shape for all. */
import type { Response } from 'express';
import type { ErrorCode, ErrorPayload } from '../../shared/index.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN_ROOM: 403,
  INVALID_PAYLOAD: 400,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  ROOM_FULL: 409,
  TOO_MANY_ROOMS: 409,
  PUBLISH_FORBIDDEN: 403,
  UNKNOWN_EVENT: 404,
  NOT_FOUND: 404,
  TOO_MANY_CONNECTIONS: 429,
  SLOW_CONSUMER: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** Where the app counts the errors it answers (roomcast_errors_total): set on app.locals by createHttpApp. */
export const COUNT_ERROR = 'countError';

export function sendError(res: Response, error: ErrorPayload, status: number = HTTP_STATUS[error.code], extra: object = {}): void {
  const count = res.app.locals[COUNT_ERROR] as ((code: ErrorPayload['code']) => void) | undefined;
  count?.(error.code);
  res.status(status).json({ ok: false, error, ...extra });
}
