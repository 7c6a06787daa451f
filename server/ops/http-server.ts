/**
 * The node's http.Server with slow clients cut and a ceiling on open sockets:
 * - HTTP_HEADERS_TIMEOUT_MS: a client that has not sent its whole header by
 *   then is disconnected (slowloris); HTTP_REQUEST_TIMEOUT_MS the same for the
 *   whole request, body included (a trickled body). Long polling and SSE are
 *   not affected: they are slow responses, not slow requests.
 * - HTTP_KEEPALIVE_TIMEOUT_MS: idle keep-alive connections are kept longer than
 *   a publisher's usual reuse interval, so a reused connection is not closed
 *   under a request in flight (the "socket hang up" a backend cannot interpret).
 * - maxConnections: below the process's open-file limit, so a flood of sockets
 *   is refused at accept instead of running the process out of descriptors
 *   (then Redis reconnects, logs and every other socket fail too).
 * Node checks the timeouts every connectionsCheckingInterval; it is set well
 * below them, or a slow client would be cut only up to 30 s (Node's default) late.
 *
 * An idle connection is closed only if nothing arrived on it by the end of the
 * event-loop turn in which its timeout fired (closeIdleAfterPoll): on a busy node
 * the timer and a publisher's next request are due in the same turn, and timers
 * run before sockets are read, so closing in the timer would drop a request sent
 * in time (the "socket hang up" of issue 16; a reset the publisher cannot tell
 * from a lost answer).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';

/** Descriptors kept for Redis, files, logs and the event loop beyond client sockets. */
const RESERVED_FILES = 256;

/** The soft limit on open files of this process (Linux), or null where it cannot be read. */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((candidate) => candidate.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? null : Number(soft);
  } catch {
    return null;
  }
}

export function createHttpServer(http: Config['http']): Server {
  const server = createServer({ connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(http.headersTimeoutMs / 4))) });
  server.headersTimeout = http.headersTimeoutMs;
  // Node requires requestTimeout >= headersTimeout (or 0); a larger headers timeout wins.
  server.requestTimeout = Math.max(http.requestTimeoutMs, http.headersTimeoutMs);
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
  server.on('timeout', closeIdleAfterPoll);
  const limit = openFileLimit();
  if (limit !== null && Number.isFinite(limit) && limit > RESERVED_FILES * 2) server.maxConnections = limit - RESERVED_FILES;
  return server;
}

/**
 * The server's 'timeout' listener (with one, Node leaves the socket open for it to close): the socket is
 * closed after this turn's poll phase unless bytes arrived meanwhile, which Node then reads as the next
 * request (and arms the keep-alive timeout again after answering it).
 */
function closeIdleAfterPoll(socket: Socket): void {
  const bytesRead = socket.bytesRead;
  setImmediate(() => {
    if (!socket.destroyed && socket.bytesRead === bytesRead) socket.destroy();
  });
}
