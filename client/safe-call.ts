/**
 * Application callbacks (onMessage, event listeners) run in the middle of the
 * SDK's bookkeeping. If one throws, the SDK must still finish updating offsets,
 * so the exception is re-thrown on a fresh microtask instead: it still reaches
 * the host's uncaught-error reporting (window.onerror, process 'uncaughtException'),
 * as it would from a DOM event listener.
 */
export function callSafely<Args extends unknown[]>(callback: (...args: Args) => void, ...args: Args): void {
  try {
    callback(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
