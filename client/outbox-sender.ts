/**
 * Sends the outbox (outbox.ts): publications made while the client was offline,
 * or queued behind such ones. It owns their promises and timers; the client
 * tells it when the connection is back and gives it the means to send.
 *
 * Entries go oldest first, one at a time, each with its own idempotency key
 * (kept across retries: the gateway stores an entry once however often it is
 * sent), each after its room's rejoin. A retryable failure leaves the entry at
 * the head and retries later (with backoff, or on the next connect); any other
 * failure rejects it and goes on. An entry is never dropped silently: it is
 * sent, refused, expired (OUTBOX_EXPIRED only if never sent, see
 * Outbox.expiredError) or closed, and each of those but a success is also
 * reported through `onDropped`.
 */
import type { PublishResult } from '../shared/events.js';
import type { JsonValue } from '../shared/wire-types.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { deferred, type Deferred } from './deferred.js';
import { RoomcastError } from './errors.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import type { Scheduler, TimerHandle } from './scheduler.js';

/** A publication that left the outbox without being sent: expired, did not fit, refused for good, or the client closed. */
export interface OutboxDrop {
  room: string;
  event: string;
  data: unknown;
  idempotencyKey: string;
  error: RoomcastError;
}

/** What the sender needs from the client. */
export interface OutboxSenderHost {
  scheduler: Scheduler;
  backoff: BackoffOptions;
  /** The client's connection counter: a flush stops when the connection it started on is gone. */
  connection(): number;
  /** Connected and not closed. */
  connected(): boolean;
  closed(): boolean;
  /** Whether the room's rejoin is done ('ready', also for a room no longer tracked), or is slow and worth waiting for later ('retry'). */
  roomReady(room: string): Promise<'ready' | 'retry'>;
  /** Sends one entry as room:publish with its key; rejects with a RoomcastError. */
  send(entry: OutboxEntry<JsonValue>): Promise<PublishResult>;
  onDropped(drop: OutboxDrop): void;
}

export class OutboxSender {
  private readonly waiters = new Map<OutboxEntry<JsonValue>, Deferred<PublishResult>>();
  private expiryTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private retries = 0;
  private flushing = false;
  /** The entry being sent now: it does not expire under the request. */
  private sending: OutboxEntry<JsonValue> | undefined;

  constructor(
    private readonly outbox: Outbox<JsonValue>,
    private readonly host: OutboxSenderHost,
  ) {}

  get size(): number {
    return this.outbox.size;
  }

  /** A publication now goes through the outbox while offline, and behind entries still waiting. */
  shouldQueue(): boolean {
    return !this.host.connected() || this.outbox.size > 0;
  }

  /** Queues a publication (OUTBOX_FULL when it does not fit); the promise settles when it is sent or given up. */
  enqueue(room: string, event: string, data: JsonValue, idempotencyKey: string | undefined): Promise<PublishResult> {
    this.expire();
    let item: OutboxEntry<JsonValue>;
    try {
      item = this.outbox.enqueue(room, event, data, idempotencyKey);
    } catch (error) {
      const failure = RoomcastError.from(error, { room, event: 'room:publish' });
      this.host.onDropped({ room, event, data, idempotencyKey: idempotencyKey ?? '', error: failure });
      return Promise.reject(failure);
    }
    const waiter = deferred<PublishResult>();
    this.waiters.set(item, waiter);
    this.armExpiry();
    if (this.host.connected()) void this.flush();
    return waiter.promise;
  }

  /** The connection is back (and the rooms' rejoins were sent): send what waits. */
  onConnect(): void {
    this.retries = 0;
    void this.flush();
  }

  /** The client closed: every entry is given up with `error`. */
  close(error: RoomcastError): void {
    if (this.expiryTimer !== undefined) this.host.scheduler.clearTimeout(this.expiryTimer);
    if (this.retryTimer !== undefined) this.host.scheduler.clearTimeout(this.retryTimer);
    this.expiryTimer = undefined;
    this.retryTimer = undefined;
    for (const item of this.outbox.clear()) this.drop(item, error);
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const connection = this.host.connection();
    const stillCurrent = (): boolean => !this.host.closed() && this.host.connected() && this.host.connection() === connection;
    try {
      for (;;) {
        this.expire();
        const item = this.outbox.peek();
        if (item === undefined || !stillCurrent()) return;
        // The gateway accepts a publication only once the room is rejoined. A slow rejoin: try again later; a
        // room that was dropped gets the publication anyway, and its refusal is reported.
        const room = await this.host.roomReady(item.room);
        if (!stillCurrent()) return;
        if (room === 'retry') {
          this.retryLater();
          return;
        }
        if (this.outbox.peek() !== item) continue; // expired while waiting
        item.attempts += 1;
        this.sending = item;
        let result: PublishResult;
        try {
          result = await this.host.send(item);
        } catch (error) {
          this.sending = undefined;
          const failure = RoomcastError.from(error, { room: item.room, event: 'room:publish', idempotencyKey: item.idempotencyKey });
          if (failure.retryable) {
            // Outcome unknown or refused for now: the entry stays first, with its key. Once its TTL has
            // passed it is reported (never as OUTBOX_EXPIRED once sent: see Outbox.expiredError).
            Outbox.attemptFailed(item, failure);
            if (stillCurrent()) this.retryLater();
            return;
          }
          this.outbox.remove(item);
          this.drop(item, failure);
          continue;
        }
        this.sending = undefined;
        this.retries = 0;
        this.outbox.remove(item);
        const waiter = this.waiters.get(item);
        this.waiters.delete(item);
        waiter?.resolve(result);
      }
    } finally {
      this.flushing = false;
      this.sending = undefined;
      this.armExpiry();
      // A connect that came while this flush was ending on the old connection: flush on the new one.
      if (!this.host.closed() && this.host.connected() && this.host.connection() !== connection && this.outbox.size > 0) void this.flush();
    }
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.host.scheduler.setTimeout(
      () => {
        this.retryTimer = undefined;
        void this.flush();
      },
      backoffDelay(this.retries++, this.host.backoff),
    );
  }

  /** Takes out the expired entries (not the one being sent) and reports each. */
  private expire(): void {
    for (const item of this.outbox.takeExpired(this.sending)) this.drop(item, Outbox.expiredError(item));
  }

  private drop(item: OutboxEntry<JsonValue>, error: RoomcastError): void {
    const waiter = this.waiters.get(item);
    this.waiters.delete(item);
    this.host.onDropped({ room: item.room, event: item.event, data: item.data, idempotencyKey: item.idempotencyKey, error });
    waiter?.reject(error);
  }

  /** A timer at the next expiry, so an entry's TTL is reported on time even while offline. */
  private armExpiry(): void {
    if (this.expiryTimer !== undefined) this.host.scheduler.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const next = this.host.closed() ? undefined : this.outbox.nextExpiry();
    if (next === undefined) return;
    this.expiryTimer = this.host.scheduler.setTimeout(() => {
      this.expiryTimer = undefined;
      this.expire();
      this.armExpiry();
    }, next - this.host.scheduler.now());
  }
}
