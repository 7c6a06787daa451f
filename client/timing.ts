/**
 * Rate shaping for high-frequency events (cursor positions, typing indicators):
 * `throttle` calls at most once per window with the latest arguments, `debounce`
 * once things have been quiet for a while. Both take the SDK's Scheduler, so they
 * can be driven by a fake clock, and both have cancel() and flush().
 */
import { realScheduler, type Scheduler, type TimerHandle } from './scheduler.js';

export interface Shaped<Args extends unknown[]> {
  (...args: Args): void;
  /** Drops a pending call. */
  cancel(): void;
  /** Makes a pending call now (if any). */
  flush(): void;
  /** True while a call is waiting. */
  readonly pending: boolean;
}

export interface ThrottleOptions {
  /** Call at once when the window is free. Default true. */
  leading?: boolean;
  /** Call at the end of the window with the latest arguments received during it. Default true. */
  trailing?: boolean;
  scheduler?: Scheduler;
}

/**
 * At most one call of `fn` per `windowMs`: the first call goes through at once
 * (leading), later calls within the window collapse into one call with the latest
 * arguments at its end (trailing), which opens the next window.
 */
export function throttle<Args extends unknown[]>(fn: (...args: Args) => void, windowMs: number, options: ThrottleOptions = {}): Shaped<Args> {
  const scheduler = options.scheduler ?? realScheduler;
  const leading = options.leading ?? true;
  const trailing = options.trailing ?? true;
  let timer: TimerHandle | undefined;
  let pendingArgs: Args | undefined;

  const openWindow = (): void => {
    timer = scheduler.setTimeout(() => {
      timer = undefined;
      if (pendingArgs !== undefined) {
        const args = pendingArgs;
        pendingArgs = undefined;
        fn(...args);
        openWindow();
      }
    }, windowMs);
  };

  const shaped = ((...args: Args): void => {
    if (timer === undefined) {
      if (leading) fn(...args);
      else if (trailing) pendingArgs = args;
      openWindow();
      return;
    }
    if (trailing) pendingArgs = args;
  }) as Shaped<Args>;
  shaped.cancel = () => {
    pendingArgs = undefined;
    if (timer !== undefined) scheduler.clearTimeout(timer);
    timer = undefined;
  };
  shaped.flush = () => {
    if (pendingArgs === undefined) return;
    const args = pendingArgs;
    pendingArgs = undefined;
    fn(...args);
  };
  Object.defineProperty(shaped, 'pending', { get: () => pendingArgs !== undefined });
  return shaped;
}

export interface DebounceOptions {
  /** Call at most this long after the first of a burst of calls, even if calls keep coming. Default: no bound. */
  maxWaitMs?: number;
  scheduler?: Scheduler;
}

/** Calls `fn` with the latest arguments once no call has come for `waitMs`. */
export function debounce<Args extends unknown[]>(fn: (...args: Args) => void, waitMs: number, options: DebounceOptions = {}): Shaped<Args> {
  const scheduler = options.scheduler ?? realScheduler;
  let timer: TimerHandle | undefined;
  let pendingArgs: Args | undefined;
  let firstAt: number | undefined;

  const fire = (): void => {
    timer = undefined;
    firstAt = undefined;
    if (pendingArgs === undefined) return;
    const args = pendingArgs;
    pendingArgs = undefined;
    fn(...args);
  };

  const shaped = ((...args: Args): void => {
    pendingArgs = args;
    const now = scheduler.now();
    firstAt ??= now;
    if (timer !== undefined) scheduler.clearTimeout(timer);
    const wait = options.maxWaitMs === undefined ? waitMs : Math.max(0, Math.min(waitMs, firstAt + options.maxWaitMs - now));
    timer = scheduler.setTimeout(fire, wait);
  }) as Shaped<Args>;
  shaped.cancel = () => {
    pendingArgs = undefined;
    firstAt = undefined;
    if (timer !== undefined) scheduler.clearTimeout(timer);
    timer = undefined;
  };
  shaped.flush = () => {
    if (timer !== undefined) scheduler.clearTimeout(timer);
    fire();
  };
  Object.defineProperty(shaped, 'pending', { get: () => pendingArgs !== undefined });
  return shaped;
}
