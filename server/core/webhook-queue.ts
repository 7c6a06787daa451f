/**
 * Where webhook events wait between the node that produced them and the node
 * that delivers them (see docs/architecture.md, "Webhooks"). Every node
 * appends; one node at a time delivers: the holder of the queue's lease, which
 * it renews while it runs. A holder that stops (crash, kill -9, partition) lets
 * its lease expire; the next holder first takes back what the old one had read
 * and not acknowledged, then reads on, so nothing queued is lost and a room's
 * events keep their order. Delivery is at least once: an entry is removed only
 * once delivered (or dropped past WEBHOOK_MAX_AGE_S).
 *
 * Implementations: memory (server/backends/memory/webhook-queue.ts: one node,
 * lost if the process dies) and Redis (server/backends/redis/webhook-queue.ts:
 * a stream with a consumer group, shared by every node).
 */
import type { WebhookEvent } from '../../shared/index.js';

/** An event as queued: `entryId` is the queue's own (for ack), `event.id` the receivers'. */
export interface QueuedEvent {
  entryId: string;
  event: WebhookEvent;
}

export interface WebhookQueue {
  /** Appends events in this order (a room's events from one node keep their order). */
  enqueue(events: readonly WebhookEvent[]): Promise<void>;
  /**
   * Takes or renews the delivering lease; true while this node holds it. Only the holder may read.
   * Called more often than the lease lasts (see leaseMs).
   */
  acquire(): Promise<boolean>;
  /** How long a lease lasts without renewal: a holder that stops is replaced after at most this. */
  readonly leaseMs: number;
  /**
   * Up to `max` events, oldest first: those read before and not acknowledged (by this node or a previous
   * holder) come first, then new ones. Reading again without ack returns the same events first.
   */
  read(max: number): Promise<QueuedEvent[]>;
  /** Removes delivered (or dropped) events for good. */
  ack(entryIds: readonly string[]): Promise<void>;
  /** Events waiting (read or not), for a gauge. */
  depth(): Promise<number>;
  /** Gives the lease up (a graceful stop): another node takes over at once. */
  release(): Promise<void>;
}
