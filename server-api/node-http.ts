/**
 * What the webhook and proxy handlers share: reading the raw body of a Node
 * request (the signature covers the exact bytes, so they must be read before any
 * JSON parser touches them) and answering JSON. Express requests and responses
 * are Node's, so the same handlers serve both.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RoomcastSignatureError } from './verify.js';

/** A Node request, or an Express one that a body parser may have read already. */
export type RoomcastRequest = IncomingMessage & { body?: unknown; rawBody?: unknown };

/** `(req, res)` for http.createServer, `(req, res, next)` for Express (next is never called: the handler answers). */
export type RoomcastHandler = (req: RoomcastRequest, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>;

/** The default cap on a body read (1 MiB): the gateway's deliveries and proxy requests are far smaller. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

export type RawBody = { ok: true; body: Buffer } | { ok: false; status: 413 | 500; message: string };

export async function readRawBody(req: RoomcastRequest, maxBytes: number): Promise<RawBody> {
  // Mounted after express.raw() / express.text(), or behind a framework that keeps the raw bytes.
  for (const candidate of [req.rawBody, req.body]) {
    if (Buffer.isBuffer(candidate)) return capped(candidate, maxBytes);
    if (typeof candidate === 'string') return capped(Buffer.from(candidate, 'utf8'), maxBytes);
  }
  if (req.readableEnded) {
    return { ok: false, status: 500, message: 'the body was already read (by express.json()?): mount the Roomcast handler before any body parser, or after express.raw()' };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(maxBytes);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      // Stop reading without destroying the socket, so the 413 still reaches the sender (sendJson closes after it).
      req.off('data', onData);
      req.pause();
      resolve(tooLarge(maxBytes));
    };
    req.on('data', onData);
    req.once('end', () => resolve({ ok: true, body: Buffer.concat(chunks) }));
    req.once('error', (error) => resolve({ ok: false, status: 500, message: `the body could not be read: ${error.message}` }));
  });
}

function capped(body: Buffer, maxBytes: number): RawBody {
  return body.length > maxBytes ? tooLarge(maxBytes) : { ok: true, body };
}

function tooLarge(maxBytes: number): RawBody {
  return { ok: false, status: 413, message: `the body is larger than ${maxBytes} bytes` };
}

/** Answers JSON; `close` ends the connection too (after a body that was not read to its end). */
export function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}) });
  res.end(text);
}

/** The error answer, in the gateway's own shape. */
export function errorBody(code: string, message: string, retryable: boolean): { ok: false; error: { code: string; message: string; retryable: boolean } } {
  return { ok: false, error: { code, message, retryable } };
}

/** A request header as one string (repeated ones joined, as HTTP allows). */
export function header(req: RoomcastRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The secret option of the handlers: WEBHOOK_SECRET, or a non-empty list of them while rotating it. */
export function assertSecret(secret: unknown, who: string): void {
  const secrets = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? (secret as unknown[]) : [];
  if (secrets.length === 0 || secrets.some((one) => typeof one !== 'string' || one === '')) throw new TypeError(`${who}: secret is required (WEBHOOK_SECRET)`);
}

/**
 * The prelude of every signed request a handler answers (a webhook delivery, a proxy request): POST only, the raw
 * body within `maxBodyBytes`, then `verify` on it and its Roomcast-Signature header. `{ value }` (the verified body,
 * which may itself be JSON null), or null once the refusal is answered (405, 413, 401).
 */
export async function readSignedRequest<T>(
  req: RoomcastRequest,
  res: ServerResponse,
  options: { what: string; maxBodyBytes: number; verify: (body: Buffer, signature: string | undefined) => Promise<T> },
): Promise<{ value: T } | null> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    sendJson(res, 405, errorBody('INVALID_PAYLOAD', `${options.what} are POSTed`, false));
    return null;
  }
  const raw = await readRawBody(req, options.maxBodyBytes);
  if (!raw.ok) {
    sendJson(res, raw.status, errorBody(raw.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INTERNAL', raw.message, false), raw.status === 413);
    return null;
  }
  try {
    return { value: await options.verify(raw.body, header(req, 'roomcast-signature')) };
  } catch (error) {
    const message = error instanceof RoomcastSignatureError ? error.message : 'the signature could not be checked';
    sendJson(res, 401, errorBody('UNAUTHENTICATED', message, false));
    return null;
  }
}
