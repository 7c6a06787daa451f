/**
 * After the run, Redis itself is read: each room's stream must hold exactly the
 * publications answered 2xx, each at the offset its answer gave, and nothing
 * that was answered with an error. This sees what no client may have noticed:
 * an acknowledged publication missing from history (lost by a Redis restart),
 * or a refused one stored anyway.
 *
 * A single Redis is read with a plain client; a Redis Cluster with a cluster
 * client (each room's keys share a hash tag, so they live on one master, which
 * the client finds from the key's slot). The memory topology has no Redis to
 * read: no audit.
 */
import { historyKeys } from '../../server/backends/redis/keys.js';
import type { TestRedisClient } from '../../tools/processes/redis-client.js';
import { ranges, type PublishRecord } from './ledger.js';

export interface HistoryAudit {
  ok: boolean;
  /** Entries read from Redis, all rooms together. */
  entries: number;
  /** 2xx publications of the room's current epoch not in history at their offset: acknowledged, then silently lost. */
  acknowledgedMissing: number;
  /** 2xx publications of an older epoch than the room's current one: lost with that epoch (allowed where a fault can lose data). */
  lostWithEpoch: number;
  /** Publications answered with an error that history holds anyway. */
  storedRefused: number;
  /** Entries whose publication got no answer at all. */
  storedUnknown: number;
  /** Entries whose publication was answered 2xx with another offset (stored twice), or that no publisher sent. */
  storedElsewhere: number;
  /** Offsets up to a room's last offset with no stream entry. */
  holes: number;
  rooms: Array<{ room: string; epoch: string | null; lastOffset: number; entries: number; problems: string[] }>;
  /** The publications behind every problem, with their attempts, for the analysis. */
  details: Array<{ room: string; offset: number | null; problem: string; publication?: PublishRecord }>;
}

type StreamEntry = [id: string, fields: string[]] | { id: string; message: Record<string, string> };

export async function auditHistory(
  connect: () => Promise<TestRedisClient>,
  namespace: string,
  rooms: readonly string[],
  publications: Iterable<PublishRecord>,
  policy: { lossAllowed: boolean },
): Promise<HistoryAudit> {
  const byKey = new Map<string, PublishRecord>();
  for (const record of publications) byKey.set(record.key, record);
  const audit: HistoryAudit = { ok: true, entries: 0, acknowledgedMissing: 0, lostWithEpoch: 0, storedRefused: 0, storedUnknown: 0, storedElsewhere: 0, holes: 0, rooms: [], details: [] };
  const redis = await connect();
  try {
    for (const room of rooms) {
      const keys = historyKeys(namespace, room);
      const meta = (await redis.sendCommand(['HGETALL', keys.meta])) as string[] | Record<string, string>;
      const metaRecord = Array.isArray(meta) ? pairs(meta) : meta;
      const raw = (await redis.sendCommand(['XRANGE', keys.stream, '-', '+'])) as StreamEntry[];
      const epoch = metaRecord.e ?? null;
      const problems: string[] = [];
      const stored = new Map<number, string | null>();
      for (const entry of raw) {
        const [id, fields] = Array.isArray(entry) ? [entry[0], pairs(entry[1])] : [entry.id, entry.message];
        const offset = Number.parseInt(id, 10);
        let key: string | null = null;
        try {
          const data = JSON.parse(fields.d ?? 'null') as { k?: unknown } | null;
          key = typeof data?.k === 'string' ? data.k : null;
        } catch {
          key = null;
        }
        stored.set(offset, key);
        const record = key === null ? undefined : byKey.get(key);
        const problem =
          record === undefined
            ? 'stored, but no publisher sent it'
            : record.outcome === 'refused'
              ? `stored, but answered ${record.refusal?.status ?? '?'} ${record.refusal?.code ?? ''} (refused)`
              : record.outcome === 'published'
                ? record.room === room && record.epoch === epoch && record.offset === offset
                  ? null
                  : `stored at ${offset}, but answered 2xx with ${record.room} ${record.epoch}:${record.offset}`
                : `stored, but its publication is ${record.outcome}`;
        if (problem === null) continue;
        if (record?.outcome === 'refused') audit.storedRefused += 1;
        else if (record !== undefined && record.outcome !== 'published') audit.storedUnknown += 1;
        else audit.storedElsewhere += 1;
        problems.push(`${offset}: ${problem}`);
        audit.details.push({ room, offset, problem, ...(record === undefined ? {} : { publication: record }) });
      }
      audit.entries += stored.size;
      const missing: number[] = [];
      const olderEpochs = new Map<string, number[]>();
      for (const record of byKey.values()) {
        if (record.room !== room || record.outcome !== 'published' || record.offset === undefined) continue;
        if (record.epoch === epoch && stored.get(record.offset) === record.key) continue;
        if (record.epoch !== epoch) {
          const list = olderEpochs.get(record.epoch ?? '?') ?? [];
          list.push(record.offset);
          olderEpochs.set(record.epoch ?? '?', list);
          continue;
        }
        missing.push(record.offset);
        audit.details.push({ room, offset: record.offset, problem: `answered 2xx ${record.epoch}:${record.offset}, not in history`, publication: record });
      }
      audit.acknowledgedMissing += missing.length;
      if (missing.length > 0) problems.push(`acknowledged but missing: ${ranges(missing).join(',')}`);
      for (const [older, offsets] of olderEpochs) {
        audit.lostWithEpoch += offsets.length;
        problems.push(`acknowledged in epoch ${older}, lost with it (epoch now ${epoch}): ${ranges(offsets).join(',')}`);
      }
      const lastOffset = Number(metaRecord.o ?? 0);
      const holes: number[] = [];
      for (let offset = 1; offset <= lastOffset; offset += 1) if (!stored.has(offset)) holes.push(offset);
      audit.holes += holes.length;
      if (holes.length > 0) problems.push(`offsets without an entry: ${ranges(holes).join(',')}`);
      audit.rooms.push({ room, epoch, lastOffset, entries: stored.size, problems });
    }
  } finally {
    await redis.close();
  }
  audit.ok =
    audit.acknowledgedMissing === 0 &&
    audit.storedRefused === 0 &&
    audit.storedUnknown === 0 &&
    audit.storedElsewhere === 0 &&
    audit.holes === 0 &&
    (policy.lossAllowed || audit.lostWithEpoch === 0);
  return audit;
}

function pairs(list: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) record[list[i] as string] = list[i + 1] as string;
  return record;
}
