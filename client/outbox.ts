/**
 * Publications made while the client is offline wait here, in order, and are
 * sent once the connection (and the room's rejoin) is back. Each entry gets its
 * idempotency key when it is enqueued and keeps it through every retry, so the
 * gateway stores it once however many times a flush is retried (a repeated key
 * returns the original offset). The outbox is bounded: at most `maxEntries`
 * entries (a publication beyond that is refused with OUTBOX_FULL) and each lives
 * at most `ttlMs`, then it is taken out (never while an attempt is in flight) and
 * reported: OUTBOX_EXPIRED only if it was never sent; if an attempt went
 * unanswered the gateway may have stored it, so it fails with UNAVAILABLE,
 * `unknown: true` and its key (retry with that key, never a new one: a new key
 * could store it twice); if every attempt was refused, with the last refusal.
 * No entry ever leaves the outbox silently: it is sent, refused, expired or closed.
 *
 * Pure bookkeeping with an injected clock: the client does the sending.
 */
import { RoomcastError } from './errors.js';
import type { Scheduler } from './scheduler.js';

export interface OutboxOptions {
  /** Entries kept at most; a publication beyond is refused with OUTBOX_FULL. Default 100. */
  maxEntries?: number;
  /** How long an entry may wait before it is dropped with OUTBOX_EXPIRED. Default 60 000 ms. */
  ttlMs?: number;
}

export const DEFAULT_OUTBOX_MAX_ENTRIES = 100;
export const DEFAULT_OUTBOX_TTL_MS = 60_000;

export interface OutboxEntry<T = unknown> {
  /** The idempotency key sent with every attempt of this entry. */
  readonly idempotencyKey: string;
  readonly room: string;
  readonly event: string;
  readonly data: T;
  readonly enqueuedAt: number;
  readonly expiresAt: number;
  /** Send attempts so far (a retried flush reuses the key). */
  attempts: number;
  /** Some attempt got no answer: the gateway may have stored the entry. */
  unanswered: boolean;
  /** The last attempt refused by the gateway (retryably), if any. */
  lastRefusal: RoomcastError | undefined;
}

/** A random idempotency key: crypto.randomUUID where available (Node, secure browser contexts), else getRandomValues. */
export function newIdempotencyKey(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return `rc-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

export class Outbox<T = unknown> {
  readonly maxEntries: number;
  readonly ttlMs: number;
  private readonly entries: Array<OutboxEntry<T>> = [];
  private readonly now: () => number;
  private readonly newKey: () => string;

  constructor(options: OutboxOptions & { scheduler: Pick<Scheduler, 'now'>; newKey?: () => string }) {
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? DEFAULT_OUTBOX_MAX_ENTRIES));
    this.ttlMs = Math.max(0, options.ttlMs ?? DEFAULT_OUTBOX_TTL_MS);
    this.now = () => options.scheduler.now();
    this.newKey = options.newKey ?? newIdempotencyKey;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The waiting entries, oldest first (a copy). */
  list(): Array<OutboxEntry<T>> {
    return [...this.entries];
  }

  /** The oldest entry, which the next flush sends first. */
  peek(): OutboxEntry<T> | undefined {
    return this.entries[0];
  }

  /**
   * Queues a publication; its key is `idempotencyKey` when given, else a new one.
   * Throws OUTBOX_FULL (after taking out expired entries) when there is no room.
   */
  enqueue(room: string, event: string, data: T, idempotencyKey?: string): OutboxEntry<T> {
    if (this.entries.length >= this.maxEntries) {
      throw RoomcastError.local('OUTBOX_FULL', `the outbox holds ${this.maxEntries} publications already`, { room, event: 'room:publish' });
    }
    const now = this.now();
    const entry: OutboxEntry<T> = {
      idempotencyKey: idempotencyKey ?? this.newKey(),
      room,
      event,
      data,
      enqueuedAt: now,
      expiresAt: now + this.ttlMs,
      attempts: 0,
      unanswered: false,
      lastRefusal: undefined,
    };
    this.entries.push(entry);
    return entry;
  }

  /**
   * Takes out and returns every entry whose TTL has passed, oldest first; `except`
   * (the entry being sent: its outcome is not known yet) stays.
   */
  takeExpired(except?: OutboxEntry<T>): Array<OutboxEntry<T>> {
    const now = this.now();
    const expired: Array<OutboxEntry<T>> = [];
    for (let i = 0; i < this.entries.length; ) {
      const entry = this.entries[i] as OutboxEntry<T>;
      if (entry.expiresAt <= now && entry !== except) {
        expired.push(entry);
        this.entries.splice(i, 1);
      } else {
        i += 1;
      }
    }
    return expired;
  }

  /** When the next entry expires (ms since the epoch), or undefined when empty. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const entry of this.entries) if (next === undefined || entry.expiresAt < next) next = entry.expiresAt;
    return next;
  }

  /** Takes an entry out (sent, or refused for good). Returns false if it was not there. */
  remove(entry: OutboxEntry<T>): boolean {
    const index = this.entries.indexOf(entry);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    return true;
  }

  /** Takes every entry out (client closed), oldest first. */
  clear(): Array<OutboxEntry<T>> {
    return this.entries.splice(0);
  }

  /** Records a send attempt that failed retryably (the entry stays, to be sent again with its key). */
  static attemptFailed(entry: OutboxEntry<unknown>, error: RoomcastError): void {
    if (error.unknown) entry.unanswered = true;
    else entry.lastRefusal = error;
  }

  /**
   * The error an entry taken out past its TTL is reported with: OUTBOX_EXPIRED only
   * when it was never sent (surely not stored); UNAVAILABLE with `unknown: true`
   * when an attempt went unanswered (it may be stored: retry with its key); the
   * last refusal when every attempt was refused (not stored).
   */
  static expiredError(entry: OutboxEntry<unknown>): RoomcastError {
    const context = { room: entry.room, event: 'room:publish', idempotencyKey: entry.idempotencyKey };
    const waited = entry.expiresAt - entry.enqueuedAt;
    if (entry.attempts === 0) return RoomcastError.local('OUTBOX_EXPIRED', `not sent within ${waited} ms while offline`, context);
    const refusal = entry.lastRefusal;
    if (!entry.unanswered && refusal !== undefined) {
      return new RoomcastError({ code: refusal.code, message: refusal.message, retryable: refusal.retryable }, { ...context, cause: refusal });
    }
    return RoomcastError.local('UNAVAILABLE', `sent but not acknowledged within ${waited} ms: it may have been stored, retry with its idempotency key`, {
      ...context,
      unknown: true,
    });
  }
}
