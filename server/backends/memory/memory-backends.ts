/** One node alone: history and presence in this process, Socket.IO's in-memory adapter. */
import type { Config } from '../../config/config.js';
import type { Backends } from '../backends.js';
import { MemoryHistoryStore } from './history.js';
import { MemoryPresenceStore } from './presence.js';
import { MemoryWebhookQueue } from './webhook-queue.js';

export function memoryBackends(config: Config): Backends {
  const history = new MemoryHistoryStore({ size: config.history.size, ttlSeconds: config.history.ttlSeconds, maxBytes: config.history.maxBytes });
  const presence = new MemoryPresenceStore();
  return {
    redisMode: 'none',
    history,
    presence,
    webhookQueue: new MemoryWebhookQueue(),
    adapter: null,
    roomChannels: null,
    subscriberReady: null,
    redis: null,
    canary: null,
    onReceptionRestored: () => () => undefined,
    historyStats: () => history.stats(),
    start: async () => undefined,
    ready: () => ({ ready: true }),
    async close() {
      await history.close();
      await presence.close();
    },
  };
}
