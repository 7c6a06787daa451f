import { MemoryWebhookQueue } from '../../server/backends/memory/webhook-queue.js';
import { webhookQueueContract } from '../contract/webhook-queue.contract.js';

// One node alone: each queue is its own store (no lease to share).
webhookQueueContract('memory', { create: async () => new MemoryWebhookQueue(), reset: async () => undefined, shared: false });
