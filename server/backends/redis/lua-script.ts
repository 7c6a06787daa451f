/**
 * A Lua script run by its SHA (EVALSHA), loaded with EVAL the first time a
 * server does not know it (NOSCRIPT), e.g. after a Redis restart.
 * All keys of one script call share a hash tag, so it also runs on Redis Cluster.
 */
import { createHash } from 'node:crypto';
import type { RedisCommands } from './redis-connections.js';

export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisCommands, keys: string[], args: Array<string | number>): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await redis.evalSha(this.sha, options);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return redis.eval(this.source, options);
    }
  }
}
