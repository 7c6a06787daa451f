/**
 * Applies Admission to every new Engine.IO session, before any resource is
 * spent on it. A refusal answers the handshake with its HTTP status and the
 * typed error as JSON (a WebSocket upgrade gets the same response written on
 * the raw socket). A proxy can retry a 503 on another node (the generated NGINX
 * config does), which is what a draining node wants.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Sessions } from '../../core/session.js';
import type { Refusal } from '../../ops/admission.js';
import type { ClientAddresses } from '../../ops/client-address.js';

type EngineRequest = IncomingMessage & { _query?: Record<string, string> };
type EngineResponse = ServerResponse | { socket: Duplex; end(): void };

function reply(res: EngineResponse, refusal: Refusal): void {
  const body = JSON.stringify(refusal.error);
  if (res instanceof ServerResponse) {
    res.writeHead(refusal.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'retry-after': '1' });
    res.end(body);
    return;
  }
  // Engine.IO hands WebSocket upgrades a response stub that writes nothing: answer on the raw socket.
  const reason = refusal.status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  res.socket.write(
    `HTTP/1.1 ${refusal.status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\n\r\n${body}`,
  );
  res.end();
}

/**
 * Engine.IO answers a WebSocket upgrade through a response stub whose `req` is
 * the upgrade request, and the stub stays reachable for the connection's whole
 * life (a `close` listener on the TCP socket holds it). The request (headers,
 * raw headers, stream state: about a kilobyte) is needed only until the session
 * opens; the stub is remembered here so that `releaseUpgradeRequest` can drop it.
 */
const upgradeStubs = new WeakMap<IncomingMessage, { req: IncomingMessage | null }>();

/** Drops the upgrade response stub's hold on `req` (call once the session opened; see upgradeStubs). */
export function releaseUpgradeRequest(req: IncomingMessage): void {
  const stub = upgradeStubs.get(req);
  if (stub === undefined) return;
  stub.req = null;
  upgradeStubs.delete(req);
}

export function admissionMiddleware(sessions: Sessions, addresses: ClientAddresses) {
  return (req: EngineRequest, res: EngineResponse, next: (error?: unknown) => void): void => {
    // Requests carrying a sid belong to a session that was already admitted.
    const isHandshake = req._query?.sid === undefined;
    const refusal = isHandshake ? sessions.admitAddress(addresses.of(req)) : null;
    if (refusal !== null) {
      reply(res, refusal);
      return;
    }
    if (!(res instanceof ServerResponse) && 'req' in res) upgradeStubs.set(req, res as { req: IncomingMessage | null });
    next();
  };
}
