/**
 * The composition root of one node: it only wires. It builds the backends
 * (createBackends: memory for one node, Redis for many), the core (sessions,
 * membership, subscriptions, the publisher and its fanout), the transports
 * (Socket.IO, SSE) and the HTTP app on one http.Server, and closes them in
 * order. It takes a Config and a logger; it reads no environment and installs
 * no signal handler (main.ts does).
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_NAMESPACE, STATUS_INTERVAL_MS, STATUS_ROOM } from '../shared/index.js';
import { createTokenVerifier } from './auth/token-verifier.js';
import { createBackends, type Backends } from './backends/index.js';
import type { Config } from './config/config.js';
import { Membership } from './core/membership.js';
import { Publisher } from './core/publisher.js';
import { ReceptionRecovery } from './core/reception-recovery.js';
import { RoomListeners } from './core/room-listeners.js';
import { RoomWatermarks } from './core/room-watermarks.js';
import { Sessions } from './core/session.js';
import { Subscriptions } from './core/subscription.js';
import { WebhookEvents } from './core/webhook-events.js';
import { createHttpApp } from './http/app.js';
import { publishFastPath, type FastPath } from './http/publish-fast-path.js';
import { WebhookDispatcher } from './integration/webhook-dispatcher.js';
import { httpProxies } from './integration/proxies.js';
import { Admission } from './ops/admission.js';
import { ClientAddresses } from './ops/client-address.js';
import { createHttpServer } from './ops/http-server.js';
import type { Logger } from './ops/logger.js';
import { MemoryWatch } from './ops/memory-watch.js';
import { createMetrics, type GatewayMetrics } from './ops/metrics.js';
import { nodeStats, type NodeStats } from './ops/node-stats.js';
import { PublishBudget } from './ops/publish-budget.js';
import type { Readiness } from './ops/readiness.js';
import { startStatusBroadcast, StatusSampler, type StatusBroadcast } from './ops/status-sampler.js';
import { RoomTaps } from './transports/socketio/adapter-taps.js';
import { adminNamespace } from './transports/socketio/admin-namespace.js';
import { drainConnections } from './transports/socketio/drain.js';
import { socketAnnouncer, socketFanout } from './transports/socketio/fanout.js';
import { createSocketServer, serveNamespaces } from './transports/socketio/realtime-server.js';
import { SlowConsumerGuard } from './transports/socketio/slow-consumers.js';
import { TransportCounts } from './transports/socketio/transport-counts.js';
import type { RoomcastServer } from './transports/socketio/types.js';
import { SseMemberships, sseRoute } from './transports/sse/sse-stream.js';
import { SseStreams } from './transports/sse/sse-streams.js';
// ---- issue 14 (REST API) ----
import type { Express } from 'express';
import { registerAdminCommands } from './transports/socketio/admin-namespace.js';
import { socketConnections, userControl } from './transports/socketio/user-control.js';
// ---- end issue 14 (REST API) ----

export interface Gateway {
  readonly httpServer: HttpServer;
  readonly io: RoomcastServer;
  readonly publisher: Publisher;
  /** What the node stands on: memory alone, Redis (one server or a Cluster) as one of many. */
  readonly backends: Backends;
  readonly metrics: GatewayMetrics;
  /** This node's figures now (connections, totals, pub/sub lag, heap, readiness): cheap, synchronous, for a status page. */
  stats(): NodeStats;
  /** The HTTP app (its routes: the OpenAPI test compares them with the document). */
  readonly app: Express;
  /** The bound port (useful with PORT=0). */
  readonly port: number;
  readonly url: string;
  readiness: Readiness;
  /**
   * Graceful drain (SIGTERM): not ready, no new connections, clients told to
   * reconnect elsewhere over DRAIN_TIMEOUT_MS; resolves when they are gone or
   * the window is over. Call close() after it. Idempotent.
   */
  drain(): Promise<void>;
  /** Idempotent: stops accepting, disconnects clients, closes stores, Redis and the HTTP server. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  config: Config;
  logger: Logger;
}

type State = 'running' | 'draining' | 'closing' | 'closed';

/** How long close() lets HTTP requests in progress finish before it cuts their connections. */
const CLOSE_GRACE_MS = 1000;

