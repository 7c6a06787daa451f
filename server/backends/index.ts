/** createBackends(config): memory for one node alone, Redis (one server or a Cluster) for many. */
import type { Config } from '../config/config.js';
import type { Logger } from '../ops/logger.js';
import type { BackendHooks, Backends } from './backends.js';
import { memoryBackends } from './memory/memory-backends.js';
import { redisBackends } from './redis/redis-backends.js';

export type { AdapterFactory, BackendHooks, Backends } from './backends.js';

export function createBackends(config: Config, logger: Logger, hooks: BackendHooks = {}): Promise<Backends> {
  const clustered = config.redisUrl !== null || config.redisClusterNodes !== null;
  return clustered ? redisBackends(config, logger, hooks) : Promise.resolve(memoryBackends(config));
}
