/**
 * Webhooks are delivered at least once: a retried delivery keeps its events' ids,
 * and receivers drop the ones they have handled. This remembers ids in memory for
 * a while (bounded in count): enough for one process; a receiver running several
 * processes dedupes in its database instead (a unique key on the event id).
 */
export interface EventDeduper {
  /** Whether `id` was marked handled (and not forgotten since). */
  has(id: string): boolean;
  /** Marks `id` handled. */
  add(id: string): void;
  readonly size: number;
}

export interface DeduperOptions {
  /** How long an id is remembered (default 24 h: longer than the gateway's WEBHOOK_MAX_AGE_S retries). */
  ttlMs?: number;
  /** Most ids remembered; the oldest are forgotten first (default 100000). */
  maxEntries?: number;
  /** The clock (default Date.now). */
  now?: () => number;
}

export function createEventDeduper(options: DeduperOptions = {}): EventDeduper {
  const ttlMs = options.ttlMs ?? 24 * 3600 * 1000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order: the first entries are the oldest.
  const seen = new Map<string, number>();
  const forgetOld = (): void => {
    const cutoff = now() - ttlMs;
    for (const [id, at] of seen) {
      if (at > cutoff && seen.size <= maxEntries) break;
      seen.delete(id);
    }
  };
  return {
    has(id) {
      forgetOld();
      return seen.has(id);
    },
    add(id) {
      seen.delete(id);
      seen.set(id, now());
      forgetOld();
    },
    get size() {
      return seen.size;
    },
  };
}
