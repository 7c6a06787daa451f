/**
 * Plain node-redis connections to a test's own redis-server (or Redis Cluster),
 * for store tests and for inspecting keys.
 */
import { createClient, createCluster } from 'redis';
import type { RedisCommands } from '../../server/backends/redis/redis-connections.js';

export interface TestRedisClient {
  commands: RedisCommands;
  flushAll(): Promise<void>;
  /**
   * One command. On a Redis Cluster it goes to the master owning the slot of
   * its first key (`args[1]`), so it must be a single-key command (HGETALL,
   * XRANGE, GET, SET...).
   */
  sendCommand(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

export async function connectTestRedis(url: string): Promise<TestRedisClient> {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  return {
    commands: client as unknown as RedisCommands,
    flushAll: async () => {
      await client.flushAll();
    },
    sendCommand: (args) => client.sendCommand(args),
    close: async () => {
      await client.close();
    },
  };
}

/** A cluster client on `nodes` (the masters, or any of them: it discovers the rest); commands are routed by key slot. */
export async function connectTestRedisCluster(nodes: ReadonlyArray<{ host: string; port: number }>): Promise<TestRedisClient> {
  const cluster = createCluster({
    rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    defaults: { socket: { reconnectStrategy: false, connectTimeout: 2_000 } },
  });
  cluster.on('error', () => undefined);
  await cluster.connect();
  return {
    commands: cluster as unknown as RedisCommands,
    flushAll: async () => {
      for (const master of cluster.masters) await (await cluster.nodeClient(master)).flushAll();
    },
    sendCommand: (args) => cluster.sendCommand(args[1], false, args),
    close: async () => {
      await cluster.close();
    },
  };
}
