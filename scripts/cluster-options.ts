/** What `npm run cluster` should start, from its flags and environment. Pure, so it can be tested. */
import { parseArgs } from 'node:util';

export const CLUSTER_USAGE = `Usage: npm run cluster -- [options]

Starts a local Roomcast deployment: Redis, N gateway nodes (NODE_ID node1..N)
and NGINX in front, all on 127.0.0.1. Ctrl-C stops everything.

  --nodes N            gateway nodes (default 3)
  --listen PORT        NGINX port (default: a free port)
  --first-port PORT    node ports PORT, PORT+1, ... (default: free ports)
  --redis MODE         single (default): a redis-server on a free port, in a temp dir;
                       cluster: a three-master Redis Cluster;
                       none: no Redis, every node on its own (sticky routing still works)
  --help               this text

Environment: REDIS_URL or REDIS_CLUSTER_NODES (with REDIS_USERNAME, REDIS_PASSWORD,
REDIS_TLS) use that Redis instead of starting
one. Gateway settings (JWT_SECRET, API_KEYS, LOG_LEVEL, ...) are passed on to
every node; without JWT settings the nodes run in development mode (POST /dev/token).
`;

/** Gateway settings passed on to every node when set; address, identity and Redis are the script's own. */
export const PASSED_SETTINGS = [
  'JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'API_KEYS', 'CORS_ORIGINS', 'PARSER',
  'HISTORY_SIZE', 'HISTORY_TTL_S', 'MAX_PAYLOAD_BYTES', 'MAX_ROOMS_PER_SOCKET', 'MAX_ROOM_MEMBERS',
  'RATE_LIMIT_PER_S', 'RATE_LIMIT_BURST', 'PING_INTERVAL_MS', 'PING_TIMEOUT_MS', 'DRAIN_TIMEOUT_MS',
  'NAMESPACES_FILE', 'LOG_LEVEL', 'LOG_PRETTY', 'NODE_ENV',
  'TOKEN_MAX_TTL_S', 'HANDSHAKE_TIMEOUT_MS', 'TRUSTED_PROXIES', 'MAX_CONNECTIONS_PER_IP', 'ACCEPT_RATE_PER_IP_PER_S',
  'HISTORY_MAX_BYTES', 'PUBLISH_BYTES_PER_USER_PER_S', 'REDIS_DURABILITY', 'SUBSCRIPTION_RECONCILE_MS',
] as const;

export type RedisPlan = { kind: 'none' } | { kind: 'start-single' } | { kind: 'start-cluster' } | { kind: 'given'; env: Record<string, string> };

export interface ClusterPlan {
  nodes: number;
  listen: number | undefined;
  firstPort: number | undefined;
  redis: RedisPlan;
  /** Environment for every node, besides PORT, HOST, NODE_ID and the Redis variables. */
  nodeEnv: Record<string, string>;
}

export type ClusterCommand = { help: true } | ({ help: false } & ClusterPlan);

export function parseClusterArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ClusterCommand {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      nodes: { type: 'string', default: '3' },
      listen: { type: 'string' },
      'first-port': { type: 'string' },
      redis: { type: 'string', default: 'single' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return { help: true };

  const nodes = integer(values.nodes, '--nodes', 1, 64);
  const firstPort = values['first-port'] === undefined ? undefined : integer(values['first-port'], '--first-port', 1, 65_535 - nodes + 1);
  const listen = values.listen === undefined ? undefined : integer(values.listen, '--listen', 1, 65_535);
  return { help: false, nodes, listen, firstPort, redis: redisPlan(values.redis, env), nodeEnv: nodeEnv(env) };
}

function redisPlan(mode: string, env: NodeJS.ProcessEnv): RedisPlan {
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) throw new RangeError('set REDIS_URL or REDIS_CLUSTER_NODES, not both');
  if (env.REDIS_URL) return { kind: 'given', env: { REDIS_URL: env.REDIS_URL } };
  if (env.REDIS_CLUSTER_NODES) {
    // A Cluster's credentials and TLS are settings of their own (REDIS_URL carries its own).
    const auth = Object.fromEntries(['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS'].flatMap((name) => (env[name] ? [[name, env[name] as string]] : [])));
    return { kind: 'given', env: { REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES, ...auth } };
  }
  if (mode === 'single') return { kind: 'start-single' };
  if (mode === 'cluster') return { kind: 'start-cluster' };
  if (mode === 'none') return { kind: 'none' };
  throw new RangeError(`--redis: expected single, cluster or none, got "${mode}"`);
}

function nodeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const passed: Record<string, string> = { LOG_LEVEL: 'info' };
  for (const name of PASSED_SETTINGS) {
    const value = env[name];
    if (value !== undefined && value !== '') passed[name] = value;
  }
  return passed;
}

function integer(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new RangeError(`${flag}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}
