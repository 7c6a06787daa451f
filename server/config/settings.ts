/**
 * The name of every environment variable the gateway reads (loadConfig), in the
 * order of the README's settings table. Tools that start nodes (`npm run cluster`)
 * pass these on; a unit test checks the list against what loadConfig reads and
 * what the README documents, so a new setting cannot be left out of either.
 */
export const GATEWAY_SETTINGS = [
  'PORT',
  'HOST',
  'NODE_ID',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_TLS',
  'REDIS_DURABILITY',
  'SUBSCRIPTION_RECONCILE_MS',
  'NODE_TTL_MS',
  'JWT_SECRET',
  'JWT_PUBLIC_KEY',
  'JWKS_URL',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'TOKEN_MAX_TTL_S',
  'API_KEYS',
  'ADMIN_TOKEN',
  'CORS_ORIGINS',
  'PARSER',
  'HISTORY_SIZE',
  'HISTORY_TTL_S',
  'HISTORY_MAX_BYTES',
  'MAX_PAYLOAD_BYTES',
  'MAX_ROOMS_PER_SOCKET',
  'MAX_ROOM_MEMBERS',
  'RATE_LIMIT_PER_S',
  'RATE_LIMIT_BURST',
  'MAX_CONNECTIONS',
  'MAX_CONNECTIONS_PER_USER',
  'ACCEPT_RATE_PER_S',
  'HANDSHAKE_TIMEOUT_MS',
  'MAX_CONNECTIONS_PER_IP',
  'ACCEPT_RATE_PER_IP_PER_S',
  'TRUSTED_PROXIES',
  'PUBLISH_BYTES_PER_USER_PER_S',
  'HTTP_HEADERS_TIMEOUT_MS',
  'HTTP_REQUEST_TIMEOUT_MS',
  'HTTP_KEEPALIVE_TIMEOUT_MS',
  'LISTEN_BACKLOG',
  'MEMORY_LIMIT_MB',
  'PRESENCE_EVENTS_MAX_MEMBERS',
  'LARGE_ROOM_MEMBERS',
  'FANOUT_SLICE_SIZE',
  'MAX_CLIENT_BUFFER_BYTES',
  'PING_INTERVAL_MS',
  'PING_TIMEOUT_MS',
  'SSE_KEEPALIVE_MS',
  'DRAIN_TIMEOUT_MS',
  'NAMESPACES_FILE',
  'CONNECT_PROXY_URL',
  'JOIN_PROXY_URL',
  'PUBLISH_PROXY_URL',
  'PROXY_TIMEOUT_MS',
  'AUTO_JOIN_USER_ROOM',
  'LOG_LEVEL',
  'LOG_PRETTY',
  'WEBHOOK_URL',
  'WEBHOOK_SECRET',
  'WEBHOOK_EVENTS',
  'WEBHOOK_MAX_AGE_S',
  'NODE_ENV',
] as const;

export type GatewaySetting = (typeof GATEWAY_SETTINGS)[number];

/** Settings that differ from node to node: a tool starting several nodes sets them itself. */
export const PER_NODE_SETTINGS: readonly GatewaySetting[] = ['PORT', 'HOST', 'NODE_ID'];

/** Which Redis the nodes share (and its credentials): chosen together, see scripts/cluster-options.ts. */
export const REDIS_SETTINGS: readonly GatewaySetting[] = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS'];
