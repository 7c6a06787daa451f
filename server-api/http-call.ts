/**
 * One attempt of one API request: fetch with a timeout, and the answer sorted
 * into what the retry loop needs (success body, an error answer, or no answer).
 * Node's fetch pools keep-alive connections per origin, so a busy publisher does
 * not pay a handshake per call.
 */
import { errorOfAnswer } from './errors.js';
import type { ErrorPayload } from '../shared/errors.js';

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** Path and query, e.g. `/api/v1/rooms?prefix=a`. */
  path: string;
  body?: unknown;
}

export type HttpAttempt =
  | { kind: 'ok'; status: number; body: Record<string, unknown> }
  | { kind: 'refused'; status: number; error: ErrorPayload; retryAfter: string | null }
  /** No usable answer: a timeout, a refused or cut connection, or a 2xx that is not the gateway's JSON. */
  | { kind: 'no-answer'; reason: string; cause: unknown };

export async function attempt(baseUrl: string, apiKey: string, timeoutMs: number, request: HttpRequest): Promise<HttpAttempt> {
  let response: Response;
  try {
    response = await fetch(new URL(request.path, baseUrl), {
      method: request.method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        accept: 'application/json',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const timedOut = (error as { name?: string }).name === 'TimeoutError';
    return { kind: 'no-answer', reason: timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${describe(error)}`, cause: error };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { kind: 'no-answer', reason: `the answer was cut: ${describe(error)}`, cause: error };
  }
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  const isObject = typeof body === 'object' && body !== null;
  if (response.ok && isObject && (body as { ok?: unknown }).ok === true) {
    return { kind: 'ok', status: response.status, body: body as Record<string, unknown> };
  }
  if (response.ok && !isObject) return { kind: 'no-answer', reason: `HTTP ${response.status} without the gateway's JSON answer`, cause: undefined };
  return { kind: 'refused', status: response.status, error: errorOfAnswer(response.status, body), retryAfter: response.headers.get('retry-after') };
}

/** fetch hides the socket error in `cause` (ECONNREFUSED, ECONNRESET, ...). */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
