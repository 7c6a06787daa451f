/**
 * The metrics of the gateway's calls to the app's backend: webhook deliveries
 * and proxy requests (names and labels in docs/operations.md, like the rest of
 * metrics.ts, which registers these in the node's registry). Every label set is
 * fixed: event types, outcomes, proxy kinds and results.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../shared/index.js';

/** Buckets of the webhook delivery latency (event ts to its 2xx): 5 ms to 10 min (retries included). */
const WEBHOOK_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600];
const PROXY_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Webhook figures: the producer counts what it queues, the delivering node what it sends. */
export interface WebhookMetrics {
  queued(type: WebhookEventType): void;
  /** A delivery answered 2xx; `ages`: each event's seconds from its ts to the 2xx. */
  delivered(ages: readonly number[]): void;
  retried(): void;
  /** Events dropped: past WEBHOOK_MAX_AGE_S (a delivery), or refused by the queue for too long (`buffer`). */
  dropped(events: number, reason: 'max-age' | 'buffer'): void;
  /** Where the queue-depth gauge reads (set once the queue exists; a failure keeps the last value). */
  setDepth(read: () => Promise<number>): void;
}

/** One answered (or failed) proxy request: its outcome and how long it took, failures included. */
export type ProxyMetrics = (proxy: 'connect' | 'join' | 'publish', result: 'allow' | 'deny' | 'unavailable', seconds: number) => void;

export function createWebhookMetrics(registers: Registry[]): WebhookMetrics {
  const queued = new Counter({ name: 'roomcast_webhook_events_queued_total', help: 'Webhook events this node queued, by type', labelNames: ['type'], registers });
  for (const type of WEBHOOK_EVENT_TYPES) queued.labels({ type });
  const deliveries = new Counter({
    name: 'roomcast_webhook_deliveries_total',
    help: 'Webhook deliveries (POSTs of a batch) made by this node, by outcome: delivered (2xx), retried (anything else, sent again), dropped (past WEBHOOK_MAX_AGE_S)',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of ['delivered', 'retried', 'dropped']) deliveries.labels({ outcome });
  const eventsDelivered = new Counter({ name: 'roomcast_webhook_events_delivered_total', help: 'Webhook events this node delivered (2xx)', registers });
  const dropped = new Counter({
    name: 'roomcast_webhook_events_dropped_total',
    help: 'Webhook events dropped: max-age (not accepted within WEBHOOK_MAX_AGE_S), buffer (the queue refused them for too long)',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['max-age', 'buffer']) dropped.labels({ reason });
  const latency = new Histogram({
    name: 'roomcast_webhook_delivery_seconds',
    help: "From a webhook event's ts to the 2xx of the delivery that carried it (retries included)",
    buckets: WEBHOOK_LATENCY_BUCKETS,
    registers,
  });
  let readDepth: (() => Promise<number>) | null = null;
  let lastDepth = 0;
  new Gauge({
    name: 'roomcast_webhook_queue_depth',
    help: 'Webhook events waiting in the queue (this process in memory mode; the shared Redis stream otherwise); 0 without WEBHOOK_URL',
    registers,
    async collect() {
      if (readDepth !== null) lastDepth = await readDepth().catch(() => lastDepth);
      this.set(lastDepth);
    },
  });
  return {
    queued: (type) => queued.inc({ type }),
    delivered: (ages) => {
      deliveries.inc({ outcome: 'delivered' });
      eventsDelivered.inc(ages.length);
      for (const age of ages) latency.observe(age);
    },
    retried: () => deliveries.inc({ outcome: 'retried' }),
    dropped: (events, reason) => {
      if (reason === 'max-age') deliveries.inc({ outcome: 'dropped' });
      dropped.inc({ reason }, events);
    },
    setDepth: (read) => {
      readDepth = read;
    },
  };
}

export function createProxyMetrics(registers: Registry[]): ProxyMetrics {
  const requests = new Counter({
    name: 'roomcast_proxy_requests_total',
    help: 'Requests to the connect, join and publish proxies, by outcome (allow, deny, unavailable: timeout, non-2xx, bad answer, backend down)',
    labelNames: ['proxy', 'result'],
    registers,
  });
  const duration = new Histogram({
    name: 'roomcast_proxy_duration_seconds',
    help: 'Duration of proxy requests, failures included',
    labelNames: ['proxy'],
    buckets: PROXY_DURATION_BUCKETS,
    registers,
  });
  // Label children bound once: a proxy request never hashes labels.
  const children = new Map(
    (['connect', 'join', 'publish'] as const).map((proxy) => [
      proxy,
      {
        duration: duration.labels({ proxy }),
        results: new Map((['allow', 'deny', 'unavailable'] as const).map((result) => [result, requests.labels({ proxy, result })])),
      },
    ]),
  );
  return (proxy, result, seconds) => {
    const child = children.get(proxy);
    child?.results.get(result)?.inc();
    child?.duration.observe(seconds);
  };
}
