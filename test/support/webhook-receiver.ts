/**
 * A real webhook receiver for tests: an http.Server on a free port (or a port
 * chosen before it listens, to test a receiver that comes up late) that keeps
 * every POST as it came (headers, raw body) and answers what the test says.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookDelivery, WebhookEvent } from '../../shared/index.js';

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  raw: string;
  body: WebhookDelivery;
  /** What the receiver answered. */
  status: number;
  /** performance.timeOrigin + performance.now() when it arrived (ms since the epoch). */
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Every POST received, answered 2xx or not, in arrival order. */
  deliveries: ReceivedDelivery[];
  /** The events of the deliveries answered 2xx, in arrival order, each event id once. */
  accepted(): WebhookEvent[];
  /** How the next POSTs are answered (default 200). */
  answerWith(status: (delivery: WebhookDelivery, index: number) => number): void;
  /** Resolves once `predicate` holds for the accepted events. */
  waitFor(predicate: (events: WebhookEvent[]) => boolean, timeoutMs?: number, what?: string): Promise<WebhookEvent[]>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** A fixed port (a receiver that comes up late at a known address); default a free one. */
  port?: number;
  /** Answers each POST this long after it arrived (a slow backend). */
  delayMs?: number;
  /** The answer's body and content type (default `{}` as JSON). */
  answer?: { body: string; contentType: string };
}

export async function startWebhookReceiver({ port = 0, delayMs = 0, answer: reply = { body: '{}', contentType: 'application/json' } }: ReceiverOptions = {}): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  let status: (delivery: WebhookDelivery, index: number) => number = () => 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(raw) as WebhookDelivery;
      const answer = status(body, deliveries.length);
      deliveries.push({ headers: req.headers, raw, body, status: answer, receivedAt: performance.timeOrigin + performance.now() });
      const respond = (): void => void res.writeHead(answer, { 'content-type': reply.contentType }).end(reply.body);
      if (delayMs > 0) setTimeout(respond, delayMs);
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  const accepted = (): WebhookEvent[] => {
    const seen = new Set<string>();
    const events: WebhookEvent[] = [];
    for (const delivery of deliveries) {
      if (delivery.status < 200 || delivery.status >= 300) continue;
      for (const event of delivery.body.events) {
        if (seen.has(event.id)) continue;
        seen.add(event.id);
        events.push(event);
      }
    }
    return events;
  };
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    port: bound,
    deliveries,
    accepted,
    answerWith: (next) => {
      status = next;
    },
    waitFor: async (predicate, timeoutMs = 10_000, what = 'webhook events') => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const events = accepted();
        if (predicate(events)) return events;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; accepted: ${JSON.stringify(events.map((event) => [event.type, event.room]))}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
