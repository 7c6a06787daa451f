/**
 * History in Redis, shared by every node: per room a meta hash (epoch, last
 * offset) and a stream whose entry ids are the offsets, bounded by HISTORY_SIZE
 * (MAXLEN) and HISTORY_TTL_S (the keys expire that long after the last write;
 * older entries of a busy room are skipped on read). See history-scripts.ts for
 * the atomic steps and history-store.ts for the contract.
 */
import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { ClientOfflineError, ErrorReply } from 'redis';
import type { Message, StreamPosition } from '../../../shared/index.js';
import type { RedisCommands } from './redis-connections.js';
import { isDefiniteRefusal, REDIS_CALL_TIMEOUT_MS, redisCall, timed, withDeadline, type ObserveRedis } from './redis-errors.js';
import { OutcomeUnknownError, RoomcastError } from '../../errors.js';
import { storedJson, type AppendItem, type AppendItemResult, type AppendResult, type HistoryRead, type HistoryStore, type NewPublication } from '../../core/history-store.js';
import { newEpoch } from '../../core/epochs.js';
import { historyKeys } from './keys.js';
import { APPEND_MANY_SCRIPT, APPEND_SCRIPT, READ_SCRIPT } from './history-scripts.js';

/**
 * Whether Redis may lose acknowledged writes (REDIS_DURABILITY): 'lossy' (the
 * default: RDB snapshots, appendfsync everysec, failover to an asynchronous
 * replica, restored backups) makes a room start a new epoch when its data was
 * last written by another Redis process; 'lossless' (AOF with appendfsync
 * always and no failover that can lose writes) keeps epochs across restarts.
 * See history-scripts.ts.
 */
export type RedisDurability = 'lossy' | 'lossless';

/** Why a room's epoch was replaced by a script: its data came from another Redis process. */
export type EpochRotation = 'redis-replaced';

export interface RedisHistoryOptions {
  size: number;
  ttlSeconds: number;
  /** Default 'lossy'. */
  durability?: RedisDurability;
  now?: () => number;
  /** Times each append and read (metrics). */
  observe?: ObserveRedis;
  /** Told each time a room's epoch is replaced because Redis's data was (for roomcast_epoch_rotations_total). */
  onRotation?: (reason: EpochRotation) => void;
  /**
   * Redis Cluster: appendMany makes one script call per hash slot (never CROSSSLOT). Default: true when
   * `redis` is a node-redis cluster client (it has `masters`).
   */
  cluster?: boolean;
}

/** A publication of append/appendMany, ready for a script: its keys and its own arguments. */
interface PreparedAppend {
  namespace: string;
  room: string;
  publication: NewPublication;
  idempotencyKey: string | undefined;
  /** meta, stream, idempotency (the publication's key, or the gateway's retry key). */
  keys: [string, string, string];
  /** event, data JSON, ts, from ('' if none), idempotency record ('full' | 'ref'). */
  args: [string, string, string, string, 'full' | 'ref'];
}

type AppendReply = [0, string, number, string] | [1, string[]];
/** APPEND_MANY_SCRIPT's answer per item: append_one's, an error reply of its own, or not attempted. */
type AppendManyReply = AppendReply | [2, string] | [3];

type StreamEntry = [id: string, fields: string[]];

/**
 * Publications per APPEND_MANY_SCRIPT call. A script holds Redis for everyone while it runs: 100 appends take
 * about 3.6 ms of Redis time (a whole /api/v1/batch of BATCH_MAX_PUBLICATIONS = 1,000 would take ~36 ms).
 */
export const APPEND_MANY_CALL_MAX = 100;

/** How long an append whose outcome is unknown is retried (with its idempotency key) before giving up. */
export const APPEND_SETTLE_MS = 5000;
/** How long the gateway's own retry keys (publications without an idempotencyKey) are kept. */
const RETRY_KEY_TTL_S = 60;

function fieldsToRecord(fields: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i] as string] = fields[i + 1] as string;
  return record;
}

function toMessage(room: string, epoch: string, offset: number, fields: Record<string, string>): Message {
  const message: Message = { room, event: fields.v ?? '', data: JSON.parse(fields.d ?? 'null') as Message['data'], offset, epoch, ts: Number(fields.t) };
  if (fields.f !== undefined && fields.f !== '') message.from = fields.f;
  return message;
}

/** Redis refused an append before writing it (OOM, READONLY...: isDefiniteRefusal): not stored, said at once. */
function refusedAppend(redisMessage: string): RoomcastError {
  return new RoomcastError('UNAVAILABLE', `redis refused the append: ${redisMessage.split(' ')[0] ?? 'error'}`);
}

