/**
 * The hooks' one way of reading a store: useSyncExternalStore over a store's
 * bound `subscribe` and `getSnapshot`, or over a constant "idle" store when the
 * hook was given no room (hooks cannot be called conditionally, so `null` is how
 * a component says "no room yet").
 */
import { useSyncExternalStore } from 'react';

export interface ExternalStore<T> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): T;
}

const subscribeNothing = (): (() => void) => () => undefined;

/** A store that never changes: the snapshot of a hook without a room. */
export function idleStore<T>(snapshot: T): ExternalStore<T> {
  return { subscribe: subscribeNothing, getSnapshot: () => snapshot };
}

/** The store's current snapshot, re-rendering on change. On the server (SSR) the initial snapshot: nothing is joined there. */
export function useExternalStore<T>(store: ExternalStore<T>): T {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