export async function startGateway({ config, logger }: GatewayOptions): Promise<Gateway> {
  const namespaceNames = config.namespaces.map((rules) => rules.name);
  const metrics = createMetrics({ nodeId: config.nodeId, namespaces: namespaceNames });
  // Reception recovery is built once the Socket.IO server exists; a subscription repair (hooked first) reaches it through this.
  let recovery: ReceptionRecovery | null = null;
  const backends = await createBackends(config, logger, {
    observeRedis: (command, seconds) => metrics.redisCommand(command, seconds),
    onCanaryLag: (seconds) => metrics.canaryLag(seconds),
    onSubscriptionRepair: (kind) => {
      metrics.subscriptionRepairs.inc({ kind });
      // A room was deaf until now: deliver what it missed to its local members.
      if (kind === 'missing') void recovery?.recoverAll();
    },
    onEpochRotation: (reason) => metrics.epochRotations.inc({ reason }),
  });
  const clustered = backends.redisMode !== 'none';
  const { history } = backends;
  const httpServer = createHttpServer(config.http);
  let state: State = 'running';
  const memory = new MemoryWatch(config.limits.memoryLimitBytes);
  const admission = new Admission(config.limits, memory, metrics);
  const addresses = new ClientAddresses(config.trustedProxies);
  const publishBudget = new PublishBudget(config.limits.publishBytesPerUserPerSecond, config.limits.maxPayloadBytes);
  // issue 14 proxies: the connect and join proxies decide through Sessions; the publish proxy through each Session.
  const proxies = httpProxies({ proxies: config.proxies, secret: config.backendSecret, metrics, logger });
  const sessions = new Sessions(createTokenVerifier(config.jwt), admission, metrics, { proxies, maxTtlSeconds: config.jwt.maxTtlSeconds });
  const membership = new Membership({
    presence: backends.presence,
    maxRoomMembers: config.limits.maxRoomMembers,
    presenceEventsMaxMembers: config.largeRooms.presenceEventsMaxMembers,
    presenceNamespaces: new Set(config.namespaces.filter((rules) => rules.presence).map((rules) => rules.name)),
  });

  const readiness: Readiness = () => {
    if (state !== 'running') return { ready: false, reason: state };
    if (memory.overCeiling) return { ready: false, reason: 'over the memory ceiling (MEMORY_LIMIT_MB)' };
    const backendState = backends.ready();
    return backends.canary === null ? backendState : { ...backendState, canary: backends.canary.status() };
  };
  // With Redis, the last position of each room seen here, so what the node misses while deaf can be delivered after.
  const watermarks = clustered ? new RoomWatermarks() : null;
  // SSE streams hear rooms from the adapter (RoomListeners); the taps also drive this node's room subscriptions (adapter-taps.ts).
  const roomListeners = new RoomListeners();
  const roomTaps = new RoomTaps({
    listeners: roomListeners,
    ...(watermarks === null ? {} : { observe: (namespace, message) => watermarks.note(namespace, message.room, message) }),
    subscriptions: backends.roomChannels,
    ...(backends.subscriberReady === null ? {} : { subscriberReady: backends.subscriberReady }),
    onError: (error) => logger.error({ err: error, code: 'INTERNAL' }, 'a room listener failed'),
  });
  const subscriptions = new Subscriptions({
    history,
    listeners: roomListeners,
    whenReceiving: (namespace, room) => roomTaps.whenReceiving(namespace, room),
    ...(watermarks === null ? {} : { watermarks }),
    metrics,
  });

  // The HTTP app's request listener goes on the server before Socket.IO attaches: Engine.IO then answers its own
  // path (/socket.io/) and hands every other request to the listeners it found. The app itself is built below,
  // once the publisher exists; the server listens only after that.
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  // The hot publish routes answered before Express (http/publish-fast-path.ts); every other request goes to the app.
  let fastPath: FastPath | null = null;
  httpServer.on('request', (req, res) => {
    // Once draining, answers ask keep-alive clients (backends publishing) to reconnect, which lands them elsewhere.
    if (state !== 'running') res.setHeader('connection', 'close');
    if (fastPath?.(req, res) === true) return;
    (app as (req: IncomingMessage, res: ServerResponse) => void)(req, res);
  });
  // The Socket.IO server (the wire and its adapter), then the core's Fanout on it, then the Publisher, then the handlers.
  const io: RoomcastServer = createSocketServer(httpServer, {
    config,
    logger,
    metrics,
    sessions,
    addresses,
    roomTaps,
    ...(backends.adapter === null ? {} : { adapter: backends.adapter }),
  });
  membership.announceThrough(socketAnnouncer(io));
  const publisher = new Publisher(history, socketFanout(io), config.limits.maxPayloadBytes, (namespace, source) => metrics.namespace(namespace).published(source));

  // ---- webhooks (issue 14): events of this node into the queue; the dispatcher delivers while it holds the lease ----
  const webhooks = startWebhooks(config, logger, metrics, backends, membership, publisher);
  // ---- end webhooks ----

  // The status page's figures: its rates come from the metrics' plain totals (client packets in, broadcast deliveries out).
  const sampler = new StatusSampler({
    nodeId: config.nodeId,
    traffic: {
      get in() {
        return metrics.totals.messagesIn;
      },
      get out() {
        return metrics.totals.deliveries;
      },
    },
    connections: () => io.engine.clientsCount,
    readiness: () => readiness(),
    draining: () => state === 'draining',
    canary: () => backends.canary?.status() ?? null,
  });
  const slowConsumers = new SlowConsumerGuard(io, namespaceNames, config.limits.maxClientBufferBytes, logger, () => {
    metrics.slowConsumerDisconnects.inc();
    metrics.error('SLOW_CONSUMER');
  });
  serveNamespaces(io, {
    config,
    logger,
    history,
    publisher,
    sessions,
    membership,
    subscriptions,
    addresses,
    publishBudget,
    metrics,
    checkOutgoingBuffer: (socket) => slowConsumers.check(socket),
    latestStatus: () => sampler.latest(),
    roomTaps,
  });

  const sseStreams = new SseStreams();
  const sseMemberships = new SseMemberships();
  // ---- issue 14 (REST API): user commands on every node (REST routes, the status page's disconnect) ----
  const users = userControl(io, {
    local: [socketConnections(io, namespaceNames, membership, logger), sseStreams],
    clustered,
    logger,
  });
  if (config.adminToken !== null) registerAdminCommands(io, { presence: backends.presence, users, namespaces: namespaceNames, logger });
  // ---- end issue 14 (REST API) ----
  const httpApp = createHttpApp({
    config,
    logger,
    publisher,
    membership,
    readiness,
    metrics,
    sse: sseRoute({ config, logger, sessions, subscriptions, metrics, streams: sseStreams, addresses, membership, memberships: sseMemberships }),
    history,
    presence: backends.presence,
    users,
  });
  app = httpApp;
  fastPath = publishFastPath({
    apiKeys: config.apiKeys,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    namespaces: config.namespaces,
    publisher,
    logger,
    countError: (code) => metrics.error(code),
  });
  const openSockets = (): number => namespaceNames.reduce((sum, namespace) => sum + io.of(namespace).sockets.size, 0);
  // Kept as connections come, upgrade and go: a scrape does not walk every socket (transport-counts.ts).
  const transportCounts = new TransportCounts(io, namespaceNames);
  metrics.setSources({
    connections: () => transportCounts.counts(),
    ready: () => readiness().ready,
    draining: () => state !== 'running',
    canaryOk: () => backends.canary?.healthy ?? null,
    history: () => backends.historyStats(),
  });
  // Every node sends its figures to the status room of /admin; the adapter takes them to pages on every node.
  const statusBroadcast: StatusBroadcast | null =
    config.adminToken === null ? null : startStatusBroadcast(sampler, (status) => adminNamespace(io).to(STATUS_ROOM).emit('status:node', status), STATUS_INTERVAL_MS);
  await backends.start(
    membership.changesFrom(() => [
      ...namespaceNames.flatMap((namespace) =>
        [...io.of(namespace).sockets.values()].flatMap((socket) =>
          [...socket.rooms]
            .filter((room) => room !== socket.id)
            .map((room) => ({ namespace, room, member: { userId: socket.data.userId, connectionId: socket.id, nodeId: config.nodeId, joinedAt: Date.now() } })),
        ),
      ),
      // SSE streams are members too.
      ...sseMemberships.list(),
    ]),
  );

  roomTaps.startReconciling(config.subscriptionReconcileMs);
  recovery =
    watermarks === null
      ? null
      : new ReceptionRecovery({
          history,
          watermarks,
          servedRooms: () => roomTaps.servedRooms(),
          emitLocal: (namespace, message) => io.of(namespace).local.to(message.room).emit('message', message),
          logger,
        });
  const stopRecovery = backends.onReceptionRestored(() => void recovery?.recoverAll());

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    // A burst of connections (a drained node's clients arriving) waits in the kernel's accept queue while the
    // node works through the ones before: Node's default of 511 overflows, and each dropped SYN costs its
    // client 1, 3, 7, 15 s of TCP retransmission before its connect timeout (docs/operations.md).
    httpServer.listen({ port: config.port, host: config.host, backlog: config.http.listenBacklog }, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const displayHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let draining: Promise<void> | null = null;
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      if (state !== 'running') return;
      state = 'draining';
      admission.startDraining();
      metrics.drains.inc();
      statusBroadcast?.sendNow();
      // Status pages move to another node too (they are told server:draining like any client).
      const drained = statusBroadcast === null ? namespaceNames : [...namespaceNames, ADMIN_NAMESPACE];
      sseStreams.drain(config.drainTimeoutMs);
      await drainConnections(io, drained, config.drainTimeoutMs, logger);
    })();
    return draining;
  };

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'closing';
      admission.startDraining();
      slowConsumers.stop();
      memory.stop();
      admission.stop();
      publishBudget.stop();
      statusBroadcast?.stop();
      roomTaps.stop();
      stopRecovery?.();
      sseStreams.closeAll();
      // io.close() disconnects every socket and closes the http.Server, which waits for every HTTP connection:
      // idle keep-alive ones are closed now, busy ones (a backend publishing in a loop) after a short grace.
      const closed = io.close();
      httpServer.closeIdleConnections();
      const force = setTimeout(() => httpServer.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(force);
      httpServer.closeAllConnections();
      // ---- webhooks (issue 14): queue what was produced, stop delivering (the lease goes to another node) ----
      await webhooks?.stop();
      // ---- end webhooks ----
      await backends.close();
      state = 'closed';
      logger.info('gateway closed');
    })();
    return closing;
  };

  logger.info({ port, host: config.host, namespaces: config.namespaces.map((rules) => rules.name), redis: backends.redisMode }, 'gateway listening');
  const stats = (): NodeStats =>
    nodeStats({
      nodeId: config.nodeId,
      totals: metrics.totals,
      connections: openSockets,
      pubsubLagP99Ms: () => backends.canary?.status().p99Ms ?? null,
      ready: () => readiness().ready,
      draining: () => state !== 'running',
    });
  return { httpServer, io, app: httpApp, publisher, backends, metrics, stats, port, url: `http://${displayHost}:${port}`, readiness, drain, close };
}

