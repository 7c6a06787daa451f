/** A deterministic clock for the SDK's Scheduler: timers fire only when the test advances time. */
import type { Scheduler, TimerHandle } from '../../client/scheduler.js';

export class FakeScheduler implements Scheduler {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 0) {
    this.current = start;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  now(): number {
    return this.current;
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves the clock forward, firing every timer due on the way, in time order. */
  advance(ms: number): void {
    const until = this.current + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, timer] of this.timers) {
        if (timer.at <= until && timer.at < nextAt) {
          nextId = id;
          nextAt = timer.at;
        }
      }
      if (nextId === undefined) break;
      const timer = this.timers.get(nextId);
      this.timers.delete(nextId);
      this.current = nextAt;
      timer?.callback();
    }
    this.current = until;
  }
}