/** A publication's keys and script arguments; data with no JSON text is refused before anything is sent (storedJson). */
function prepareAppend({ namespace, room, publication, idempotencyKey }: AppendItem): PreparedAppend {
  const keys = historyKeys(namespace, room);
  const data = storedJson(publication);
  return {
    namespace,
    room,
    publication,
    idempotencyKey,
    keys: [keys.meta, keys.stream, keys.idempotency(idempotencyKey ?? `retry:${randomUUID()}`)],
    args: [publication.event, data, String(publication.ts), publication.from ?? '', idempotencyKey === undefined ? 'ref' : 'full'],
  };
}

export class RedisHistoryStore implements HistoryStore {
  private readonly now: () => number;
  private readonly durability: RedisDurability;
  private readonly cluster: boolean;

  constructor(
    private readonly redis: RedisCommands,
    private readonly options: RedisHistoryOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.durability = options.durability ?? 'lossy';
    this.cluster = options.cluster ?? 'masters' in redis;
  }

  /**
   * The epoch a room gets if its meta is missing. Random bytes per call cost a
   * synchronous syscall on every publish, so one candidate is offered until a
   * room takes it (the scripts answer with the epoch in force); then a fresh
   * one, so a room re-created later never gets an epoch it had before. (Rooms
   * created by one appendMany call, or by concurrent appends, share the
   * candidate: harmless, an epoch is only ever compared within its room.)
   */
  private epochCandidate = newEpoch();

  private noteEpoch(epoch: string): void {
    if (epoch === this.epochCandidate) this.epochCandidate = newEpoch();
  }

  private noteRotation(rotated: string | undefined): void {
    if (rotated === 'redis-replaced') this.options.onRotation?.(rotated);
  }

  /** See the contract (core/history-store.ts) and settle for what each outcome means. */
  async append(namespace: string, room: string, publication: NewPublication, idempotencyKey?: string): Promise<AppendResult> {
    const item = prepareAppend({ namespace, room, publication, ...(idempotencyKey !== undefined ? { idempotencyKey } : {}) });
    const [event, data, ts, from, record] = item.args;
    const args = [this.epochCandidate, this.options.ttlSeconds, this.options.size, event, data, ts, from, record, RETRY_KEY_TTL_S, this.durability];
    const reply = await this.settle(() => APPEND_SCRIPT.run(this.redis, item.keys, args));
    return this.appendResult(item, reply as AppendReply);
  }

  /**
   * append for many publications: one APPEND_MANY_SCRIPT call per APPEND_MANY_CALL_MAX of them on a single
   * Redis, per hash slot on a Cluster (calls for different slots go at once: they share no room). Each call is settled
   * as append's (see settle): a call that fails fails each of its items with the same error, and a call
   * retried after a lost answer is safe because each item carries its idempotency key or a retry key. An
   * item that cannot be prepared (data that is not JSON) fails alone, and so does an item whose own step
   * failed in the script (see APPEND_MANY_SCRIPT): it is sent again, with the later items of its room,
   * until APPEND_SETTLE_MS, as append would retry it.
   */
  async appendMany(items: readonly AppendItem[]): Promise<AppendItemResult[]> {
    const results = new Array<AppendItemResult>(items.length);
    const groups = new Map<number, Array<{ index: number; item: PreparedAppend }>>();
    items.forEach((raw, index) => {
      let item: PreparedAppend;
      try {
        item = prepareAppend(raw);
      } catch (error) {
        results[index] = { ok: false, error };
        return;
      }
      const slot = this.cluster ? calculateSlot(item.keys[0]) : 0;
      let group = groups.get(slot);
      if (group === undefined) groups.set(slot, (group = []));
      group.push({ index, item });
    });
    await Promise.all(
      [...groups.values()].map(async (group) => {
        // One call per APPEND_MANY_CALL_MAX items, one after another: each settled (retries included) before
        // the next, so a room's items keep their order across calls.
        for (let start = 0; start < group.length; start += APPEND_MANY_CALL_MAX) {
          await this.appendGroup(group.slice(start, start + APPEND_MANY_CALL_MAX), results);
        }
      }),
    );
    return results;
  }

