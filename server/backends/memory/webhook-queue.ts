/**
 * The webhook queue of a node alone: an array in this process. The node is the
 * only producer and always the delivering node (no lease to share). Events
 * waiting here are lost if the process dies (documented in the README and
 * docs/architecture.md, "Webhooks"); with Redis the queue outlives a node.
 */
import type { WebhookEvent } from '../../../shared/index.js';
import type { QueuedEvent, WebhookQueue } from '../../core/webhook-queue.js';

export class MemoryWebhookQueue implements WebhookQueue {
  readonly leaseMs = Infinity;
  private entries: QueuedEvent[] = [];
  private nextId = 1;

  enqueue(events: readonly WebhookEvent[]): Promise<void> {
    for (const event of events) this.entries.push({ entryId: String(this.nextId++), event });
    return Promise.resolve();
  }

  acquire(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** The oldest `max`: read and unacknowledged events stay in front, so a second read returns them again. */
  read(max: number): Promise<QueuedEvent[]> {
    return Promise.resolve(this.entries.slice(0, max));
  }

  ack(entryIds: readonly string[]): Promise<void> {
    const done = new Set(entryIds);
    this.entries = this.entries.filter((entry) => !done.has(entry.entryId));
    return Promise.resolve();
  }

  depth(): Promise<number> {
    return Promise.resolve(this.entries.length);
  }

  release(): Promise<void> {
    return Promise.resolve();
  }
}
