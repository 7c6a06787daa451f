/**
 * Opens connections `from`..`to`-1 with at most `concurrency` handshakes in
 * flight, counting successes and failures (the first error kept for the
 * report). Every load worker ramps this way, so a server is never handed more
 * simultaneous handshakes than the scenario asked for.
 */
export interface PoolResult {
  connected: number;
  failed: number;
  firstError?: string;
}

export async function connectPool(
  from: number,
  to: number,
  concurrency: number,
  connect: (index: number) => Promise<void>,
  onProgress?: (connected: number) => void,
): Promise<PoolResult> {
  const result: PoolResult = { connected: 0, failed: 0 };
  let next = from;
  const progress = onProgress ? setInterval(() => onProgress(result.connected), 250) : null;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < to) {
          const index = next++;
          try {
            await connect(index);
            result.connected++;
          } catch (error) {
            result.failed++;
            result.firstError ??= String(error);
          }
        }
      }),
    );
  } finally {
    if (progress) clearInterval(progress);
  }
  return result;
}