  /** One hash slot's items of appendMany, their answers written into `results`. */
  private async appendGroup(group: Array<{ index: number; item: PreparedAppend }>, results: AppendItemResult[]): Promise<void> {
    const deadline = Date.now() + APPEND_SETTLE_MS;
    let pending = group;
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      const keys: string[] = [];
      const args: Array<string | number> = [this.epochCandidate, this.options.ttlSeconds, this.options.size, RETRY_KEY_TTL_S, this.durability];
      for (const { item } of pending) {
        keys.push(...item.keys);
        args.push(...item.args);
      }
      let replies: AppendManyReply[];
      try {
        replies = (await this.settle(() => APPEND_MANY_SCRIPT.run(this.redis, keys, args), deadline)) as AppendManyReply[];
      } catch (error) {
        for (const { index } of pending) results[index] = { ok: false, error };
        return;
      }
      const late = Date.now() >= deadline;
      const again: typeof pending = [];
      pending.forEach(({ index, item }, i) => {
        const reply = replies[i] as AppendManyReply;
        if (reply[0] === 0 || reply[0] === 1) {
          results[index] = { ok: true, result: this.appendResult(item, reply) };
        } else if (reply[0] === 2 && isDefiniteRefusal(new ErrorReply(reply[1]))) {
          results[index] = { ok: false, error: refusedAppend(reply[1]) };
        } else if (!late) {
          again.push({ index, item });
        } else if (reply[0] === 2) {
          // Its step failed after it may have written part of itself: as append's unconfirmed outcome.
          results[index] = { ok: false, error: new OutcomeUnknownError('redis did not confirm whether the publication was stored') };
        } else {
          // Never attempted: an earlier item of its room kept failing.
          results[index] = { ok: false, error: new RoomcastError('UNAVAILABLE', 'redis did not store an earlier publication of this room in time') };
        }
      });
      pending = again;
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
    }
  }

  /**
   * Runs an append script call until Redis tells stored from not stored. A command that never left (the
   * connection was down) is "not stored" (UNAVAILABLE), and so is one Redis refused before running it (OOM,
   * READONLY, CLUSTERDOWN, LOADING, NOPERM...: see isDefiniteRefusal). A command that left but whose answer
   * was lost may have been applied: it is run again (every publication in it carries its idempotency key,
   * the gateway's own when the publisher gave none) until Redis answers; past APPEND_SETTLE_MS it is
   * OutcomeUnknownError.
   */
  private async settle(call: () => Promise<unknown>, deadline = Date.now() + APPEND_SETTLE_MS): Promise<unknown> {
    let sent = false;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await withDeadline(timed(this.options.observe, 'append', call), REDIS_CALL_TIMEOUT_MS);
      } catch (error) {
        if (!sent && error instanceof ClientOfflineError) throw new RoomcastError('UNAVAILABLE', 'redis is unavailable (append)');
        // Redis answered, refusing before the script wrote anything: "not stored", said at once (a retry would
        // only turn a definite answer into an unknown one after APPEND_SETTLE_MS).
        if (isDefiniteRefusal(error)) throw refusedAppend((error as Error).message);
        sent = true;
        if (Date.now() >= deadline) throw new OutcomeUnknownError('redis did not confirm whether the publication was stored');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
      }
    }
  }

  /** The AppendResult of one publication from its script answer (append_one's). */
  private appendResult({ room, publication, idempotencyKey }: PreparedAppend, reply: AppendReply): AppendResult {
    if (reply[0] === 1) {
      const stored = fieldsToRecord(reply[1]);
      if (idempotencyKey === undefined) {
        // A retry key keeps only where the publication went; the publication itself is this one.
        const message: Message = { room, event: publication.event, data: publication.data, offset: Number(stored.o), epoch: stored.e ?? '', ts: Number(stored.t) };
        if (publication.from !== undefined) message.from = publication.from;
        return { message, duplicate: true };
      }
      return { message: toMessage(room, stored.e ?? '', Number(stored.o), stored), duplicate: true };
    }
    const [, epoch, offset, rotated] = reply;
    this.noteEpoch(epoch);
    this.noteRotation(rotated);
    const message: Message = { room, event: publication.event, data: publication.data, offset: Number(offset), epoch, ts: publication.ts };
    if (publication.from !== undefined) message.from = publication.from;
    return { message, duplicate: false };
  }

  async position(namespace: string, room: string): Promise<StreamPosition> {
    const { epoch, offset } = await this.read(namespace, room, undefined, 0);
    return { epoch, offset };
  }

  async read(namespace: string, room: string, since: StreamPosition | undefined, limit: number): Promise<HistoryRead> {
    const keys = historyKeys(namespace, room);
    const cutoff = this.now() - this.options.ttlSeconds * 1000;
    const args = [this.epochCandidate, this.options.ttlSeconds, since?.epoch ?? '', since?.offset ?? 0, limit, cutoff, this.durability];
    const [epoch, last, recovered, entries, rotated] = (await redisCall('read', () =>
      timed(this.options.observe, 'read', () => READ_SCRIPT.run(this.redis, [keys.meta, keys.stream], args)),
    )) as [string, number, 0 | 1, StreamEntry[], string];
    this.noteEpoch(epoch);
    this.noteRotation(rotated);
    // The script cut expired entries and picked the run (see READ_SCRIPT): one contiguous run of offsets.
    const messages = entries.map(([id, fields]) => toMessage(room, epoch, Number.parseInt(id, 10), fieldsToRecord(fields)));
    return { epoch, offset: Number(last), recovered: recovered === 1, messages };
  }

  async close(): Promise<void> {
    // The connection belongs to the gateway, which closes it after every store.
  }
}
