/**
 * One signed POST of JSON to a backend: what webhook deliveries and proxy
 * requests have in common. The body is serialised once, signed over exactly
 * those bytes (Roomcast-Signature, shared/signature.ts), and sent with
 * node:http(s) through keep-alive agents that pool connections per origin, so a
 * busy gateway does not pay a TCP (or TLS) handshake per call. (Node's fetch did
 * the same with about 0.7 ms more CPU per call, measured: a publish proxy pays
 * it on every client publication; see bench/scenarios/proxy-overhead.ts.)
 * A timeout (the whole exchange, answer read included) aborts the request; the
 * caller decides what a failure means.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
  /** The backend answered: its status, and its body parsed as JSON (null when empty, undefined when not JSON). */
  | { kind: 'answered'; status: number; body: unknown }
  /** No answer: a timeout, a refused or reset connection, an answer cut short. */
  | { kind: 'failed'; reason: string };

// One pool per process and protocol: every backend origin gets its own kept-alive connections in it.
const httpAgent = new HttpAgent({ keepAlive: true, scheduling: 'lifo' });
const httpsAgent = new HttpsAgent({ keepAlive: true, scheduling: 'lifo' });

export async function signedPost({ url, secret, body, timeoutMs, headers = {} }: SignedPostOptions): Promise<SignedPostOutcome> {
  const raw = JSON.stringify(body);
  const signature = await signBody(secret, raw);
  const https = url.protocol === 'https:';
  return new Promise<SignedPostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: SignedPostOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        agent: https ? httpsAgent : httpAgent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(raw),
          'user-agent': 'roomcast',
          [SIGNATURE_HEADER]: signature,
          ...headers,
        },
      },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => finish({ kind: 'failed', reason: `the answer was cut: ${error.message}` }));
        response.on('aborted', () => finish({ kind: 'failed', reason: 'the answer was cut' }));
        response.on('end', () => finish(interpret(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      },
    );
    const timer = setTimeout(() => {
      finish({ kind: 'failed', reason: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error) => finish({ kind: 'failed', reason: `request failed: ${error.message}` }));
    req.end(raw);
  });
}

/** What the caller needs of an answer: a webhook receiver owes no body; a proxy's answer is checked against its schema. */
function interpret(status: number, text: string): SignedPostOutcome {
  if (text === '') return { kind: 'answered', status, body: null };
  try {
    return { kind: 'answered', status, body: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'answered', status, body: undefined };
  }
}
