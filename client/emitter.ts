/**
 * A tiny typed event emitter (a Map of Sets), so the SDK needs neither Node's
 * `events` module nor a DOM EventTarget and runs unchanged in both.
 */
import { callSafely } from './safe-call.js';

// `never[]` in the constraint lets each event declare its own parameter list;
// listeners and emit() are still checked against the concrete map.
export type EventMap = Record<string, (...args: never[]) => void>;

export class TypedEmitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const wrapper = ((...args: Parameters<Events[K]>) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Events[K];
    return this.on(event, wrapper);
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    set.delete(listener);
    if (set.size === 0) this.listeners.delete(event);
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected removeAllListeners(): void {
    this.listeners.clear();
  }

  /** Calls every listener; one that throws does not stop the others nor the SDK's own bookkeeping. */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    // A copy, so a listener that removes itself (once) does not disturb the iteration.
    for (const listener of [...set]) callSafely(listener as (...a: Parameters<Events[K]>) => void, ...args);
  }
}
