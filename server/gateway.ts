/**
 * The composition root of one node: builds the stores (memory for one node,
 * Redis for many), the publisher, the Express app and the Socket.IO server on
 * one http.Server, and closes them in order. It takes a Config and a logger; it
 * reads no environment and installs no signal handler (main.ts does).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier } from './auth/token-verifier.js';
import { createClusterServices, type ClusterServices } from './cluster/cluster-services.js';
import type { Config } from './config/config.js';
import type { HistoryStore } from './delivery/history-store.js';
import { MemoryHistoryStore } from './delivery/history/memory.js';
import { Publisher } from './delivery/publisher.js';
import { createHttpApp, type Readiness } from './http/app.js';
import type { Logger } from './ops/logger.js';
import { MemoryPresenceStore } from './presence/memory.js';
import type { PresenceStore } from './presence/presence-store.js';
import { broadcaster, createRealtimeServer } from './realtime/realtime-server.js';
import type { RoomcastServer } from './realtime/types.js';

export interface Gateway {
  readonly httpServer: HttpServer;
  readonly io: RoomcastServer;
  readonly publisher: Publisher;
  /** The Redis side when running as one of many nodes; null on a single node. */
  readonly cluster: ClusterServices | null;
  /** The bound port (useful with PORT=0). */
  readonly port: number;
  readonly url: string;
  readiness: Readiness;
  /** Idempotent: stops accepting, disconnects clients, closes stores, Redis and the HTTP server. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  config: Config;
  logger: Logger;
}

type State = 'running' | 'closing' | 'closed';

export async function startGateway({ config, logger }: GatewayOptions): Promise<Gateway> {
  const clustered = config.redisUrl !== null || config.redisClusterNodes !== null;
  const cluster = clustered ? await createClusterServices(config, logger) : null;
  const history: HistoryStore = cluster?.history ?? new MemoryHistoryStore({ size: config.history.size, ttlSeconds: config.history.ttlSeconds });
  const presence: PresenceStore = cluster?.presence ?? new MemoryPresenceStore();
  const httpServer = createServer();
  let state: State = 'running';

  // The publisher needs the broadcaster and the Socket.IO server needs the publisher: tie them through a late-bound io.
  let io: RoomcastServer | null = null;
  const publisher = new Publisher(history, (namespace, message) => io && broadcaster(io)(namespace, message), config.limits.maxPayloadBytes);
  const readiness: Readiness = () => {
    if (state !== 'running') return { ready: false, reason: state };
    const clusterState = cluster?.ready() ?? { ready: true };
    return cluster === null ? clusterState : { ...clusterState, canary: cluster.canary.status() };
  };
  const app = createHttpApp({ config, logger, publisher, presence, readiness });
  httpServer.on('request', app);
  io = createRealtimeServer(httpServer, {
    config,
    logger,
    history,
    presence,
    publisher,
    verifyToken: createTokenVerifier(config.jwt),
    ...(cluster ? { adapter: cluster.adapter } : {}),
  });
  const realtime = io;
  const presenceNamespaces = new Set(config.namespaces.filter((rules) => rules.presence).map((rules) => rules.name));
  await cluster?.start((namespace, room, member) => {
    if (presenceNamespaces.has(namespace)) realtime.of(namespace).to(room).emit('presence:leave', { room, member });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const displayHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'closing';
      // io.close() disconnects every socket and closes the http.Server; idle keep-alive sockets would hold it open.
      const closed = realtime.close();
      httpServer.closeIdleConnections();
      await closed;
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
  return { httpServer, io: realtime, publisher, cluster, port, url: `http://${displayHost}:${port}`, readiness, close };
}
