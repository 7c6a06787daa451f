/**
 * The node's Prometheus metrics (prom-client), in a registry of its own so that
 * several gateways in one process (tests) do not collide. The names, types and
 * labels are a contract with the dashboard, the alert rules and
 * docs/operations.md: see the table there. Label sets are bounded: declared
 * namespaces, protocol event names, error codes, transports, a fixed list of
 * close reasons and Redis operations; never a room, a user or a connection id.
 *
 * Hot path: nothing here adds a listener or a closure per socket on the
 * delivery path. Deliveries are counted once per broadcast (the recipients the
 * adapter wrote to, see sliced-fanout.ts); sent bytes by one listener on the
 * Engine.IO server (see transports/socketio/realtime-server.ts); counters the hot path touches are
 * pre-bound label children (no label hashing per call) or plain numbers folded
 * into the counter when Prometheus scrapes.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CLIENT_EVENT_NAMES, ERROR_CODES, type ErrorCode } from '../../shared/index.js';
import { createProxyMetrics, createWebhookMetrics, type ProxyMetrics, type WebhookMetrics } from './backend-metrics.js';
import { defaultMetrics } from './process-metrics.js';

export type { ProxyMetrics, WebhookMetrics } from './backend-metrics.js';

/** The Redis operations timed by roomcast_redis_command_duration_seconds. */
export const REDIS_COMMANDS = ['append', 'read', 'presence_add', 'presence_remove', 'presence_list', 'heartbeat', 'other'] as const;
export type RedisCommandName = (typeof REDIS_COMMANDS)[number];

/** Socket.IO's disconnect reasons (socket.io 4.8 DisconnectReason); anything else is "other". */
export const CLOSE_REASONS = [
  'transport error',
  'transport close',
  'forced close',
  'ping timeout',
  'parse error',
  'server shutting down',
  'forced server close',
  'client namespace disconnect',
  'server namespace disconnect',
] as const;
const KNOWN_CLOSE_REASONS = new Set<string>(CLOSE_REASONS);
const KNOWN_EVENTS = new Set<string>(CLIENT_EVENT_NAMES);
const KNOWN_CODES = new Set<string>(ERROR_CODES);

export type PublicationSource = 'client' | 'http';

/** Buckets of the canary lag histogram: 0.5 ms to 1 s. */
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Buckets of the Redis command histogram: 0.25 ms to the 3 s call deadline and past it. */
const REDIS_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the gauges read at scrape time; the gateway fills it in once its parts exist. */
export interface MetricSources {
  /** Open Socket.IO connections of each declared namespace, by transport. */
  connections(): Array<{ namespace: string; transport: string; count: number }>;
  ready(): boolean;
  draining(): boolean;
  /** null on a single node (no canary): reported as ok. */
  canaryOk(): boolean | null;
  history(): { entries: number; rooms: number; bytes: number };
}


/** Figures kept as plain numbers, for the hot path and for stats(); folded into counters at scrape. */
export interface Totals {
  messagesIn: number;
  /** Socket.IO packets written to connections (events, acks, broadcasts; not Engine.IO pings). */
  messagesOut: number;
  deliveries: number;
  receivedBytes: number;
  sentBytes: number;
}

/** Counters of one namespace, pre-bound to their labels. */
export interface NamespaceCounters {
  opened(): void;
  closed(reason: string): void;
  clientMessage(event: unknown): void;
  rateLimited(): void;
  rejoin(recovered: boolean): void;
  published(source: PublicationSource): void;
}

export interface GatewayMetrics {
  registry: Registry;
  totals: Totals;
  /** Set once by the gateway: where the gauges read their values. */
  setSources(sources: MetricSources): void;
  namespace(name: string): NamespaceCounters;
  /** Recipients of one broadcast in a namespace, written on this node. */
  delivered(namespace: string, recipients: number): void;
  /** A typed error answered to a client (ack, protocol:error) or an HTTP caller. */
  error(code: ErrorCode): void;
  handshakeFailure(code: ErrorCode): void;
  redisCommand(command: RedisCommandName, seconds: number): void;
  canaryLag(seconds: number): void;
  connectionsRefused: Counter<'code'>;
  slowConsumerDisconnects: Counter;
  drains: Counter;
  /** Room channel subscriptions that reconciliation found wrong and repaired (Redis Cluster), by kind. */
  subscriptionRepairs: Counter<'kind'>;
  /** Rooms that started a new epoch because Redis's data was replaced (REDIS_DURABILITY=lossy), by reason. */
  epochRotations: Counter<'reason'>;
  webhooks: WebhookMetrics;
  /** One answered (or failed) proxy request: its outcome and how long it took, failures included. */
  proxyRequest: ProxyMetrics;
}

/** The package's version, from the package.json above dist/server/ops/ (or server/ops/); "unknown" if not found. */
function packageVersion(): string {
  for (const path of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'roomcast' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next one
    }
  }
  return 'unknown';
}

