/**
 * A real backend for the proxy tests: an http.Server on a free port that checks
 * each request's Roomcast-Signature with shared/signature.ts (as a backend
 * would), records what it received, and answers with what the test says per
 * path (JSON, a status, or a delay past PROXY_TIMEOUT_MS).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature, type SignatureProblem } from '../../shared/index.js';

export interface ReceivedRequest {
  path: string;
  body: unknown;
  /** null: the signature is valid for the raw body and WEBHOOK_SECRET. */
  signatureProblem: SignatureProblem | null;
}

export interface Reply {
  status?: number;
  /** A value is sent as JSON; a string as it is (e.g. not JSON). */
  body?: unknown;
  /** Waits this long before answering (a slow backend). */
  delayMs?: number;
}

export type Responder = (body: unknown) => Reply;

export interface ProxyBackend {
  /** `http://127.0.0.1:<port>` */
  url: string;
  received: ReceivedRequest[];
  /** What `path` answers from now on (default: `{ result: "allow" }`). */
  on(path: string, responder: Responder): void;
  /** Requests received on `path`. */
  at(path: string): ReceivedRequest[];
  reset(): void;
  close(): Promise<void>;
}

export async function startProxyBackend(secret: string): Promise<ProxyBackend> {
  const responders = new Map<string, Responder>();
  const received: ReceivedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = req.headers['roomcast-signature'];
        const signatureProblem = await verifySignature(secret, raw, typeof header === 'string' ? header : undefined);
        const path = req.url ?? '/';
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
        received.push({ path, body, signatureProblem });
        const reply: Reply = signatureProblem !== null ? { status: 401, body: { error: signatureProblem } } : (responders.get(path) ?? (() => ({ body: { result: 'allow' } })))(body);
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
          res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? null));
        };
        if (reply.delayMs === undefined) send();
        else {
          const timer = setTimeout(() => {
            timers.delete(timer);
            send();
          }, reply.delayMs);
          timers.add(timer);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    on: (path, responder) => void responders.set(path, responder),
    at: (path) => received.filter((request) => request.path === path),
    reset: () => {
      responders.clear();
      received.splice(0);
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL where nothing listens (a port that was free a moment ago): a backend that is down. */
export async function downUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
