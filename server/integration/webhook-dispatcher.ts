/**
 * Delivers queued webhook events to WEBHOOK_URL (DESIGN "Backend integration",
 * "Webhooks"): the node that holds the queue's lease reads up to BATCH_MAX
 * events (waiting up to LINGER_MS for a batch to fill), POSTs them as one
 * delivery `{ id, createdAt, events }` signed with WEBHOOK_SECRET
 * (Roomcast-Signature, Roomcast-Webhook-Id), and acknowledges them on a 2xx.
 *
 * Anything else (a status, a timeout, a refused connection) is retried with
 * the same body, so the delivery keeps its id and its events' ids: the first
 * retry within RETRY_BASE_MS, then exponential backoff with jitter up to
 * RETRY_MAX_MS. A batch in retry holds back every later one (a room's events
 * keep their order). Once the batch's oldest event is older than
 * WEBHOOK_MAX_AGE_S it is dropped: counted, logged, acknowledged.
 *
 * The lease is renewed while a batch is in retry; a node that loses it (Redis
 * away longer than the lease) abandons the batch unacknowledged: the next
 * holder claims and sends it again (at least once; receivers dedupe by id).
 */
import { WEBHOOK_ID_HEADER, type WebhookDelivery, type WebhookEvent } from '../../shared/index.js';
import type { QueuedEvent, WebhookQueue } from '../core/webhook-queue.js';
import type { Logger } from '../ops/logger.js';
import { orderTransitions } from './webhook-order.js';
import { signedPost } from './signed-post.js';

/** At most this many events per delivery. */
export const BATCH_MAX = 100;
/** A batch that is not full waits this long after its oldest event for more. */
export const LINGER_MS = 50;
/** A batch is read again this long after its newest event, to take in racing appends of other nodes. */
export const SETTLE_MS = 10;
/** How often the delivering node looks for events other nodes queued (its own wake it at once). */
export const POLL_MS = 50;
/** One POST gets this long to answer 2xx; past it, it counts as failed and is retried. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** The first retry comes within this (DESIGN: within 10 s); each next one waits up to twice as long, to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;
/** How long stop() waits for a POST in progress. */
const STOP_GRACE_MS = 1_000;
/** After a failed Redis call (read, lease), wait this long before the next one. */
const QUEUE_ERROR_BACKOFF_MS = 500;

export interface WebhookDeliveryMetrics {
  /** A delivery answered 2xx; `ages` are its events' seconds from their ts to now. */
  delivered(ages: readonly number[]): void;
  /** A delivery failed and will be sent again. */
  retried(): void;
  /** A delivery dropped past WEBHOOK_MAX_AGE_S, with its events. */
  dropped(events: number): void;
}

export interface WebhookDispatcherOptions {
  queue: WebhookQueue;
  url: URL;
  /** WEBHOOK_SECRET. */
  secret: string;
  /** WEBHOOK_MAX_AGE_S. */
  maxAgeSeconds: number;
  logger: Logger;
  metrics?: WebhookDeliveryMetrics;
  timeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** In [0, 1): the jitter's source. */
  random?: () => number;
}