export function createMetrics(options: { nodeId: string; namespaces: readonly string[] }): GatewayMetrics {
  const registry = new Registry();
  for (const metric of defaultMetrics()) registry.registerMetric(metric);
  const totals: Totals = { messagesIn: 0, messagesOut: 0, deliveries: 0, receivedBytes: 0, sentBytes: 0 };
  let sources: MetricSources | null = null;
  const registers = [registry];

  new Gauge({
    name: 'roomcast_build_info',
    help: 'Always 1: the version and node id of this gateway',
    labelNames: ['version', 'node_id'],
    registers,
  }).set({ version: packageVersion(), node_id: options.nodeId }, 1);

  new Gauge({
    name: 'roomcast_connections_active',
    help: 'Open connections now, by namespace and transport (polling until upgraded to websocket)',
    labelNames: ['namespace', 'transport'],
    registers,
    collect() {
      this.reset();
      for (const namespace of options.namespaces) for (const transport of ['polling', 'websocket']) this.set({ namespace, transport }, 0);
      for (const { namespace, transport, count } of sources?.connections() ?? []) this.inc({ namespace, transport }, count);
    },
  });
  const opened = new Counter({ name: 'roomcast_connections_opened_total', help: 'Connections accepted, by namespace', labelNames: ['namespace'], registers });
  const closed = new Counter({
    name: 'roomcast_connections_closed_total',
    help: 'Connections closed, by namespace and Socket.IO close reason',
    labelNames: ['namespace', 'reason'],
    registers,
  });
  const handshakeFailures = new Counter({
    name: 'roomcast_handshake_failures_total',
    help: 'Connections refused at the handshake (token, admission, origin), by error code',
    labelNames: ['code'],
    registers,
  });
  const connectionsRefused = new Counter({
    name: 'roomcast_connections_refused_total',
    help: 'Connections refused by admission (draining, memory, MAX_CONNECTIONS, accept rate, per-user limit), by error code',
    labelNames: ['code'],
    registers,
  });
  const clientMessages = new Counter({
    name: 'roomcast_client_messages_total',
    help: 'Packets received from clients, by namespace and event (anything outside the protocol: "unknown")',
    labelNames: ['namespace', 'event'],
    registers,
  });
  const publications = new Counter({
    name: 'roomcast_publications_total',
    help: 'Publications stored and broadcast, by namespace and source (idempotent repeats not counted)',
    labelNames: ['namespace', 'source'],
    registers,
  });
  const deliveries = new Counter({
    name: 'roomcast_deliveries_total',
    help: 'Broadcast packets (publications and presence events) written to connections of this node, by namespace',
    labelNames: ['namespace'],
    registers,
  });
  // Bytes are added to plain numbers on the hot path and folded in here when Prometheus scrapes.
  let receivedFolded = 0;
  new Counter({
    name: 'roomcast_received_bytes_total',
    help: 'Bytes of message payloads received from clients (Engine.IO message packets, WebSocket or polling)',
    registers,
    collect() {
      this.inc(totals.receivedBytes - receivedFolded);
      receivedFolded = totals.receivedBytes;
    },
  });
  let sentFolded = 0;
  new Counter({
    name: 'roomcast_sent_bytes_total',
    help: 'Bytes of Engine.IO packets written to clients (every packet, pings included; before WebSocket framing and compression)',
    registers,
    collect() {
      this.inc(totals.sentBytes - sentFolded);
      sentFolded = totals.sentBytes;
    },
  });
  const errors = new Counter({
    name: 'roomcast_errors_total',
    help: 'Typed errors answered to clients (acks, protocol:error) or HTTP callers, by code',
    labelNames: ['code'],
    registers,
  });
  const rejoins = new Counter({
    name: 'roomcast_rejoins_total',
    help: 'Joins with `since`, by namespace and whether the missed publications were recovered',
    labelNames: ['namespace', 'recovered'],
    registers,
  });
  const drains = new Counter({ name: 'roomcast_drains_total', help: 'Graceful drains started on this node', registers });
  const slowConsumerDisconnects = new Counter({
    name: 'roomcast_slow_consumer_disconnects_total',
    help: 'Connections closed because their outgoing buffer passed MAX_CLIENT_BUFFER_BYTES',
    registers,
  });
  const rateLimited = new Counter({
    name: 'roomcast_rate_limited_total',
    help: 'Requests refused by the per-connection rate limit, by namespace',
    labelNames: ['namespace'],
    registers,
  });
  const subscriptionRepairs = new Counter({
    name: 'roomcast_subscription_repairs_total',
    help: 'Room channel subscriptions (Redis Cluster) that reconciliation found wrong and repaired: missing (served but not subscribed) or extra (subscribed but not served)',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of ['missing', 'extra']) subscriptionRepairs.labels({ kind });
  const epochRotations = new Counter({
    name: 'roomcast_epoch_rotations_total',
    help: 'Rooms this node found written by another Redis process (restart, failover, restore) and moved to a new epoch (REDIS_DURABILITY=lossy): clients get a gap',
    labelNames: ['reason'],
    registers,
  });
  epochRotations.labels({ reason: 'redis-replaced' });
  const pubsubLag = new Histogram({
    name: 'roomcast_redis_pubsub_lag_seconds',
    help: "Round trip of the canary's probe through Redis pub/sub",
    buckets: LAG_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'roomcast_canary_ok',
    help: "1 when the canary's last probe came back in time (always 1 on a single node, which has no Redis), else 0",
    registers,
    collect() {
      this.set(sources?.canaryOk() === false ? 0 : 1);
    },
  });
  const redisDuration = new Histogram({
    name: 'roomcast_redis_command_duration_seconds',
    help: "Latency of the gateway's Redis calls (history, presence, heartbeat), failures included",
    labelNames: ['command'],
    buckets: REDIS_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'roomcast_history_entries',
    help: 'Publications held in history in this process (memory mode); 0 in Redis mode, where Redis holds them',
    registers,
    collect() {
      this.set(sources?.history().entries ?? 0);
    },
  });
  new Gauge({
    name: 'roomcast_history_bytes',
    help: 'Bytes of publications held in history in this process, as HISTORY_MAX_BYTES counts them (memory mode); 0 in Redis mode (watch used_memory there)',
    registers,
    collect() {
      this.set(sources?.history().bytes ?? 0);
    },
  });
  new Gauge({
    name: 'roomcast_history_rooms',
    help: 'Rooms with history tracked in this process (memory mode); 0 in Redis mode',
    registers,
    collect() {
      this.set(sources?.history().rooms ?? 0);
    },
  });
  new Gauge({
    name: 'roomcast_ready',
    help: '1 when /readyz answers 200, else 0 (not ready, draining or closing)',
    registers,
    collect() {
      this.set(sources?.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'roomcast_draining',
    help: '1 while this node drains (and closes)',
    registers,
    collect() {
      this.set(sources?.draining() ? 1 : 0);
    },
  });

  const webhooks = createWebhookMetrics(registers);
  const proxyRequest = createProxyMetrics(registers);

  // Label children bound once: the hot path never hashes labels.
  const redisChildren = new Map(REDIS_COMMANDS.map((command) => [command, redisDuration.labels({ command })]));
  const errorChildren = new Map(ERROR_CODES.map((code) => [code, errors.labels({ code })]));
  const deliveryChildren = new Map<string, Counter.Internal>();
  const namespaceCounters = new Map<string, NamespaceCounters>();

  const forNamespace = (namespace: string): NamespaceCounters => {
    const existing = namespaceCounters.get(namespace);
    if (existing !== undefined) return existing;
    const byEvent = new Map<string, Counter.Internal>([...KNOWN_EVENTS, 'unknown'].map((event) => [event, clientMessages.labels({ namespace, event })]));
    const unknownEvent = byEvent.get('unknown') as Counter.Internal;
    const byReason = new Map<string, Counter.Internal>([...KNOWN_CLOSE_REASONS, 'other'].map((reason) => [reason, closed.labels({ namespace, reason })]));
    const otherReason = byReason.get('other') as Counter.Internal;
    const openedChild = opened.labels({ namespace });
    const limited = rateLimited.labels({ namespace });
    const recovered = rejoins.labels({ namespace, recovered: 'true' });
    const notRecovered = rejoins.labels({ namespace, recovered: 'false' });
    const bySource = { client: publications.labels({ namespace, source: 'client' }), http: publications.labels({ namespace, source: 'http' }) };
    // Zero-valued series from the start, so rate() and absent() behave from the first scrape.
    deliveryChildren.set(namespace, deliveries.labels({ namespace }));
    const counters: NamespaceCounters = {
      opened: () => openedChild.inc(),
      closed: (reason) => (byReason.get(reason) ?? otherReason).inc(),
      clientMessage: (event) => {
        totals.messagesIn += 1;
        (typeof event === 'string' ? (byEvent.get(event) ?? unknownEvent) : unknownEvent).inc();
      },
      rateLimited: () => limited.inc(),
      rejoin: (wasRecovered) => (wasRecovered ? recovered : notRecovered).inc(),
      published: (source) => bySource[source].inc(),
    };
    namespaceCounters.set(namespace, counters);
    return counters;
  };
  for (const namespace of options.namespaces) forNamespace(namespace);

  return {
    registry,
    totals,
    setSources: (value) => {
      sources = value;
    },
    namespace: forNamespace,
    delivered: (namespace, recipients) => {
      if (recipients === 0) return;
      totals.deliveries += recipients;
      // Socket.IO serves "/" even when it is not declared (it refuses every connection there): never a new label.
      deliveryChildren.get(namespace)?.inc(recipients);
    },
    error: (code) => {
      if (KNOWN_CODES.has(code)) errorChildren.get(code)?.inc();
    },
    handshakeFailure: (code) => {
      if (KNOWN_CODES.has(code)) handshakeFailures.inc({ code });
    },
    redisCommand: (command, seconds) => redisChildren.get(command)?.observe(seconds),
    canaryLag: (seconds) => pubsubLag.observe(seconds),
    connectionsRefused,
    slowConsumerDisconnects,
    drains,
    subscriptionRepairs,
    epochRotations,
    webhooks,
    proxyRequest,
  };
}
