/**
 * The composition root of one node: builds the stores (memory for one node,
 * Redis for many), the publisher, the Express app and the Socket.IO server on
 * one http.Server, and closes them in order. It takes a Config and a logger; it
 * reads no environment and installs no signal handler (main.ts does).
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier } from './auth/token-verifier.js';
import { createClusterServices, type ClusterServices } from './backends/redis/services.js';
import type { Config } from './config/config.js';
import type { HistoryStore } from './core/history-store.js';
import { MemoryHistoryStore } from './backends/memory/history.js';
import { Publisher } from './core/publisher.js';
import { RoomListeners } from './core/room-listeners.js';
import { createHttpApp } from './http/app.js';
import type { Readiness } from './ops/readiness.js';
import { SseStreams } from './transports/sse/sse-streams.js';
import { Admission } from './ops/admission.js';
import { createHttpServer } from './ops/http-server.js';
import { ClientAddresses } from './ops/client-address.js';
import { PublishBudget } from './ops/publish-budget.js';
import type { Logger } from './ops/logger.js';
import { MemoryWatch } from './ops/memory-watch.js';
import { createMetrics, type GatewayMetrics } from './ops/metrics.js';
import { nodeStats, type NodeStats } from './ops/node-stats.js';
import { startStatusBroadcast, StatusSampler, type StatusBroadcast } from './ops/status-sampler.js';
import { MemoryPresenceStore } from './backends/memory/presence.js';
import { announcesPresence, type PresenceStore } from './core/presence-store.js';
import { RoomTaps } from './transports/socketio/adapter-taps.js';
import { ReceptionRecovery } from './core/reception-recovery.js';
import { RoomWatermarks } from './core/room-watermarks.js';
import { adminNamespace } from './transports/socketio/admin-namespace.js';
import { drainConnections } from './transports/socketio/drain.js';
import { broadcaster, createRealtimeServer } from './transports/socketio/realtime-server.js';
import { SlowConsumerGuard } from './transports/socketio/slow-consumers.js';
import type { RoomcastServer } from './transports/socketio/types.js';
import { ADMIN_NAMESPACE, STATUS_INTERVAL_MS, STATUS_ROOM, type Message } from '../shared/index.js';

export interface Gateway {
  readonly httpServer: HttpServer;
  readonly io: RoomcastServer;
  readonly publisher: Publisher;
  /** The Redis side when running as one of many nodes; null on a single node. */
  readonly cluster: ClusterServices | null;
  readonly metrics: GatewayMetrics;
  /** This node's figures now (connections, totals, pub/sub lag, heap, readiness): cheap, synchronous, for a status page. */
  stats(): NodeStats;
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
  const clustered = config.redisUrl !== null || config.redisClusterNodes !== null;
  const namespaceNames = config.namespaces.map((rules) => rules.name);
  const metrics = createMetrics({ nodeId: config.nodeId, namespaces: namespaceNames });
  const cluster = clustered
    ? await createClusterServices(config, logger, {
        observeRedis: (command, seconds) => metrics.redisCommand(command, seconds),
        onCanaryLag: (seconds) => metrics.canaryLag(seconds),
        onSubscriptionRepair: (kind) => {
          metrics.subscriptionRepairs.inc({ kind });
          // A room was deaf until now: deliver what it missed to its local members.
          if (kind === 'missing') void recovery?.recoverAll();
        },
        onEpochRotation: (reason) => metrics.epochRotations.inc({ reason }),
      })
    : null;
  const memoryHistory = cluster === null ? new MemoryHistoryStore({ size: config.history.size, ttlSeconds: config.history.ttlSeconds, maxBytes: config.history.maxBytes }) : null;
  const history: HistoryStore = cluster?.history ?? (memoryHistory as MemoryHistoryStore);
  const presence: PresenceStore = cluster?.presence ?? new MemoryPresenceStore();
  const httpServer = createHttpServer(config.http);
  let state: State = 'running';
  // Built once the Socket.IO server exists; the cluster's repair hook (created first) reaches it through this.
  let recovery: ReceptionRecovery | null = null;
  const memory = new MemoryWatch(config.limits.memoryLimitBytes);
  const admission = new Admission(config.limits, memory, metrics);
  const addresses = new ClientAddresses(config.trustedProxies);
  const publishBudget = new PublishBudget(config.limits.publishBytesPerUserPerSecond, config.limits.maxPayloadBytes);

  // The publisher needs the broadcaster and the Socket.IO server needs the publisher: tie them through a late-bound broadcast.
  let broadcast: ReturnType<typeof broadcaster> | null = null;
  const publisher = new Publisher(
    history,
    (namespace, message) => broadcast?.(namespace, message),
    config.limits.maxPayloadBytes,
    (namespace, source) => metrics.namespace(namespace).published(source),
  );
  const readiness: Readiness = () => {
    if (state !== 'running') return { ready: false, reason: state };
    if (memory.overCeiling) return { ready: false, reason: 'over the memory ceiling (MEMORY_LIMIT_MB)' };
    const clusterState = cluster?.ready() ?? { ready: true };
    return cluster === null ? clusterState : { ...clusterState, canary: cluster.canary.status() };
  };
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
    connections: () => realtime.engine.clientsCount,
    readiness: () => readiness(),
    draining: () => state === 'draining',
    canary: () => cluster?.canary.status() ?? null,
  });
  // SSE streams: fed from the adapter (roomListeners), counted as connections, closed on drain and close.
  const roomListeners = new RoomListeners();
  // With Redis, the last position of each room seen here, so what the node misses while deaf can be delivered after.
  const watermarks = cluster === null ? null : new RoomWatermarks();
  // The adapter taps: SSE fed from the adapter, and the room subscriptions of this node (see adapter-taps.ts).
  const roomTaps = new RoomTaps({
    listeners: roomListeners,
    ...(watermarks === null ? {} : { observe: (namespace: string, message: Message) => watermarks.note(namespace, message.room, message) }),
    subscriptions: cluster?.subscriptions ?? null,
    ...(cluster !== null && cluster.subscriptions === null ? { subscriberReady: () => cluster.subscriberReady() } : {}),
    onError: (error) => logger.error({ err: error, code: 'INTERNAL' }, 'a room listener failed'),
  });
  const whenReceiving = (namespace: string, room: string): Promise<void> => roomTaps.whenReceiving(namespace, room);
  const sseStreams = new SseStreams();
  const verifyToken = createTokenVerifier(config.jwt);
  const app = createHttpApp({
    config,
    logger,
    publisher,
    presence,
    readiness,
    metrics,
    sse: {
      config,
      logger,
      history,
      listeners: roomListeners,
      whenReceiving,
      ...(watermarks === null ? {} : { watermarks }),
      verifyToken,
      admission,
      metrics,
      streams: sseStreams,
      addresses,
    },
  });
  httpServer.on('request', (req, res) => {
    // Once draining, answers ask keep-alive clients (backends publishing) to reconnect, which lands them elsewhere.
    if (state !== 'running') res.setHeader('connection', 'close');
    app(req, res);
  });
  const io: RoomcastServer = createRealtimeServer(httpServer, {
    config,
    logger,
    history,
    presence,
    publisher,
    verifyToken,
    roomTaps,
    whenReceiving,
    ...(watermarks === null ? {} : { watermarks }),
    addresses,
    publishBudget,
    admission,
    metrics,
    checkOutgoingBuffer: (socket) => slowConsumers.check(socket),
    latestStatus: () => sampler.latest(),
    ...(cluster ? { adapter: cluster.adapter } : {}),
  });
  const realtime = io;
  broadcast = broadcaster(io);
  const openSockets = (): number => namespaceNames.reduce((sum, namespace) => sum + realtime.of(namespace).sockets.size, 0);
  metrics.setSources({
    connections: () =>
      namespaceNames.flatMap((namespace) => {
        // Read at scrape time: a connection's transport changes when it upgrades from polling to websocket.
        const byTransport = new Map<string, number>();
        for (const socket of realtime.of(namespace).sockets.values()) {
          const transport = (socket.conn.transport as { name?: string } | undefined)?.name === 'websocket' ? 'websocket' : 'polling';
          byTransport.set(transport, (byTransport.get(transport) ?? 0) + 1);
        }
        return [...byTransport].map(([transport, count]) => ({ namespace, transport, count }));
      }),
    ready: () => readiness().ready,
    draining: () => state !== 'running',
    canaryOk: () => (cluster === null ? null : cluster.canary.healthy),
    history: () => memoryHistory?.stats() ?? { entries: 0, rooms: 0, bytes: 0 },
  });
  const slowConsumers = new SlowConsumerGuard(realtime, namespaceNames, config.limits.maxClientBufferBytes, logger, () => {
    metrics.slowConsumerDisconnects.inc();
    metrics.error('SLOW_CONSUMER');
  });
  // Every node sends its figures to the status room of /admin; the adapter takes them to pages on every node.
  const statusBroadcast: StatusBroadcast | null =
    config.adminToken === null ? null : startStatusBroadcast(sampler, (status) => adminNamespace(realtime).to(STATUS_ROOM).emit('status:node', status), STATUS_INTERVAL_MS);
  const presenceNamespaces = new Set(config.namespaces.filter((rules) => rules.presence).map((rules) => rules.name));
  const announces = (namespace: string, roomMembers: number): boolean =>
    presenceNamespaces.has(namespace) && announcesPresence(config.largeRooms.presenceEventsMaxMembers, roomMembers);
  await cluster?.start({
    announceLeave: (namespace, room, member, roomMembers) => {
      if (announces(namespace, roomMembers)) realtime.of(namespace).to(room).emit('presence:leave', { room, member });
    },
    announceJoin: (namespace, room, member, roomMembers) => {
      if (announces(namespace, roomMembers)) realtime.of(namespace).to(room).emit('presence:join', { room, member });
    },
    localMemberships: () =>
      namespaceNames.flatMap((namespace) =>
        [...realtime.of(namespace).sockets.values()].flatMap((socket) =>
          [...socket.rooms]
            .filter((room) => room !== socket.id)
            .map((room) => ({ namespace, room, member: { userId: socket.data.userId, connectionId: socket.id, nodeId: config.nodeId, joinedAt: Date.now() } })),
        ),
      ),
  });

  roomTaps.startReconciling(config.subscriptionReconcileMs);
  recovery =
    cluster === null || watermarks === null
      ? null
      : new ReceptionRecovery({
          history,
          watermarks,
          servedRooms: () => roomTaps.servedRooms(),
          emitLocal: (namespace, message) => realtime.of(namespace).local.to(message.room).emit('message', message),
          logger,
        });
  const stopRecovery = cluster?.redis.onSubscriberReconnected(() => void recovery?.recoverAll());

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
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
      await drainConnections(realtime, drained, config.drainTimeoutMs, logger);
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
      const closed = realtime.close();
      httpServer.closeIdleConnections();
      const force = setTimeout(() => httpServer.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(force);
      httpServer.closeAllConnections();
      await history.close();
      await presence.close();
      await cluster?.close();
      state = 'closed';
      logger.info('gateway closed');
    })();
    return closing;
  };

  logger.info({ port, host: config.host, namespaces: config.namespaces.map((rules) => rules.name), redis: cluster?.redis.mode ?? 'none' }, 'gateway listening');
  const stats = (): NodeStats =>
    nodeStats({
      nodeId: config.nodeId,
      totals: metrics.totals,
      connections: openSockets,
      pubsubLagP99Ms: () => cluster?.canary.status().p99Ms ?? null,
      ready: () => readiness().ready,
      draining: () => state !== 'running',
    });
  return { httpServer, io: realtime, publisher, cluster, metrics, stats, port, url: `http://${displayHost}:${port}`, readiness, drain, close };
}
