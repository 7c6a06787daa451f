/**
 * The Express application: health, readiness, the backend API, Server-Sent Events
 * (GET /sse), the dev token route, the status page (with ADMIN_TOKEN) and the static demo. It knows nothing of Socket.IO; the gateway wires
 * the two onto one http.Server.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { errorPayload } from '../../shared/index.js';
import type { Config } from '../config/config.js';
import type { Publisher } from '../core/publisher.js';
import type { Logger } from '../ops/logger.js';
import type { Readiness } from '../ops/readiness.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import type { Membership } from '../core/membership.js';
import { requireApiKey } from '../auth/api-key.js';
import { devTokenRoute } from './dev-token-route.js';
import { COUNT_ERROR, sendError } from '../ops/http-errors.js';
import { presenceRoute } from './presence-route.js';
import { publishRoute } from './publish-route.js';
import type { HistoryStore } from '../core/history-store.js';
import type { PresenceStore } from '../core/presence-store.js';
import type { UserCommands } from '../core/user-commands.js';
import { batchRoute } from './batch-route.js';
import { batchBodyLimit, publishBodyLimit, UNREADABLE_BODY } from './body-limits.js';
import { historyRoute } from './history-route.js';
import { buildOpenApiDocument } from './openapi.js';
import { roomsRoute } from './rooms-route.js';
import { disconnectRoute, leaveRoute } from './user-routes.js';

/** Built client bundle and demo page (dist/public, next to dist/server). */
const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/** The status page (GET /status): its HTML and script, served only when ADMIN_TOKEN is set. */
const STATUS_DIR = fileURLToPath(new URL('../../status/', import.meta.url));

export interface HttpAppDeps {
  config: Config;
  logger: Logger;
  publisher: Publisher;
  membership: Membership;
  readiness: Readiness;
  metrics: GatewayMetrics;
  /** GET /sse: the Server-Sent Events transport (server/transports/sse), mounted here beside the API. */
  sse: RequestHandler;
  /** GET /api/v1/rooms/:room/history reads it. */
  history: HistoryStore;
  /** GET /api/v1/rooms lists occupied rooms from it (never asking other nodes). */
  presence: PresenceStore;
  /** POST /api/v1/users/...: commands carried out on every node. */
  users: UserCommands;
}

