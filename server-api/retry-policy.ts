/**
 * When the API client tries a request again, and after how long. Only what may
 * succeed unchanged later is retried: no answer at all (the publication may be
 * stored: the retry carries the same idempotency key, so it is stored once), a
 * gateway that cannot serve now (UNAVAILABLE, 5xx) and RATE_LIMITED. A refusal the
 * gateway marks non-retryable (a bad payload, a wrong key) is final at once.
 */
import type { ErrorPayload } from '../shared/errors.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0: none). */
  retries: number;
  /** The first retry waits about this long (default 200 ms), each next one twice as long... */
  baseDelayMs: number;
  /** ...up to this (default 5000 ms). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 3, baseDelayMs: 200, maxDelayMs: 5000 };

const RETRIED_CODES: ReadonlySet<ErrorPayload['code']> = new Set(['UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']);

/** Whether an error answer (`status`, `error`) may be tried again unchanged. */
export function isRetriedAnswer(status: number, error: ErrorPayload): boolean {
  if (!error.retryable) return false;
  return status >= 500 || RETRIED_CODES.has(error.code);
}

/**
 * The wait before retry number `retry` (1 for the first): exponential, with "equal jitter"
 * (half fixed, half random) so that publishers that failed together do not retry together,
 * and never shorter than the gateway's Retry-After when it sent one.
 */
export function retryDelayMs(retry: number, options: RetryOptions, retryAfterMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  const delay = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(Math.round(delay), retryAfterMs ?? 0);
}

/** Retry-After in milliseconds (seconds or an HTTP date), capped so that a hostile value cannot stall a caller. */
export function parseRetryAfter(header: string | null, capMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, capMs) : undefined;
}
