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

export function admissionMiddleware(sessions: Sessions, addresses: ClientAddresses) {
  return (req: EngineRequest, res: EngineResponse, next: (error?: unknown) => void): void => {
    // Requests carrying a sid belong to a session that was already admitted.
    const isHandshake = req._query?.sid === undefined;
    const refusal = isHandshake ? sessions.admitAddress(addresses.of(req)) : null;
    if (refusal === null) next();
    else reply(res, refusal);
  };
}
