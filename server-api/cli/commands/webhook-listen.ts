/**
 * `roomcast webhook listen`: an HTTP server that verifies every request as a signed
 * webhook delivery and prints it with the verdict, one JSON line each: 200 when it
 * passes, 401 (or 400, 413) otherwise. For trying WEBHOOK_URL out and for
 * debugging a receiver's secret.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MAX_BODY_BYTES, errorBody, header, readRawBody, sendJson } from '../../node-http.js';
import { RoomcastSignatureError, verifyWebhook } from '../../verify.js';
import { EXIT, integerFlag, json, parseFlags, UsageError, type CliIo } from '../cli-io.js';

export const WEBHOOK_HELP = `Usage: roomcast webhook listen [--port N] [--host HOST] [--secret SECRET]

Listens for the gateway's webhook deliveries (point WEBHOOK_URL at it), verifies
each one's Roomcast-Signature and prints one JSON line per request:
  { "verdict": "valid", "status": 200, "id": ..., "delivery": {...} }
  { "verdict": "invalid", "status": 401, "reason": "mismatch", "message": ..., "body": "..." }
The first line is { "listening": "http://HOST:PORT" }. Ends on SIGINT / SIGTERM.

  --port N            default 0: any free port (printed)
  --host HOST         default 127.0.0.1
  --secret SECRET     the gateway's WEBHOOK_SECRET (default $WEBHOOK_SECRET); repeat while rotating`;

/** How much of a refused body is printed. */
const PRINTED_BODY_CHARS = 2000;

export async function webhookCommand(argv: string[], io: CliIo, stop: Promise<unknown>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    io.out(WEBHOOK_HELP);
    return EXIT.ok;
  }
  if (sub === undefined) throw new UsageError('give a webhook command: listen');
  if (sub !== 'listen') throw new UsageError(`unknown webhook command: ${sub} (try: roomcast webhook listen)`);
  const { values } = parseFlags(rest, { port: { type: 'string' }, host: { type: 'string' }, secret: { type: 'string', multiple: true } });
  if (values.help === true) {
    io.out(WEBHOOK_HELP);
    return EXIT.ok;
  }
  const secrets = values.secret ?? (io.env.WEBHOOK_SECRET === undefined || io.env.WEBHOOK_SECRET === '' ? [] : [io.env.WEBHOOK_SECRET]);
  if (secrets.length === 0) throw new UsageError('the secret is missing: --secret or WEBHOOK_SECRET');
  const port = values.port === undefined ? 0 : integerFlag('port', values.port, 0);
  const host = values.host ?? '127.0.0.1';

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readRawBody(req, DEFAULT_MAX_BODY_BYTES);
      if (!raw.ok) {
        io.out(json({ verdict: 'invalid', status: raw.status, reason: 'body', message: raw.message }));
        sendJson(res, raw.status, errorBody('PAYLOAD_TOO_LARGE', raw.message, false), true);
        return;
      }
      try {
        const delivery = await verifyWebhook({ secret: secrets, body: raw.body, signature: header(req, 'roomcast-signature') });
        io.out(json({ verdict: 'valid', status: 200, id: delivery.id, delivery }));
        sendJson(res, 200, { ok: true });
      } catch (error) {
        const reason = error instanceof RoomcastSignatureError ? error.reason : 'error';
        const status = reason === 'invalid-body' ? 400 : 401;
        const message = (error as Error).message;
        io.out(json({ verdict: 'invalid', status, reason, message, body: raw.body.toString('utf8').slice(0, PRINTED_BODY_CHARS) }));
        sendJson(res, status, errorBody(status === 400 ? 'INVALID_PAYLOAD' : 'UNAUTHENTICATED', message, false));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  }).catch((error: Error) => {
    throw new UsageError(`cannot listen on ${host}:${port}: ${error.message}`);
  });
  const address = server.address() as AddressInfo;
  io.out(json({ listening: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` }));
  await stop;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return EXIT.ok;
}
