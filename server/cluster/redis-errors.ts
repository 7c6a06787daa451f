/**
 * Redis failures as the protocol sees them: any error or a call that does not
 * answer within the deadline is UNAVAILABLE (retryable), so callers answer
 * "not stored" instead of hanging or leaking driver errors.
 */
import { RoomcastError } from '../errors.js';

/** How long a store call may take before the gateway gives up on it. */
export const REDIS_CALL_TIMEOUT_MS = 3000;

export async function redisCall<T>(what: string, call: () => Promise<T>, timeoutMs = REDIS_CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RoomcastError('UNAVAILABLE', `redis did not answer ${what} in time`)), timeoutMs);
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
