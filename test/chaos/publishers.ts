/**
 * Publishers at a steady total rate through the HTTP API of random nodes (their
 * own URLs, not NGINX). Each publication has a unique idempotency key and data
 * `{ p, s, k }` (publisher, sequence number, key). Per the delivery contract:
 * - 2xx: stored; its { room, epoch, offset } goes to the ledger;
 * - a 4xx/5xx answer to the first attempt: not stored, counted as refused, never retried;
 * - no answer (reset, timeout): unknown, so it is retried with the same key on
 *   another node until an answer settles it. After an unanswered attempt an
 *   error answer does not settle it (the unanswered attempt may have stored it),
 *   so it is retried too, until a 2xx or the retry deadline (then `unknown`,
 *   which fails the run: nothing can be proved about it).
 * A node that refuses the connection (ECONNREFUSED: down) received nothing; the
 * publication just goes to another node.
 */
import type { Ledger, PublishAttempt, PublishRecord } from './ledger.js';
import type { Rng } from './rng.js';

export interface PublishTarget {
  id: string;
  url: string;
}

export interface PublisherOptions {
  ledger: Ledger;
  rng: Rng;
  /** The nodes as they are now (a restarted node keeps its id and URL). */
  targets: readonly PublishTarget[];
  rooms: readonly string[];
  /** Publications per second, all publishers together. */
  rate: number;
  publishers: number;
  apiKey: string;
  /** Makes keys unique across runs against the same Redis. */
  runId: string;
  now: () => number;
  requestTimeoutMs?: number;
  retryDeadlineMs?: number;
  /** Publications of one publisher waiting for an answer; a tick beyond it is skipped (and counted). */
  maxInFlight?: number;
}

export interface PublisherStats {
  sent: number;
  published: number;
  refused: number;
  unknown: number;
  pending: number;
  skippedTicks: number;
  retries: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The `publisher` number of the probe's publications (publishVia). */
export const PROBE_PUBLISHER = 99;

export class PublisherFleet {
  private readonly options: Required<PublisherOptions>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loops: Array<Promise<void>> = [];
  private running = false;
  private probes = 0;
  /** Rooms the fleet leaves alone for now (the churn fault publishes there itself). */
  private readonly paused = new Set<string>();
  private readonly stats: PublisherStats = { sent: 0, published: 0, refused: 0, unknown: 0, pending: 0, skippedTicks: 0, retries: 0 };

  constructor(options: PublisherOptions) {
    this.options = { requestTimeoutMs: 5_000, retryDeadlineMs: 20_000, maxInFlight: 100, ...options };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const interval = (1_000 * this.options.publishers) / this.options.rate;
    for (let publisher = 0; publisher < this.options.publishers; publisher += 1) {
      // Staggered so the publishers do not all fire in the same millisecond.
      this.loops.push(this.loop(publisher, interval, (interval * publisher) / this.options.publishers));
    }
  }

  /** Stops the ticks and waits for every publication to be settled (bounded by the retry deadline). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.allSettled([...this.inFlight]);
  }

  /** The fleet stops publishing in `rooms` (until resume()): their publications are then only those of publishVia(). */
  pause(rooms: readonly string[]): void {
    for (const room of rooms) this.paused.add(room);
  }

  resume(rooms: readonly string[]): void {
    for (const room of rooms) this.paused.delete(room);
  }

  snapshot(): PublisherStats {
    return { ...this.stats, pending: this.inFlight.size };
  }

  private async loop(publisher: number, interval: number, offsetMs: number): Promise<void> {
    const rng = this.options.rng.fork(`publisher-${publisher}`);
    let seq = 0;
    let own = 0;
    let next = Date.now() + offsetMs;
    while (this.running) {
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      if (!this.running) break;
      next += interval;
      // Far behind (the event loop stalled): do not burst to catch up.
      if (Date.now() - next > 1_000) next = Date.now();
      if (own >= this.options.maxInFlight) {
        this.stats.skippedTicks += 1;
        continue;
      }
      seq += 1;
      own += 1;
      const run = this.publishOne(publisher, seq, rng).finally(() => {
        own -= 1;
        this.inFlight.delete(run);
      });
      this.inFlight.add(run);
    }
  }

  /**
   * One publication to `room` through node `targetId` first (the probe after the
   * run), settled like the fleet's own (retried elsewhere without an answer).
   * Resolves with its record once settled.
   */
  async publishVia(targetId: string, room: string): Promise<PublishRecord> {
    this.probes += 1;
    const seq = this.probes;
    const rng = this.options.rng.fork(`probe-${seq}`);
    let record: PublishRecord | undefined;
    await this.publishOne(PROBE_PUBLISHER, seq, rng, { targetId, room }, (created) => (record = created));
    return record as unknown as PublishRecord;
  }

