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

export async function redisCall<T>(what: string, call: () => Promise<T>, timeoutMs = REDIS_CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    // On expiry, one more turn of the event loop first (setImmediate runs after the poll phase): on a busy node the
    // timer can fire late in a tick whose poll phase would read the answer already waiting on the socket.
    timer = setTimeout(() => setImmediate(() => reject(new RoomcastError('UNAVAILABLE', `redis did not answer ${what} in time`))), timeoutMs);
  });
  try {
    return await Promise.race([call(), deadline]);
  } catch (error) {
    if (error instanceof RoomcastError) throw error;
    throw new RoomcastError('UNAVAILABLE', `redis is unavailable (${what})`);
  } finally {
    clearTimeout(timer);
  }
}