export function createHttpApp({ config, logger, publisher, membership, readiness, metrics, sse, history, presence, users }: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.locals[COUNT_ERROR] = (code: Parameters<GatewayMetrics['error']>[0]) => metrics.error(code);
  // The same proxies as the per-address limits believe (TRUSTED_PROXIES; see ops/client-address.ts).
  app.set('trust proxy', config.trustedProxies.length === 0 ? false : [...config.trustedProxies]);
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          // The gateway is often reached over plain http in development; don't rewrite its own URLs to https.
          upgradeInsecureRequests: null,
          // Browsers that do not match ws: against 'self' still reach the gateway's own socket.
          connectSrc: ["'self'", 'ws:', 'wss:'],
        },
      },
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, node: config.nodeId });
  });
  app.get('/readyz', (_req, res) => {
    const { ready, ...details } = readiness();
    res.status(ready ? 200 : 503).json({ ok: ready, node: config.nodeId, ...details });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });

  const json = jsonBody(express.json({ limit: publishBodyLimit(config.limits.maxPayloadBytes), strict: false }));
  const apiKey = requireApiKey(config.apiKeys);
  const batchJson = jsonBody(express.json({ limit: batchBodyLimit(config.limits.maxPayloadBytes), strict: false }));
  // Every /api/v1 route is described in openapi.ts (API_ROUTES); a test fails on one that is not.
  const openApi = JSON.stringify(buildOpenApiDocument('1.0.0'));
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.type('application/json').send(openApi);
  });
  app.post('/api/v1/publish', apiKey, json, publishRoute(publisher, config.namespaces, logger));
  app.post('/api/v1/batch', apiKey, batchJson, batchRoute(publisher, config.namespaces, logger));
  app.get('/api/v1/rooms', apiKey, roomsRoute(presence, config.namespaces, logger));
  app.get('/api/v1/rooms/:room/history', apiKey, historyRoute(history, config.namespaces, logger));
  app.get('/api/v1/rooms/:room/presence', apiKey, presenceRoute(membership, config.namespaces));
  app.post('/api/v1/users/:user/disconnect', apiKey, json, disconnectRoute(users, logger));
  app.post('/api/v1/users/:user/rooms/:room/leave', apiKey, leaveRoute(users, config.namespaces, logger));
  app.get('/sse', sse);

  if (config.jwt.key.kind === 'secret' && config.jwt.key.development) {
    app.post('/dev/token', json, devTokenRoute(config.jwt.key.secret, config.jwt.issuer, config.jwt.audience, config.jwt.maxTtlSeconds));
  }

  // A feature that is switched on but whose files are missing (an image built without them) would
  // answer 404 in silence: say so once, at start.
  if (config.adminToken !== null && !existsSync(STATUS_DIR)) {
    logger.warn({ dir: STATUS_DIR }, 'ADMIN_TOKEN is set but the status page files are missing (npm run build writes them to dist/status): GET /status answers 404');
  }
  if (!existsSync(PUBLIC_DIR)) {
    logger.warn({ dir: PUBLIC_DIR }, 'the demo page and browser SDK files are missing (npm run build writes them to dist/public): GET / and /roomcast.js answer 404');
  }

  if (config.adminToken !== null && existsSync(STATUS_DIR)) {
    // Only the page's shell: its figures come over the `/admin` socket, which checks the token.
    app.get('/status', (_req, res) => {
      res.setHeader('x-robots-tag', 'noindex');
      res.setHeader('cache-control', 'no-cache');
      res.sendFile('index.html', { root: STATUS_DIR });
    });
    app.use('/status', express.static(STATUS_DIR, { index: false, redirect: false, maxAge: '1m' }));
  }
  app.use('/status', (_req, res) => sendError(res, errorPayload('NOT_FOUND', 'no such page')));

  if (existsSync(PUBLIC_DIR)) app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: '1m' }));

  app.use('/api', (_req, res) => sendError(res, errorPayload('NOT_FOUND', 'no such API route')));
  app.use(errorHandler(logger));
  return app;
}

/**
 * The JSON body parser, with every failure of reading the body answered as the
 * client's fault: too large (413), an encoding it cannot undo (a garbage
 * `Content-Encoding: br` or gzip body, an unknown encoding or charset), or text
 * that is not JSON (400 INVALID_PAYLOAD), never a 500 with a stack in the log.
 */
function jsonBody(parse: RequestHandler): RequestHandler {
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => {
      if (error === undefined || error === null) {
        next();
        return;
      }
      // The client went away while sending its body: nobody to answer.
      if ((error as { type?: unknown }).type === 'request.aborted') return;
      if ((error as { type?: unknown }).type === 'entity.too.large') {
        sendError(res, errorPayload('PAYLOAD_TOO_LARGE', 'the request body is larger than the gateway accepts'));
        return;
      }
      sendError(res, errorPayload('INVALID_PAYLOAD', UNREADABLE_BODY), 400);
    });
  };
}

/** Body-parser failures become typed errors; anything else is INTERNAL and logged, never echoed. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const type = (error as { type?: unknown }).type;
    if (type === 'entity.too.large') {
      sendError(res, errorPayload('PAYLOAD_TOO_LARGE', 'the request body is larger than the gateway accepts'));
    } else if (type === 'entity.parse.failed' || type === 'encoding.unsupported' || type === 'charset.unsupported') {
      sendError(res, errorPayload('INVALID_PAYLOAD', 'the request body is not valid JSON'));
    } else {
      logger.error({ err: error, code: 'INTERNAL' }, 'http request failed');
      sendError(res, errorPayload('INTERNAL'));
    }
  };
}
