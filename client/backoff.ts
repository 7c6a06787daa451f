/**
 * Exponential backoff with jitter for the reconnects the SDK starts itself
 * (after a refused handshake or a server-side disconnect, which socket.io-client
 * does not retry). It mirrors socket.io-client's own formula and options so both
 * kinds of reconnect spread out the same way.
 */
export interface BackoffOptions {
  /** First delay (socket.io-client `reconnectionDelay`). */
  min: number;
  /** Upper bound (`reconnectionDelayMax`). */
  max: number;
  /** 0..1, the share of each delay that is randomised (`randomizationFactor`). */
  jitter: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.max, options.min * 2 ** Math.max(0, attempt));
  const deviation = base * options.jitter * (random() * 2 - 1);
  return Math.round(Math.max(0, Math.min(options.max, base + deviation)));
}
