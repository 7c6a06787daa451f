/**
 * History in Redis, shared by every node: per room a meta hash (epoch, last
 * offset) and a stream whose entry ids are the offsets, bounded by HISTORY_SIZE
 * (MAXLEN) and HISTORY_TTL_S (the keys expire that long after the last write;
 * older entries of a busy room are skipped on read). See history-scripts.ts for
 * the atomic steps and history-store.ts for the contract.
 */
import { randomUUID } from 'node:crypto';
import { ClientOfflineError } from 'redis';
import type { Message, StreamPosition } from '../../../shared/index.js';
import type { RedisCommands } from './redis-connections.js';
import { isDefiniteRefusal, REDIS_CALL_TIMEOUT_MS, redisCall, timed, withDeadline, type ObserveRedis } from './redis-errors.js';
import { OutcomeUnknownError, RoomcastError } from '../../errors.js';
import type { AppendResult, HistoryRead, HistoryStore, NewPublication } from '../../core/history-store.js';
import { newEpoch } from '../../core/epochs.js';
import { historyKeys } from './keys.js';
import { APPEND_SCRIPT, READ_SCRIPT } from './history-scripts.js';

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
}

type StreamEntry = [id: string, fields: string[]];

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

export class RedisHistoryStore implements HistoryStore {
  private readonly now: () => number;
  private readonly durability: RedisDurability;

  constructor(
    private readonly redis: RedisCommands,
    private readonly options: RedisHistoryOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.durability = options.durability ?? 'lossy';
  }

  /**
   * The epoch a room gets if its meta is missing. Random bytes per call cost a
   * synchronous syscall on every publish, so one candidate is offered until a
   * room takes it (the scripts answer with the epoch in force); then a fresh
   * one, so a room re-created later never gets an epoch it had before.
   */
  private epochCandidate = newEpoch();

  private noteEpoch(epoch: string): void {
    if (epoch === this.epochCandidate) this.epochCandidate = newEpoch();
  }

  private noteRotation(rotated: string | undefined): void {
    if (rotated === 'redis-replaced') this.options.onRotation?.(rotated);
  }

  /**
   * A command that never left (the connection was down) is "not stored"
   * (UNAVAILABLE), and so is one Redis refused before running it (OOM, READONLY,
   * CLUSTERDOWN, LOADING, NOPERM...: see isDefiniteRefusal). A command that left
   * but whose answer was lost may have been applied: it is run again with the
   * same idempotency key (the gateway's own when the publisher gave none) until
   * Redis answers, which tells stored from not stored; past APPEND_SETTLE_MS it
   * is OutcomeUnknownError.
   */
  async append(namespace: string, room: string, publication: NewPublication, idempotencyKey?: string): Promise<AppendResult> {
    const keys = historyKeys(namespace, room);
    const retryKey = idempotencyKey ?? `retry:${randomUUID()}`;
    const args = [
      this.epochCandidate,
      this.options.ttlSeconds,
      this.options.size,
      publication.event,
      publication.dataJson ?? JSON.stringify(publication.data),
      publication.ts,
      publication.from ?? '',
      idempotencyKey === undefined ? 'ref' : 'full',
      RETRY_KEY_TTL_S,
      this.durability,
    ];
    const deadline = Date.now() + APPEND_SETTLE_MS;
    let sent = false;
    let reply: [0, string, number, string] | [1, string[]];
    for (let attempt = 0; ; attempt += 1) {
      try {
        reply = (await withDeadline(
          timed(this.options.observe, 'append', () => APPEND_SCRIPT.run(this.redis, [keys.meta, keys.stream, keys.idempotency(retryKey)], args)),
          REDIS_CALL_TIMEOUT_MS,
        )) as typeof reply;
        break;
      } catch (error) {
        if (!sent && error instanceof ClientOfflineError) throw new RoomcastError('UNAVAILABLE', 'redis is unavailable (append)');
        // Redis answered, refusing before the script wrote anything: "not stored", said at once (a retry would
        // only turn a definite answer into an unknown one after APPEND_SETTLE_MS).
        if (isDefiniteRefusal(error)) throw new RoomcastError('UNAVAILABLE', `redis refused the append: ${(error as Error).message.split(' ')[0] ?? 'error'}`);
        sent = true;
        if (Date.now() >= deadline) throw new OutcomeUnknownError('redis did not confirm whether the publication was stored');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
      }
    }
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