  private async publishOne(publisher: number, seq: number, rng: Rng, forced?: { targetId: string; room: string }, created?: (record: PublishRecord) => void): Promise<void> {
    const { ledger, targets, rooms, now } = this.options;
    const key = publisher === PROBE_PUBLISHER ? `${this.options.runId}-probe-${seq}` : `${this.options.runId}-p${publisher}-${seq}`;
    const open = this.paused.size === 0 ? rooms : rooms.filter((room) => !this.paused.has(room));
    const record: PublishRecord = { key, publisher, seq, room: forced?.room ?? rng.pick(open.length > 0 ? open : rooms), outcome: 'pending', attempts: [], sentAt: now() };
    created?.(record);
    ledger.addPublication(record);
    this.stats.sent += 1;
    const body = JSON.stringify({ room: record.room, event: 'chaos', data: { p: publisher, s: seq, k: key }, idempotencyKey: key });
    const deadline = Date.now() + this.options.retryDeadlineMs;
    let target = targets.find((candidate) => candidate.id === forced?.targetId) ?? rng.pick(targets);
    let unanswered = false;
    for (let attemptNo = 0; ; attemptNo += 1) {
      const { attempt, result } = await this.post(target, body);
      record.attempts.push(attempt);
      if (attempt.result === 'ok' && result !== undefined) {
        record.outcome = 'published';
        record.epoch = result.epoch;
        record.offset = result.offset;
        record.answeredAt = now();
        this.stats.published += 1;
        return;
      }
      if (attempt.result === 'error' && !unanswered) {
        record.outcome = 'refused';
        record.refusal = { status: attempt.status ?? 0, code: attempt.detail ?? '', node: attempt.node };
        record.answeredAt = now();
        this.stats.refused += 1;
        return;
      }
      if (attempt.result === 'no-answer') unanswered = true;
      if (Date.now() > deadline) {
        record.outcome = 'unknown';
        this.stats.unknown += 1;
        return;
      }
      this.stats.retries += 1;
      const others = targets.filter((candidate) => candidate.id !== target.id);
      target = others.length > 0 ? rng.pick(others) : target;
      await sleep(Math.min(100 * 2 ** Math.min(attemptNo, 4), 1_000));
    }
  }

  private async post(target: PublishTarget, body: string): Promise<{ attempt: PublishAttempt; result?: { epoch: string; offset: number } }> {
    const at = this.options.now();
    let response: Response;
    try {
      response = await fetch(`${target.url}/api/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.apiKey}` },
        body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
    } catch (error) {
      const code = causeCode(error);
      return { attempt: { node: target.id, at, result: code === 'ECONNREFUSED' ? 'unreachable' : 'no-answer', detail: code } };
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch (error) {
      // A 2xx whose body was cut off is no answer; an error status is an answer by itself.
      if (response.ok) return { attempt: { node: target.id, at, result: 'no-answer', status: response.status, detail: `body: ${causeCode(error)}` } };
      return { attempt: { node: target.id, at, result: 'error', status: response.status, detail: 'unreadable body' } };
    }
    if (response.ok) {
      const first = (parsed as { results?: Array<{ epoch?: unknown; offset?: unknown }> }).results?.[0];
      if (typeof first?.epoch === 'string' && typeof first.offset === 'number') {
        return { attempt: { node: target.id, at, result: 'ok', status: response.status }, result: { epoch: first.epoch, offset: first.offset } };
      }
      // A 2xx means stored; without its offset it settles nothing: ask again with the same key.
      return { attempt: { node: target.id, at, result: 'no-answer', status: response.status, detail: `unexpected 2xx body ${JSON.stringify(parsed).slice(0, 200)}` } };
    }
    const code = (parsed as { error?: { code?: unknown } }).error?.code;
    return { attempt: { node: target.id, at, result: 'error', status: response.status, detail: typeof code === 'string' ? code : 'no code' } };
  }
}

/** The errno-like code under fetch's `TypeError: fetch failed` (or the abort's name). */
function causeCode(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return error.name;
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 3 && cause instanceof Error; depth += 1) {
    const code = (cause as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = cause.cause ?? (cause instanceof AggregateError ? cause.errors[0] : undefined);
  }
  return error.message;
}
