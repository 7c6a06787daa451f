/**
 * The composition root of one node: builds the stores, the publisher, the
 * Express app and the Socket.IO server on one http.Server, and closes them in
 * order. It takes a Config and a logger; it reads no environment and installs
 * no signal handler (main.ts does).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier } from './auth/token-verifier.js';
import type { Config } from './config/config.js';
import type { HistoryStore } from './delivery/history-store.js';
import { MemoryHistoryStore } from './delivery/history/memory.js';
import { Publisher } from './delivery/publisher.js';
import { createHttpApp } from './http/app.js';
import type { Logger } from './ops/logger.js';
import { MemoryPresenceStore } from './presence/memory.js';
import type { PresenceStore } from './presence/presence-store.js';
import { broadcaster, createRealtimeServer } from './realtime/realtime-server.js';
import type { RoomcastServer } from './realtime/types.js';

export interface Gateway {
  readonly httpServer: HttpServer;
  readonly io: RoomcastServer;
  readonly publisher: Publisher;
  /** The bound port (useful with PORT=0). */
  readonly port: number;
  readonly url: string;
  /** Idempotent: stops accepting, disconnects clients, closes stores and the HTTP server. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  history?: HistoryStore;
  presence?: PresenceStore;
}

type State = 'running' | 'closing' | 'closed';

export async function startGateway({ config, logger, history, presence }: GatewayOptions): Promise<Gateway> {
  if (config.redisUrl !== null || config.redisClusterNodes !== null) {
    throw new Error('REDIS_URL / REDIS_CLUSTER_NODES: the Redis cluster mode is not available in this build yet');
  }
  const historyStore = history ?? new MemoryHistoryStore({ size: config.history.size, ttlSeconds: config.history.ttlSeconds });
  const presenceStore = presence ?? new MemoryPresenceStore();
  const httpServer = createServer();
  let state: State = 'running';

  // The publisher needs the broadcaster and the Socket.IO server needs the publisher: tie them through a late-bound io.
  let io: RoomcastServer | null = null;
  const publisher = new Publisher(historyStore, (namespace, message) => io && broadcaster(io)(namespace, message), config.limits.maxPayloadBytes);
  const app = createHttpApp({
    config,
    logger,
    publisher,
    presence: presenceStore,
    readiness: () => (state === 'running' ? { ready: true } : { ready: false, reason: 'closing' }),
  });
  httpServer.on('request', app);
  io = createRealtimeServer(httpServer, {
    config,
    logger,
    history: historyStore,
    presence: presenceStore,
    publisher,
    verifyToken: createTokenVerifier(config.jwt),
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
  const realtime = io;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'closing';
      // io.close() disconnects every socket and closes the http.Server; idle keep-alive sockets would hold it open.
      const closed = realtime.close();
      httpServer.closeIdleConnections();
      await closed;
      httpServer.closeAllConnections();
      await historyStore.close();
      await presenceStore.close();
      state = 'closed';
      logger.info('gateway closed');
    })();
    return closing;
  };

  logger.info({ port, host: config.host, namespaces: config.namespaces.map((rules) => rules.name) }, 'gateway listening');
  return { httpServer, io: realtime, publisher, port, url: `http://${displayHost}:${port}`, close };
}
