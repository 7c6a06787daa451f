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

/** Longest part of one issue echoed back: messages may quote attacker-chosen keys. */
const ISSUE_TEXT_MAX = 200;

/** A short, client-safe description of what failed validation. */
export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .map((text) => (text.length > ISSUE_TEXT_MAX ? `${text.slice(0, ISSUE_TEXT_MAX)}…` : text))
    .join('; ');
}
