/** A plain node-redis connection to a test's own redis-server, for store tests and for inspecting keys. */
import { createClient } from 'redis';
import type { RedisCommands } from '../../server/cluster/redis-connections.js';

export interface TestRedisClient {
  commands: RedisCommands;
  flushAll(): Promise<void>;
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
