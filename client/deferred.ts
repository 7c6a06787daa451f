/** A promise with its resolve/reject exposed, for requests that complete on a later socket event. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/**
 * `internal`: the promise may have no reader (e.g. "this room's rejoin is done"),
 * so its rejection is marked handled instead of surfacing as an unhandled rejection.
 */
export function deferred<T>(options: { internal?: boolean } = {}): Deferred<T> {
  let settled = false;
  let resolveFn!: (value: T) => void;
  let rejectFn!: (reason: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });
  if (options.internal === true) promise.catch(() => undefined);
  return {
    promise,
    get settled() {
      return settled;
    },
    resolve(value) {
      if (settled) return;
      settled = true;
      resolveFn(value);
    },
    reject(reason) {
      if (settled) return;
      settled = true;
      rejectFn(reason);
    },
  };
}
