/**
 * Reads the environment once into a frozen Config. Every variable is checked
 * here, so a bad value stops start-up with a message naming the variable and
 * what it accepts, instead of failing later at first use.
 */
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ADMIN_NAMESPACE, WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../shared/index.js';
import { ConfigError } from './config-error.js';
import type { Config, JwtKeySource, LogLevel } from './config.js';
import { loadNamespaces, type NamespaceRules } from './namespaces.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The HS256 secret used when no key is configured: development only, announced loudly at start. */
export const DEVELOPMENT_JWT_SECRET = 'roomcast-development-secret-do-not-use-in-production';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parseWith<T>(name: string, raw: string, schema: z.ZodType<T, unknown>, expected: string): T {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(name, `expected ${expected}, got "${raw}"`);
  return result.data;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const schema = z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
  return parseWith(name, raw, schema, `an integer from ${min} to ${max}`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  return parseWith(name, raw, z.enum(allowed as [T, ...T[]]), `one of ${allowed.join(', ')}`);
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = parseWith(name, raw.toLowerCase(), z.enum(['true', 'false', '1', '0']), 'true or false');
  return value === 'true' || value === '1';
}

function list(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function url(env: Env, name: string, protocols: readonly string[]): URL | null {
  const raw = read(env, name);
  if (raw === undefined) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // A Redis URL may carry a password: never echo what precedes the host.
    throw new ConfigError(name, `expected a URL (${protocols.join(' or ')}), got "${raw.replace(/\/\/[^/]*@/, '//***@')}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a URL starting with ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return parsed;
}

function hostPorts(env: Env, name: string): Array<{ host: string; port: number }> | null {
  const items = list(env, name);
  if (items.length === 0) return null;
  return items.map((item) => {
    const match = /^([^:\s]+):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65535) throw new ConfigError(name, `expected a comma list of host:port, got "${item}"`);
    return { host: match[1] as string, port };
  });
}

/**
 * REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS: for REDIS_CLUSTER_NODES only (a URL carries its own,
 * and two sources of one password would disagree silently). Values are never echoed.
 */
function clusterAuth(env: Env, cluster: boolean): Config['redisClusterAuth'] {
  const username = read(env, 'REDIS_USERNAME') ?? null;
  const password = read(env, 'REDIS_PASSWORD') ?? null;
  const tls = boolean(env, 'REDIS_TLS', false);
  const given = ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS'].find((name) => read(env, name) !== undefined);
  if (given !== undefined && !cluster) {
    throw new ConfigError(given, 'applies to REDIS_CLUSTER_NODES only; with REDIS_URL put credentials and TLS in the URL (rediss://user:password@host:port)');
  }
  if (username !== null && password === null) throw new ConfigError('REDIS_PASSWORD', 'REDIS_USERNAME is set: give that ACL user\'s password too');
  return { username, password, tls };
}

/** Production exactly when NODE_ENV, trimmed and case-insensitive, is `production`: "Production" or " production" must not fail open. */
export function isProduction(env: Env): boolean {
  return (env.NODE_ENV ?? '').trim().toLowerCase() === 'production';
}

/** The settings whose absence means development mode (the built-in secret): any one of them given, a real key is required. */
const JWT_SETTINGS = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE'] as const;

export function isDevelopment(env: Env): boolean {
  return JWT_SETTINGS.every((name) => read(env, name) === undefined);
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** JWKS over https: a key set fetched in clear text lets anyone on the path mint tokens. Plain http only to a loopback host outside production (a local key server). */
function jwksUrl(env: Env, production: boolean): URL | null {
  const jwks = url(env, 'JWKS_URL', ['https:', 'http:']);
  if (jwks !== null && jwks.protocol === 'http:' && (production || !isLoopbackHost(jwks.hostname))) {
    throw new ConfigError('JWKS_URL', `expected an https:// URL (http:// only to a loopback host outside production), got "${jwks.protocol}//${jwks.host}"`);
  }
  return jwks;
}

function jwtKey(env: Env, production: boolean): JwtKeySource {
  const secret = read(env, 'JWT_SECRET');
  const publicKey = read(env, 'JWT_PUBLIC_KEY');
  const jwks = jwksUrl(env, production);
  const given = [secret, publicKey, jwks].filter((value) => value !== undefined && value !== null).length;
  if (given > 1) throw new ConfigError('JWT_SECRET', 'set only one of JWT_SECRET, JWT_PUBLIC_KEY and JWKS_URL');
  if (secret !== undefined) {
    const bytes = new TextEncoder().encode(secret);
    if (bytes.length < 32) throw new ConfigError('JWT_SECRET', 'expected at least 32 bytes (HS256 needs a 256-bit secret)');
    return { kind: 'secret', secret: bytes, development: false };
  }
  if (publicKey !== undefined) {
    // Env files often carry PEM with literal "\n"; accept both forms.
    const pem = publicKey.replace(/\\n/g, '\n');
    try {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') throw new Error(`${key.asymmetricKeyType} keys are not supported`);
    } catch (error) {
      throw new ConfigError('JWT_PUBLIC_KEY', `expected an RSA or EC public key in PEM (SPKI) form: ${(error as Error).message}`);
    }
    return { kind: 'public-key', pem };
  }
  if (jwks !== null) return { kind: 'jwks', url: jwks };
  if (production) {
    throw new ConfigError('JWT_SECRET', 'NODE_ENV=production needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL (the development secret is refused)');
  }
  if (!isDevelopment(env)) {
    throw new ConfigError('JWT_SECRET', 'JWT_ISSUER or JWT_AUDIENCE is set without a key: set one of JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL (development mode, with its built-in secret, needs no JWT_* setting at all)');
  }
  return { kind: 'secret', secret: new TextEncoder().encode(DEVELOPMENT_JWT_SECRET), development: true };
}

/** Node ids appear in Engine.IO session ids (NGINX routes on them), keys and metrics: keep them plain. */
function nodeId(env: Env): string {
  const raw = read(env, 'NODE_ID');
  if (raw === undefined) return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return parseWith('NODE_ID', raw, z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), '1-64 characters of letters, digits, _ and -');
}

/** TRUSTED_PROXIES: `loopback` (the default), `none`, or a comma list of addresses and CIDR ranges. */
function trustedProxies(env: Env): string[] {
  const items = list(env, 'TRUSTED_PROXIES');
  if (items.length === 0) return ['loopback'];
  if (items.length === 1 && items[0] === 'none') return [];
  for (const item of items) {
    if (item === 'loopback') continue;
    const [address, bits, extra] = item.split('/');
    const family = isIP(address ?? '');
    const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !prefixOk || extra !== undefined) {
      throw new ConfigError('TRUSTED_PROXIES', `expected loopback, none, or a comma list of IP addresses and CIDR ranges (10.0.0.0/8), got "${item}"`);
    }
  }
  return items;
}

