/**
 * One signed POST of JSON to a backend: what webhook deliveries and proxy
 * requests have in common. The body is serialised once, signed over exactly
 * those bytes (Roomcast-Signature, shared/signature.ts), and sent with Node's
 * fetch, whose global dispatcher keeps connections alive and pools them per
 * origin, so a busy gateway does not pay a TCP (or TLS) handshake per call.
 * A timeout aborts the request; the caller decides what a failure means.
 */
import { SIGNATURE_HEADER, signBody } from '../../shared/index.js';

export interface SignedPostOptions {
  url: URL;
  secret: string;
  body: unknown;
  timeoutMs: number;
  /** Extra headers (Roomcast-Webhook-Id). */
  headers?: Record<string, string>;
}

export type SignedPostOutcome =
  | { kind: 'answered'; status: number; body: unknown }
  /** No usable answer: a timeout, a refused or reset connection, or a 2xx whose body is not JSON. */
  | { kind: 'failed'; reason: string };

export async function signedPost({ url, secret, body, timeoutMs, headers = {} }: SignedPostOptions): Promise<SignedPostOutcome> {
  const raw = JSON.stringify(body);
  const signature = await signBody(secret, raw);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'roomcast', [SIGNATURE_HEADER]: signature, ...headers },
      body: raw,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const name = (error as { name?: string }).name;
    return { kind: 'failed', reason: name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `request failed: ${(error as Error).message}` };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { kind: 'failed', reason: `the answer was cut: ${(error as Error).message}` };
  }
  if (text === '') return { kind: 'answered', status: response.status, body: null };
  try {
    return { kind: 'answered', status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    if (response.status >= 200 && response.status < 300) return { kind: 'failed', reason: 'the answer is not JSON' };
    return { kind: 'answered', status: response.status, body: null };
  }
}
