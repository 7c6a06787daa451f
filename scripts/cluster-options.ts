/** What `npm run cluster` should start, from its flags and environment. Pure, so it can be tested. */
import { parseArgs } from 'node:util';
import { GATEWAY_SETTINGS, PER_NODE_SETTINGS, REDIS_SETTINGS, type GatewaySetting } from '../server/config/settings.js';

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
REDIS_TLS) use that Redis instead of starting one. Every other gateway setting
set in the environment (ADMIN_TOKEN, API_KEYS, JWT_SECRET, WEBHOOK_URL, LOG_LEVEL,
MAX_PAYLOAD_BYTES, ...: the README's settings table) is passed on to every node,
except PORT, HOST and NODE_ID, which this script sets per node. Without JWT
settings the nodes run in development mode (POST /dev/token, through NGINX too).
`;

/**
 * Gateway settings passed on to every node when set: every setting the gateway reads (server/config/settings.ts),
 * except those the script sets per node (PORT, HOST, NODE_ID) and the Redis ones, which choose the Redis (redisPlan).
 */
export const PASSED_SETTINGS: readonly GatewaySetting[] = GATEWAY_SETTINGS.filter((name) => !PER_NODE_SETTINGS.includes(name) && !REDIS_SETTINGS.includes(name));

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