function jwt(env: Env, production: boolean): Config['jwt'] {
  const key = jwtKey(env, production);
  const audience = read(env, 'JWT_AUDIENCE') ?? null;
  // Tokens signed by a shared identity provider are valid for every service it serves: only `aud` says they are meant for this one.
  if (production && audience === null && (key.kind === 'public-key' || key.kind === 'jwks')) {
    throw new ConfigError('JWT_AUDIENCE', `NODE_ENV=production with ${key.kind === 'jwks' ? 'JWKS_URL' : 'JWT_PUBLIC_KEY'} needs JWT_AUDIENCE (the \`aud\` this gateway's tokens carry), or a token minted for another service would be accepted`);
  }
  return {
    key,
    issuer: read(env, 'JWT_ISSUER') ?? null,
    audience,
    maxTtlSeconds: integer(env, 'TOKEN_MAX_TTL_S', 86_400, 60, 2_592_000),
  };
}

/** WEBHOOK_EVENTS: a comma list of event types (unset: all of them). */
function webhookEvents(env: Env): WebhookEventType[] {
  const items = list(env, 'WEBHOOK_EVENTS');
  if (items.length === 0) return [...WEBHOOK_EVENT_TYPES];
  for (const item of items) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(item)) {
      throw new ConfigError('WEBHOOK_EVENTS', `expected a comma list of ${WEBHOOK_EVENT_TYPES.join(', ')}, got "${item}"`);
    }
  }
  return items as WebhookEventType[];
}