/** The wait before retry `attempt` (1 = the first): up to base·2^(attempt-1), capped, at least half of it ("equal jitter"). */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export class WebhookDispatcher {
  private running = false;
  private loop: Promise<void> | null = null;
  private sleeping: { timer: NodeJS.Timeout; resolve: () => void; wakeable: boolean } | null = null;
  private woken = false;
  private renewedAt = -Infinity;
  private holding = false;
  private renewing: Promise<boolean> | null = null;
  /** Renews the lease while a POST is in progress too (a slow receiver must not cost the lease). */
  private renewTimer: NodeJS.Timeout | null = null;
  private lastQueueErrorAt = 0;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { leaseMs } = this.options.queue;
    if (Number.isFinite(leaseMs)) {
      this.renewTimer = setInterval(() => {
        if (this.holding) void this.holdLease();
      }, leaseMs / 4);
    }
    this.loop = this.run().catch((error: unknown) => this.options.logger.error({ err: error }, 'the webhook dispatcher stopped unexpectedly'));
  }

  /** Events were queued on this node: look now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    if (this.sleeping?.wakeable) this.interrupt();
  }

  /**
   * Stops delivering and gives the lease up; with `drainMs`, first waits up to that long for the queue to empty. A POST in progress gets STOP_GRACE_MS to answer; past that the
   * node closes without waiting for it, its batch unacknowledged: queued (Redis: pending, claimed by the next
   * holder; memory: lost with the process), sent again, at least once.
   */
  async stop({ drainMs = 0 }: { drainMs?: number } = {}): Promise<void> {
    if (!this.running) return;
    // A queue no other node delivers (memory): what waits gets a moment to go before the process ends.
    const deadline = Date.now() + drainMs;
    this.wake();
    while (this.holding && Date.now() < deadline && (await this.options.queue.depth().catch(() => 0)) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.running = false;
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
    this.interrupt();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(grace);
    if (this.holding) await this.options.queue.release().catch(() => undefined);
  }

  private interrupt(): void {
    const sleeping = this.sleeping;
    if (sleeping === null) return;
    this.sleeping = null;
    clearTimeout(sleeping.timer);
    sleeping.resolve();
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (wakeable && this.woken) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping = null;
        resolve();
      }, ms);
      this.sleeping = { timer, resolve, wakeable };
    });
  }

  /** Takes or renews the lease when a third of it has passed; false when another node holds it or Redis fails. */
  private holdLease(): Promise<boolean> {
    const { queue } = this.options;
    if (this.holding && Date.now() - this.renewedAt < queue.leaseMs / 3) return Promise.resolve(true);
    // One renewal at a time (the loop and the timer both ask).
    this.renewing ??= this.renew().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async renew(): Promise<boolean> {
    const { queue } = this.options;
    const startedAt = Date.now();
    try {
      this.holding = await queue.acquire();
      if (this.holding) this.renewedAt = startedAt;
    } catch (error) {
      this.queueError(error, 'the webhook lease could not be renewed');
      // Held until it may have expired: renewing again is what matters.
      this.holding = this.holding && Date.now() - this.renewedAt < queue.leaseMs;
    }
    return this.holding;
  }

  private async run(): Promise<void> {
    const { queue } = this.options;
    while (this.running) {
      if (!(await this.holdLease())) {
        await this.sleep(Math.min(queue.leaseMs / 3, 1_000), false);
        continue;
      }
      let batch: QueuedEvent[];
      try {
        this.woken = false;
        batch = await queue.read(BATCH_MAX);
        const oldest = batch[0]?.event.ts;
        const newest = batch[batch.length - 1]?.event.ts;
        // Linger for a fuller batch; and even an old batch waits a moment after its newest event, so that
        // another node's append racing it (within a round trip) is in the same batch (see webhook-order.ts).
        if (oldest !== undefined && newest !== undefined && batch.length < BATCH_MAX && (Date.now() - oldest < LINGER_MS || Date.now() - newest < SETTLE_MS)) {
          // Bounded: another node's clock may be ahead of this one's.
          await this.sleep(Math.min(LINGER_MS, Math.max(LINGER_MS - (Date.now() - oldest), SETTLE_MS - (Date.now() - newest))), false);
          if (!this.running) return;
          batch = await queue.read(BATCH_MAX);
        }
      } catch (error) {
        this.queueError(error, 'webhook events could not be read from the queue');
        await this.sleep(QUEUE_ERROR_BACKOFF_MS, false);
        continue;
      }
      if (batch.length === 0) {
        await this.sleep(POLL_MS, true);
        continue;
      }
      await this.deliver(batch);
    }
  }

  /** Sends one batch until a 2xx, the max age, the lease lost or stop(). */
  private async deliver(batch: QueuedEvent[]): Promise<void> {
    const { queue, logger, metrics } = this.options;
    // Racing appends of two nodes put back in order (webhook-order.ts); retries send this same body.
    const events: WebhookEvent[] = orderTransitions(batch.map((entry) => entry.event));
    const delivery: WebhookDelivery = { id: crypto.randomUUID(), createdAt: Date.now(), events };
    const oldestTs = Math.min(...events.map((event) => event.ts));
    const maxAgeMs = this.options.maxAgeSeconds * 1000;
    for (let attempt = 1; this.running; attempt += 1) {
      if (Date.now() - oldestTs > maxAgeMs) {
        metrics?.dropped(events.length);
        logger.error(
          { delivery: delivery.id, events: events.length, attempts: attempt - 1, firstEvent: events[0]?.id, maxAgeSeconds: this.options.maxAgeSeconds },
          'webhook delivery dropped: not accepted within WEBHOOK_MAX_AGE_S',
        );
        await this.acknowledge(batch);
        return;
      }
      const outcome = await signedPost({
        url: this.options.url,
        secret: this.options.secret,
        body: delivery,
        timeoutMs: this.options.timeoutMs ?? WEBHOOK_TIMEOUT_MS,
        headers: { [WEBHOOK_ID_HEADER]: delivery.id },
      });
      if (!this.running && outcome.kind !== 'answered') return;
      // Any 2xx is accepted, whatever its body (a receiver owes none).
      if (outcome.kind === 'answered' && outcome.status >= 200 && outcome.status < 300) {
        const now = Date.now();
        metrics?.delivered(events.map((event) => Math.max(0, now - event.ts) / 1000));
        await this.acknowledge(batch);
        return;
      }
      metrics?.retried();
      const delay = retryDelayMs(attempt, this.options.retryBaseMs ?? RETRY_BASE_MS, this.options.retryMaxMs ?? RETRY_MAX_MS, this.options.random ?? Math.random);
      logger.warn(
        { delivery: delivery.id, attempt, retryInMs: delay, ...(outcome.kind === 'answered' ? { status: outcome.status } : { reason: outcome.reason }) },
        'webhook delivery failed; retrying',
      );
      // Wait, renewing the lease meanwhile; a node that lost it leaves the batch to the next holder.
      const until = Date.now() + delay;
      while (this.running && Date.now() < until) {
        if (!(await this.holdLease())) return;
        await this.sleep(Math.min(until - Date.now(), queue.leaseMs / 3), false);
      }
      if (!this.running || !(await this.holdLease())) return;
    }
  }

  private async acknowledge(batch: QueuedEvent[]): Promise<void> {
    const ids = batch.map((entry) => entry.entryId);
    // Not acknowledged (Redis away): the batch comes back on the next read and is sent again (at least once).
    await this.options.queue.ack(ids).catch((error: unknown) => this.queueError(error, 'delivered webhook events could not be acknowledged; they will be sent again'));
  }

  private queueError(error: unknown, message: string): void {
    if (Date.now() - this.lastQueueErrorAt < 5_000) return;
    this.lastQueueErrorAt = Date.now();
    this.options.logger.warn({ err: error }, message);
  }
}
