/**
 * Redis failures as the protocol sees them: any error or a call that does not
 * answer within the deadline is UNAVAILABLE (retryable), so callers answer
 * "not stored" instead of hanging or leaking driver errors.
 */
import { ErrorReply } from 'redis';
import { ExpiryWheel } from '../../core/expiry-wheel.js';
import { RoomcastError } from '../../errors.js';
import type { RedisCommandName } from '../../ops/metrics.js';

/** Told how long each timed Redis operation took (failures included), for roomcast_redis_command_duration_seconds. */
export type ObserveRedis = (command: RedisCommandName, seconds: number) => void;

/**
 * The one place Redis operations are timed: the history and presence stores and
 * the liveness heartbeat run their calls through it. Without an observer (store
 * tests) it adds nothing.
 */
export function timed<T>(observe: ObserveRedis | undefined, command: RedisCommandName, call: () => Promise<T>): Promise<T> {
  const start = observe === undefined ? 0 : performance.now();
  let answer: Promise<T>;
  try {
    answer = call();
  } catch (error) {
    // As an async function would: a call that throws is a rejected answer (observed like any failure).
    answer = Promise.reject(error);
  }
  if (observe === undefined) return answer;
  // Observed beside the answer, not around it: no extra promise between the caller and Redis's answer.
  const done = (): void => observe(command, (performance.now() - start) / 1000);
  answer.then(done, done);
  return answer;
}

/**
 * Error replies with which Redis refuses a command (or a script's first write)
 * before changing anything: out of memory, a replica, the cluster down, loading
 * its data, an ACL refusal, a failed disk write, a script still running, a slot
 * being migrated. A publication refused this way was not stored: answer
 * UNAVAILABLE at once instead of retrying it as an unknown outcome.
 */
const DEFINITE_REFUSALS = /^(OOM|READONLY|CLUSTERDOWN|LOADING|NOPERM|MASTERDOWN|MISCONF|BUSY|NOREPLICAS|TRYAGAIN)\b/;

export function isDefiniteRefusal(error: unknown): boolean {
  return error instanceof ErrorReply && DEFINITE_REFUSALS.test(error.message);
}

/** How long a store call may take before the gateway gives up on it. */
export const REDIS_CALL_TIMEOUT_MS = 3000;

/** A call that did not answer within its deadline (withDeadline's rejection). */
export class CallTimeout extends Error {}

/** A call waiting for its answer: rejected with CallTimeout if it is still unsettled when its deadline is decided. */
interface PendingCall {
  settled: boolean;
  reject: (error: Error) => void;
}

/** How late past its deadline a call may be given up (the deadlines' one timer ticks this often). */
const DEADLINE_TICK_MS = 50;

/** Calls past their deadline, given up together on the next setImmediate (see withDeadline). */
let overdue: PendingCall[] = [];

function giveUpOverdue(): void {
  const calls = overdue;
  overdue = [];
  for (const call of calls) if (!call.settled) call.reject(new CallTimeout());
}

/**
 * Every Redis call's deadline on one timer (expiry-wheel.ts) instead of a Timeout, a racing promise and a
 * `finally` per call: a publication makes one or two calls, and each layer was a promise job on the hot path
 * (docs/performance.md).
 */
const deadlines = new ExpiryWheel<PendingCall>((call) => {
  if (call.settled) return;
  if (overdue.length === 0) setImmediate(giveUpOverdue);
  overdue.push(call);
}, DEADLINE_TICK_MS);

/**
 * The call's answer, or CallTimeout once `ms` have passed without it (up to DEADLINE_TICK_MS later). The
 * deadline is decided on the next setImmediate, after the poll phase: when the event loop was blocked longer
 * than `ms` (a saturated node), the timer and Redis's answer are both due in the same turn, and timers run
 * before sockets are read, so deciding in the timer would call an answer that is already here "late" (a
 * publication closed without an answer, the "socket hang up" of issue 16; a presence change reported as failed).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const due = Date.now() + ms;
    const call: PendingCall = { settled: false, reject };
    deadlines.add(call, due);
    promise.then(
      (value) => {
        call.settled = true;
        deadlines.remove(call, due);
        resolve(value);
      },
      (error: unknown) => {
        call.settled = true;
        deadlines.remove(call, due);
        reject(error);
      },
    );
  });
}

/**
 * The call's answer, or UNAVAILABLE (RoomcastError) past its deadline or when Redis fails. A call answered
 * UNAVAILABLE past its deadline may still be carried out by a Redis that was only slow (stalled, busy):
 * `late`, when given, receives that answer, so a caller can tell what did happen after all.
 */
export async function redisCall<T>(what: string, call: () => Promise<T>, timeoutMs = REDIS_CALL_TIMEOUT_MS, late?: (answer: T) => void): Promise<T> {
  const answer = call();
  try {
    return await withDeadline(answer, timeoutMs);
  } catch (error) {
    if (late !== undefined) answer.then(late, () => undefined);
    if (error instanceof CallTimeout) throw new RoomcastError('UNAVAILABLE', `redis did not answer ${what} in time`);
    if (error instanceof RoomcastError) throw error;
    throw new RoomcastError('UNAVAILABLE', `redis is unavailable (${what})`);
  }
}