// ---- webhooks (issue 14) ----
/** How long a node alone lets its queued webhook events go at close. */
const MEMORY_QUEUE_DRAIN_MS = 1000;

/** With WEBHOOK_URL: this node's events go into the backends' queue, and its dispatcher delivers them while it holds the lease. */
function startWebhooks(config: Config, logger: Logger, metrics: GatewayMetrics, backends: Backends, membership: Membership, publisher: Publisher): { stop(): Promise<void> } | null {
  if (config.webhook === null || config.backendSecret === null) return null;
  const queue = backends.webhookQueue;
  const dispatcher = new WebhookDispatcher({
    queue,
    url: config.webhook.url,
    secret: config.backendSecret,
    maxAgeSeconds: config.webhook.maxAgeSeconds,
    logger,
    metrics: { delivered: (ages) => metrics.webhooks.delivered(ages), retried: () => metrics.webhooks.retried(), dropped: (events) => metrics.webhooks.dropped(events, 'max-age') },
  });
  const events = new WebhookEvents({
    queue,
    types: config.webhook.events,
    namespaces: config.namespaces,
    logger,
    onQueued: (queued) => {
      for (const event of queued) metrics.webhooks.queued(event.type);
      dispatcher.wake();
    },
    onDropped: (count) => metrics.webhooks.dropped(count, 'buffer'),
  });
  events.attach(membership, publisher);
  metrics.webhooks.setDepth(() => queue.depth());
  dispatcher.start();
  return {
    async stop() {
      await events.stop();
      // Alone (memory), what waits would be lost with the process: it gets a second to go. With Redis another node delivers it.
      await dispatcher.stop({ drainMs: backends.redisMode === 'none' ? MEMORY_QUEUE_DRAIN_MS : 0 });
    },
  };
}
// ---- end webhooks ----
