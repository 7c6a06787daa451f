/** The validated, frozen configuration of one gateway node. Built once at start-up by loadConfig(). */
import type { WebhookEventType } from '../../shared/index.js';
import type { NamespaceRules } from './namespaces.js';

export type JwtKeySource =
  | { kind: 'secret'; secret: Uint8Array; development: boolean }
  | { kind: 'public-key'; pem: string }
  | { kind: 'jwks'; url: URL };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  host: string;
  nodeId: string;
  redisUrl: string | null;
  redisClusterNodes: ReadonlyArray<{ host: string; port: number }> | null;
  /**
   * Credentials and TLS for REDIS_CLUSTER_NODES (REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS);
   * REDIS_URL carries its own (`rediss://user:pass@host`). Never logged.
   */
  redisClusterAuth: { username: string | null; password: string | null; tls: boolean };
  /**
   * Whether Redis may lose acknowledged writes: 'lossy' makes a room whose data
   * was last written by another Redis process (restart, failover, restore) start
   * a new epoch; 'lossless' trusts restarts (see backends/redis/history-scripts.ts).
   */
  redisDurability: 'lossy' | 'lossless';
  /** NODE_ENV, trimmed and case-insensitive, is `production`: the development secret is refused, JWKS over https only, JWT_AUDIENCE required with JWT_PUBLIC_KEY / JWKS_URL. */
  production: boolean;
  jwt: {
    key: JwtKeySource;
    issuer: string | null;
    audience: string | null;
    /** A token whose `exp` is further than this from the moment it is verified is refused (tokens without `exp` are refused too). */
    maxTtlSeconds: number;
  };
  /** Keys accepted by the HTTP publish API; empty: the API is off. */
  apiKeys: readonly string[];
  /** Secret of the status page (GET /status) and the `/admin` namespace; null: both are off. */
  adminToken: string | null;
  /** Browser origins allowed to connect; empty: same origin only. `*` allows any. */
  corsOrigins: readonly string[];
  parser: 'json' | 'msgpack';
  /** maxBytes: the memory store's total publication bytes, oldest trimmed first beyond it (0: no limit). */
  history: { size: number; ttlSeconds: number; maxBytes: number };
  limits: {
    maxPayloadBytes: number;
    maxRoomsPerSocket: number;
    maxRoomMembers: number;
    rateLimitPerSecond: number;
    rateLimitBurst: number;
    /** Connections this node accepts at once; 0: no limit. */
    maxConnections: number;
    /** Connections (namespace sockets) one user may hold on this node; 0: no limit. */
    maxConnectionsPerUser: number;
    /** New connections per second this node accepts (a token bucket of that size); 0: no limit. */
    acceptRatePerSecond: number;
    /** Resident memory above which the node is not ready and refuses new connections; 0: no ceiling. */
    memoryLimitBytes: number;
    /** Outgoing bytes a connection may have waiting before it is closed as a slow consumer. */
    maxClientBufferBytes: number;
    /** An Engine.IO session that has not completed an authenticated namespace CONNECT by then is closed. */
    handshakeTimeoutMs: number;
    /** Connections (Engine.IO sessions, authenticated or not, and SSE streams) one client address may hold on this node; 0: no limit. */
    maxConnectionsPerIp: number;
    /** New connections per second one client address may open on this node; 0: no limit. */
    acceptRatePerIpPerSecond: number;
    /** Bytes of publication data one user may publish per second on this node (token bucket); 0: no limit. */
    publishBytesPerUserPerSecond: number;
  };
  /** Addresses whose X-Forwarded-For is believed: the client address of a request they forward is taken from it. */
  trustedProxies: readonly string[];
  /**
   * Timeouts of the HTTP server (slow clients are cut), and how many connections the kernel may hold for
   * the node before it accepts them (listen(2)'s backlog, capped by the kernel at net.core.somaxconn).
   */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number; listenBacklog: number };
  /** How very large rooms are served (see docs/architecture.md, "Large rooms"). */
  largeRooms: {
    /** Above this many members in a room, presence:join/leave are not broadcast; 0: never broadcast them. */
    presenceEventsMaxMembers: number;
    /** A broadcast reaching more than this many sockets of this node is delivered in slices. */
    slicedFanoutAbove: number;
    /** Sockets written to per slice of a sliced broadcast, the event loop turning between slices. */
    fanoutSliceSize: number;
  };
  heartbeat: { pingIntervalMs: number; pingTimeoutMs: number };
  drainTimeoutMs: number;
  /** Server-Sent Events (GET /sse): a `: ka` comment is written to each stream this often. */
  sse: { keepaliveMs: number };
  /** A node silent for this long is considered dead and its presence removed by the others. */
  nodeTtlMs: number;
  /** Redis Cluster: how often the room channels this node serves are compared with its live subscriptions (and repaired). */
  subscriptionReconcileMs: number;
  namespaces: readonly NamespaceRules[];
  /**
   * Webhooks (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_EVENTS, WEBHOOK_MAX_AGE_S): null when WEBHOOK_URL is unset.
   * `events`: the types sent (all when WEBHOOK_EVENTS is unset).
   */
  webhook: { url: URL; events: readonly WebhookEventType[]; maxAgeSeconds: number } | null;
  /**
   * WEBHOOK_SECRET: signs webhook deliveries and proxy requests (Roomcast-Signature, shared/signature.ts);
   * required (32+ characters) when WEBHOOK_URL or a proxy URL is set, else null. Never logged.
   */
  backendSecret: string | null;
  /** CONNECT_PROXY_URL, JOIN_PROXY_URL, PUBLISH_PROXY_URL (null: off) and PROXY_TIMEOUT_MS. */
  proxies: { connectUrl: URL | null; joinUrl: URL | null; publishUrl: URL | null; timeoutMs: number };
  /** AUTO_JOIN_USER_ROOM: every connection is joined by the server to `user:<sub>` at connect. */
  autoJoinUserRoom: boolean;
  logLevel: LogLevel;
  logPretty: boolean;
}
