/**
 * Presence removals, coalesced: every remove() asked during one turn of the
 * event loop goes out together on the next one, as one script call per room
 * (all of that room's departing members) and one SREM of their index entries.
 *
 * Why: a node that empties (a drain, a crash of its clients' network) sees
 * thousands of disconnects within a few ticks. One Redis round-trip, promise
 * chain and timeout timer per member made the node-redis writes, the timers and
 * their garbage the main cost of a drain; the calls queued behind each other
 * until every one of them outlived its deadline, and the departed members stayed
 * listed until the liveness sweeper removed them as `node-lost`.
 *
 * The deadline (REDIS_CALL_TIMEOUT_MS) runs per batch from when it is written,
 * not from when a removal was queued. Past it, the callers are answered
 * UNAVAILABLE, but a Redis that was only slow (stalled, busy) still runs the
 * batch: the members it removes then are handed to each removal's `late`, so
 * their leave is announced after all instead of never. Order: a batch is written before anything
 * asked after it, and add() of a member whose removal is still queued or in
 * flight waits for it (`settled`), so a leave never overtakes a later join of the
 * same member. Same order as before within a batch: the room entry is removed
 * before the index entry (see presence.ts).
 */
import type { PresenceMember } from '../../../shared/index.js';
import { LuaScript } from './lua-script.js';
import type { RedisCommands } from './redis-connections.js';
import { REDIS_CALL_TIMEOUT_MS, redisCall, timed, type ObserveRedis } from './redis-errors.js';
import type { Removal } from '../../core/presence-store.js';

/**
 * KEYS: room members. ARGV: connection ids. -> per id, in order: { removed member JSON, member count before } or
 * false (not present). One call for many members of a room, each counted as if removed one after the other.
 */
const REMOVE_MANY_SCRIPT = new LuaScript(`
local count = redis.call('HLEN', KEYS[1])
local results = {}
for i, id in ipairs(ARGV) do
  local member = redis.call('HGET', KEYS[1], id)
  if member then
    redis.call('HDEL', KEYS[1], id)
    results[i] = { member, count }
    count = count - 1
  else
    results[i] = false
  end
end
return results
`);

interface Queued {
  connectionId: string;
  indexEntry: string;
  resolve: (removal: Removal | null) => void;
  reject: (error: unknown) => void;
  late: ((removal: Removal) => void) | undefined;
}

interface RoomBatch {
  namespace: string;
  room: string;
  key: string;
  removals: Queued[];
}

export interface PresenceRemovalsOptions {
  redis: RedisCommands;
  nodeIndexKey: string;
  /** The room's hash of members. */
  roomMembersKey(namespace: string, room: string): string;
  indexEntry(namespace: string, room: string, connectionId: string): string;
  /** Called once per room a batch emptied (the room index; see presence.ts). */
  emptied(namespace: string, room: string): Promise<void>;
  observe?: ObserveRedis;
}

export class PresenceRemovals {
  private queued = new Map<string, RoomBatch>();
  private scheduled = false;
  /** Index entries queued or in flight -> the batch that removes them (add() waits for it). */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: PresenceRemovalsOptions) {}

  remove(namespace: string, room: string, connectionId: string, late?: (removal: Removal) => void): Promise<Removal | null> {
    const key = this.options.roomMembersKey(namespace, room);
    let batch = this.queued.get(key);
    if (batch === undefined) {
      batch = { namespace, room, key, removals: [] };
      this.queued.set(key, batch);
    }
    const indexEntry = this.options.indexEntry(namespace, room, connectionId);
    const result = new Promise<Removal | null>((resolve, reject) => (batch as RoomBatch).removals.push({ connectionId, indexEntry, resolve, reject, late }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    const settled: Promise<void> = result.then(
      () => undefined,
      () => undefined,
    );
    this.pending.set(indexEntry, settled);
    void settled.then(() => {
      if (this.pending.get(indexEntry) === settled) this.pending.delete(indexEntry);
    });
    return result;
  }

  /** Resolves once no removal of this index entry is queued or in flight. */
  settled(indexEntry: string): Promise<void> | undefined {
    return this.pending.get(indexEntry);
  }

  /** Writes what is queued now and waits for every batch in flight (before the connection closes). */
  async close(): Promise<void> {
    if (this.queued.size > 0) this.flush();
    await Promise.all([...this.inFlight]);
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.queued.values()];
    this.queued = new Map();
    if (batches.length === 0) return;
    const sent = this.send(batches).finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  private async send(batches: RoomBatch[]): Promise<void> {
    const { redis, observe } = this.options;
    // Answered UNAVAILABLE past the deadline, whatever Redis still carries out is a member that did leave.
    const late = (removed: Array<Array<Removal | null>>): void => forEachRemoval(batches, removed, (removal, done) => done !== null && removal.late?.(done));
    let results: Array<Array<Removal | null>>;
    try {
      results = await redisCall(
        'presence remove',
        () =>
          timed(observe, 'presence_remove', async () => {
            // Issued in the same tick: node-redis writes them together (one pipeline per Redis node).
            const replies = await Promise.all(
              batches.map((batch) => REMOVE_MANY_SCRIPT.run(redis, [batch.key], batch.removals.map((removal) => removal.connectionId))),
            );
            const removals = batches.map((batch, position) => toRemovals(replies[position], batch.removals.length));
            const entries = batches.flatMap((batch) => batch.removals.map((removal) => removal.indexEntry));
            await redis.sRem(this.options.nodeIndexKey, entries);
            await Promise.all(
              batches.map((batch, position) => {
                const lastRemoved = (removals[position] as Array<Removal | null>).filter((removal) => removal !== null).pop();
                return lastRemoved?.membersBefore === 1 ? this.options.emptied(batch.namespace, batch.room) : undefined;
              }),
            );
            return removals;
          }),
        REDIS_CALL_TIMEOUT_MS,
        late,
      );
    } catch (error) {
      for (const batch of batches) for (const removal of batch.removals) removal.reject(error);
      return;
    }
    forEachRemoval(batches, results, (removal, done) => removal.resolve(done));
  }
}

/** Each queued removal of `batches` with its result (same positions as the batches and their removals). */
function forEachRemoval(batches: RoomBatch[], results: Array<Array<Removal | null>>, visit: (removal: Queued, done: Removal | null) => void): void {
  batches.forEach((batch, position) => batch.removals.forEach((removal, index) => visit(removal, results[position]?.[index] ?? null)));
}

function toRemovals(reply: unknown, count: number): Array<Removal | null> {
  const rows = Array.isArray(reply) ? reply : [];
  const removals: Array<Removal | null> = [];
  for (let i = 0; i < count; i += 1) {
    const row = rows[i] as unknown;
    removals.push(Array.isArray(row) ? { member: JSON.parse(String(row[0])) as PresenceMember, membersBefore: Number(row[1]) } : null);
  }
  return removals;
}
