/**
 * How many clients of a draining node are told to move now, paced by how fast
 * the other nodes take them in (clients seen elsewhere, counted by the caller).
 *
 * Two rules, the larger wins:
 * - The schedule: every client is told by `spreadEndMs`, evenly. It is the
 *   fixed plan (drain-plan.ts) stretched over the whole usable window: the last
 *   ones told still leave, and stragglers are closed, before DRAIN_TIMEOUT_MS.
 *   It alone paces a drain whose acceptance cannot be read (`accepted`
 *   undefined), and a cluster that accepts more slowly than it.
 * - The pace: while the others keep up, more are told: about QUEUE_S seconds of
 *   what the others accept per second may be in flight (told, not yet seen
 *   elsewhere), so the pace grows as long as they keep up. A client told more
 *   than IN_FLIGHT_MS ago and not seen elsewhere (it went away, or joins no
 *   room) no longer holds the pace back.
 * Telling clients faster than the other nodes accept them does not move them
 * sooner: the accepting nodes queue handshakes until sessions time out
 * (HANDSHAKE_TIMEOUT_MS) and clients retry, doing the same work several times.
 */
import { SPREAD_SHARE } from './drain-plan.js';

/** How often the pace is set. */
export const PACE_TICK_MS = 250;
/** Seconds of the others' acceptance rate allowed in flight. */
const QUEUE_S = 2;
/** In flight at least (the first wave, and while the acceptance rate is still unknown). */
const MIN_IN_FLIGHT = 50;
/** A client told longer ago than this no longer counts as in flight. */
const IN_FLIGHT_MS = 3000;
/** The acceptance rate is measured over this window. */
const RATE_WINDOW_MS = 1000;
/** Between the last client told and the end of its grace: the client's own jitter (500 ms) and a margin. */
const LAST_TURN_MARGIN_MS = 1500;

/** When the last client is told at the latest: the window less the grace and a margin, and never before the fixed plan's spread. */
export function spreadEndMs(drainTimeoutMs: number, graceMs: number): number {
  return Math.max(Math.floor(drainTimeoutMs * SPREAD_SHARE), drainTimeoutMs - graceMs - LAST_TURN_MARGIN_MS);
}

export class DrainPacer {
  private released = 0;
  private readonly releases: Array<{ at: number; count: number }> = [];
  private readonly samples: Array<{ at: number; accepted: number }> = [];

  constructor(
    private readonly total: number,
    /** When the last client is told at the latest, ms after `startedAt` (spreadEndMs). */
    private readonly spreadMs: number,
    private readonly startedAt: number,
  ) {}

  get remaining(): number {
    return this.total - this.released;
  }

  /** `accepted`: clients taken in elsewhere since the drain began (undefined: unknown now). Returns how many to tell now. */
  next(now: number, accepted: number | undefined): number {
    const remaining = this.remaining;
    if (remaining <= 0) return 0;
    const elapsed = now - this.startedAt;
    const due = elapsed >= this.spreadMs ? this.total : Math.ceil((this.total * elapsed) / this.spreadMs);
    const scheduled = Math.max(0, due - this.released);
    if (accepted === undefined) return this.release(now, Math.min(remaining, scheduled));
    this.samples.push({ at: now, accepted });
    while (this.samples.length > 1 && now - (this.samples[0] as { at: number }).at > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0] as { at: number; accepted: number };
    const rate = now > first.at ? ((accepted - first.accepted) * 1000) / (now - first.at) : 0;
    while (this.releases.length > 0 && now - (this.releases[0] as { at: number }).at > IN_FLIGHT_MS) this.releases.shift();
    const recent = this.releases.reduce((sum, wave) => sum + wave.count, 0);
    const inFlight = Math.min(Math.max(0, this.released - accepted), recent);
    const paced = Math.max(0, Math.floor(Math.max(MIN_IN_FLIGHT, rate * QUEUE_S) - inFlight));
    return this.release(now, Math.min(remaining, Math.max(scheduled, paced)));
  }

  private release(now: number, count: number): number {
    if (count > 0) {
      this.released += count;
      this.releases.push({ at: now, count });
    }
    return count;
  }
}
