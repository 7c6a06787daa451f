/**
 * Redis failures as the protocol sees them: any error or a call that does not
 * answer within the deadline is UNAVAILABLE (retryable), so callers answer
 * "not stored" instead of hanging or leaking driver errors.
 */
import { ErrorReply } from 'redis';
import { RoomcastError } from '../../errors.js';
import type { RedisCommandName } from '../../ops/metrics.js';

/** Told how long each timed Redis operation took (failures included), for roomcast_redis_command_duration_seconds. */
export type ObserveRedis = (command: RedisCommandName, seconds: number) => void;

/**
 * The one place Redis operations are timed: the history and presence stores and
 * the liveness heartbeat run their calls through it. Without an observer (store
 * tests) it adds nothing.
 */
export async function timed<T>(observe: ObserveRedis | undefined, command: RedisCommandName, call: () => Promise<T>): Promise<T> {
  if (observe === undefined) return call();
  const start = performance.now();
  try {
    return await call();
  } finally {
    observe(command, (performance.now() - start) / 1000);
  }
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

/**
 * The call's answer, or CallTimeout once `ms` have passed without it. The deadline is decided on the
 * next setImmediate, after the poll phase: when the event loop was blocked longer than `ms` (a saturated
 * node), the timer and Redis's answer are both due in the same turn, and timers run before sockets are
 * read, so deciding in the timer would call an answer that is already here "late" (a publication closed
 * without an answer, the "socket hang up" of issue 16; a presence change reported as failed).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let check: NodeJS.Immediate | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      check = setImmediate(() => reject(new CallTimeout()));
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => {
    clearTimeout(timer);
    if (check !== undefined) clearImmediate(check);
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