/** Webhooks, proxies and the secret that signs both (see DESIGN "Backend integration"). */
function backendIntegration(env: Env, namespaces: readonly NamespaceRules[]): Pick<Config, 'webhook' | 'backendSecret' | 'proxies'> {
  const webhookUrl = url(env, 'WEBHOOK_URL', ['http:', 'https:']);
  const proxies: Config['proxies'] = {
    connectUrl: url(env, 'CONNECT_PROXY_URL', ['http:', 'https:']),
    joinUrl: url(env, 'JOIN_PROXY_URL', ['http:', 'https:']),
    publishUrl: url(env, 'PUBLISH_PROXY_URL', ['http:', 'https:']),
    timeoutMs: integer(env, 'PROXY_TIMEOUT_MS', 3000, 10, 60_000),
  };
  const secret = read(env, 'WEBHOOK_SECRET') ?? null;
  const signs = webhookUrl !== null || proxies.connectUrl !== null || proxies.joinUrl !== null || proxies.publishUrl !== null || namespaces.some((rules) => typeof rules.publishProxy === 'string');
  if (signs && secret === null) throw new ConfigError('WEBHOOK_SECRET', 'WEBHOOK_URL or a proxy URL is set: give the secret that signs what the gateway sends (32+ characters)');
  if (secret !== null && secret.length < 32) throw new ConfigError('WEBHOOK_SECRET', 'expected at least 32 characters');
  const events = webhookEvents(env);
  const maxAgeSeconds = integer(env, 'WEBHOOK_MAX_AGE_S', 86_400, 1, 7 * 86_400);
  return { webhook: webhookUrl === null ? null : { url: webhookUrl, events, maxAgeSeconds }, backendSecret: secret, proxies };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof URL) && !(value instanceof Uint8Array) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export function loadConfig(env: Env = process.env): Config {
  const production = isProduction(env);
  const pingIntervalMs = integer(env, 'PING_INTERVAL_MS', 25_000, 1_000, 600_000);
  const pingTimeoutMs = integer(env, 'PING_TIMEOUT_MS', 20_000, 1_000, 600_000);
  const rateLimitPerSecond = integer(env, 'RATE_LIMIT_PER_S', 50, 1, 1_000_000);
  const rateLimitBurst = integer(env, 'RATE_LIMIT_BURST', 100, 1, 1_000_000);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const redisClusterNodes = hostPorts(env, 'REDIS_CLUSTER_NODES');
  if (redisUrl !== null && redisClusterNodes !== null) {
    throw new ConfigError('REDIS_URL', 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  }
  const redisClusterAuth = clusterAuth(env, redisClusterNodes !== null);
  const apiKeys = list(env, 'API_KEYS');
  for (const key of apiKeys) {
    if (key.length < 16) throw new ConfigError('API_KEYS', 'expected keys of at least 16 characters each');
  }
  const adminToken = read(env, 'ADMIN_TOKEN') ?? null;
  if (adminToken !== null && adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN', 'expected at least 16 characters');
  const namespaces = loadNamespaces(read(env, 'NAMESPACES_FILE'));
  if (adminToken !== null && namespaces.some((rules) => rules.name === ADMIN_NAMESPACE)) {
    throw new ConfigError('NAMESPACES_FILE', `${ADMIN_NAMESPACE} is the status page's namespace while ADMIN_TOKEN is set: rename yours`);
  }
  const corsOrigins = list(env, 'CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError('CORS_ORIGINS', `expected a comma list of origins like https://app.example.com (or *), got "${origin}"`);
    }
  }
  const config: Config = {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    // Development mode runs on a secret anyone can read: only this machine may reach it unless HOST says otherwise.
    host: read(env, 'HOST') ?? (isDevelopment(env) ? '127.0.0.1' : '0.0.0.0'),
    nodeId: nodeId(env),
    redisUrl: redisUrl?.toString() ?? null,
    redisClusterNodes,
    redisClusterAuth,
    redisDurability: oneOf(env, 'REDIS_DURABILITY', 'lossy', ['lossy', 'lossless'] as const),
    production,
    jwt: jwt(env, production),
    apiKeys,
    adminToken,
    corsOrigins,
    parser: oneOf(env, 'PARSER', 'json', ['json', 'msgpack'] as const),
    history: {
      size: integer(env, 'HISTORY_SIZE', 1000, 0, 1_000_000),
      ttlSeconds: integer(env, 'HISTORY_TTL_S', 3600, 1, 30 * 24 * 3600),
      maxBytes: integer(env, 'HISTORY_MAX_BYTES', 256 * 1024 * 1024, 0, 1024 * 1024 * 1024 * 1024),
    },
    limits: {
      maxPayloadBytes: integer(env, 'MAX_PAYLOAD_BYTES', 65_536, 64, 16 * 1024 * 1024),
      maxRoomsPerSocket: integer(env, 'MAX_ROOMS_PER_SOCKET', 128, 1, 100_000),
      maxRoomMembers: integer(env, 'MAX_ROOM_MEMBERS', 50_000, 1, 10_000_000),
      rateLimitPerSecond,
      rateLimitBurst,
      maxConnections: integer(env, 'MAX_CONNECTIONS', 0, 0, 10_000_000),
      maxConnectionsPerUser: integer(env, 'MAX_CONNECTIONS_PER_USER', 100, 0, 1_000_000),
      acceptRatePerSecond: integer(env, 'ACCEPT_RATE_PER_S', 1000, 0, 1_000_000),
      memoryLimitBytes: integer(env, 'MEMORY_LIMIT_MB', 0, 0, 1_048_576) * 1024 * 1024,
      maxClientBufferBytes: integer(env, 'MAX_CLIENT_BUFFER_BYTES', 1_048_576, 1024, 1024 * 1024 * 1024),
      handshakeTimeoutMs: integer(env, 'HANDSHAKE_TIMEOUT_MS', 5000, 100, 600_000),
      maxConnectionsPerIp: integer(env, 'MAX_CONNECTIONS_PER_IP', 1000, 0, 10_000_000),
      acceptRatePerIpPerSecond: integer(env, 'ACCEPT_RATE_PER_IP_PER_S', 50, 0, 1_000_000),
      publishBytesPerUserPerSecond: integer(env, 'PUBLISH_BYTES_PER_USER_PER_S', 262_144, 0, 1024 * 1024 * 1024),
    },
    trustedProxies: trustedProxies(env),
    http: {
      headersTimeoutMs: integer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 3_600_000),
      requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
      keepAliveTimeoutMs: integer(env, 'HTTP_KEEPALIVE_TIMEOUT_MS', 65_000, 100, 3_600_000),
      listenBacklog: integer(env, 'LISTEN_BACKLOG', 4096, 1, 65_535),
    },
    largeRooms: {
      presenceEventsMaxMembers: integer(env, 'PRESENCE_EVENTS_MAX_MEMBERS', 100, 0, 10_000_000),
      slicedFanoutAbove: integer(env, 'LARGE_ROOM_MEMBERS', 10_000, 1, 10_000_000),
      fanoutSliceSize: integer(env, 'FANOUT_SLICE_SIZE', 1000, 1, 1_000_000),
    },
    heartbeat: { pingIntervalMs, pingTimeoutMs },
    drainTimeoutMs: integer(env, 'DRAIN_TIMEOUT_MS', 30_000, 0, 3_600_000),
    sse: { keepaliveMs: integer(env, 'SSE_KEEPALIVE_MS', 15_000, 10, 3_600_000) },
    nodeTtlMs: integer(env, 'NODE_TTL_MS', 15_000, 1_000, 600_000),
    subscriptionReconcileMs: integer(env, 'SUBSCRIPTION_RECONCILE_MS', 5_000, 100, 3_600_000),
    namespaces,
    ...backendIntegration(env, namespaces),
    autoJoinUserRoom: boolean(env, 'AUTO_JOIN_USER_ROOM', true),
    logLevel: oneOf<LogLevel>(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    logPretty: boolean(env, 'LOG_PRETTY', false),
  };
  return deepFreeze(config);
}
