/**
 * Timers behind an interface, so the ordering logic can be driven by a fake
 * clock in tests and never depends on real time.
 */
export type TimerHandle = unknown;

export interface Scheduler {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  now(): number;
}

// Browsers and Node cannot wait longer than 2^31-1 ms; longer waits would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

export const realScheduler: Scheduler = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, Math.min(Math.max(ms, 0), MAX_TIMER_MS)),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
  now: () => Date.now(),
};
