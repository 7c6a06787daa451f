/**
 * History reads answered to clients (room:history pages and a join's missed[]):
 * at most two in flight per connection, and each page cut at
 * HISTORY_PAGE_MAX_BYTES of data, so a client asking for many large pages
 * cannot make the node hold unbounded responses (it pages on instead).
 *
 * Reads beyond the two wait their turn, in order, up to MAX_ROOMS_PER_SOCKET of
 * them: a client that reconnects rejoins all its rooms with `since` at once, and
 * filling gaps in several rooms reads several pages; none of that is refused.
 * Past that many waiting, a read is refused RATE_LIMITED (retryable).
 */
import { RoomcastError } from '../../errors.js';
import { connectionState } from './connection-state.js';
import type { RoomcastSocket } from './types.js';

export const MAX_READS_IN_FLIGHT = 2;

export async function boundedRead<T>(socket: RoomcastSocket, maxWaiting: number, read: () => Promise<T>): Promise<T> {
  const state = connectionState(socket);
  if (state.readsInFlight >= MAX_READS_IN_FLIGHT) {
    if (state.readWaiters.length >= maxWaiting) {
      throw new RoomcastError('RATE_LIMITED', `at most ${MAX_READS_IN_FLIGHT} history reads at a time per connection, and ${maxWaiting} waiting`);
    }
    // A finishing read hands its slot over (readsInFlight stays as it is).
    await new Promise<void>((resolve) => state.readWaiters.push(resolve));
  } else {
    state.readsInFlight += 1;
  }
  try {
    return await read();
  } finally {
    const next = state.readWaiters.shift();
    if (next !== undefined) next();
    else state.readsInFlight -= 1;
  }
}

/** The page's byte budget, shared with the HTTP history route. */
export { capPage } from '../../core/history-page.js';
