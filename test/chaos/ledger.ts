/**
 * The bookkeeping of a chaos run and its verdict. Publishers record what the
 * HTTP API answered for each publication; subscribers record every message the
 * SDK handed to the application, per client and room, in delivery order, and
 * every `gap` event. computeVerdict() compares the two: nothing here knows about
 * processes, sockets or time beyond the timestamps it is given.
 */

/** published: a 2xx answer; refused: an error answer to the first attempt; unknown: no answer after every retry. */
export type PublishOutcome = 'pending' | 'published' | 'refused' | 'unknown';

export interface PublishAttempt {
  node: string;
  at: number;
  /** ok: 2xx; error: a 4xx/5xx answer; no-answer: the request may have reached the node; unreachable: it did not (ECONNREFUSED). */
  result: 'ok' | 'error' | 'no-answer' | 'unreachable';
  status?: number;
  detail?: string;
}

export interface PublishRecord {
  key: string;
  publisher: number;
  seq: number;
  room: string;
  outcome: PublishOutcome;
  epoch?: string;
  offset?: number;
  /** The error answer that made it `refused`. */
  refusal?: { status: number; code: string; node: string };
  attempts: PublishAttempt[];
  sentAt: number;
  answeredAt?: number;
}

export interface Delivery {
  epoch: string;
  offset: number;
  /** The publication's idempotency key, carried in its data; null when the data has none. */
  key: string | null;
  at: number;
}

export interface GapRecord {
  epoch: string;
  from: number;
  to: number | null;
  reason: string;
  at: number;
}

export interface SubscriptionLog {
  client: string;
  room: string;
  /** The first join's acknowledgement: deliveries start after this position. */
  join?: { epoch: string; offset: number; at: number };
  deliveries: Delivery[];
  gaps: GapRecord[];
}

export class Ledger {
  readonly publications = new Map<string, PublishRecord>();
  readonly subscriptions = new Map<string, SubscriptionLog>();

  addPublication(record: PublishRecord): void {
    this.publications.set(record.key, record);
  }

  subscription(client: string, room: string): SubscriptionLog {
    const id = `${client}|${room}`;
    let log = this.subscriptions.get(id);
    if (log === undefined) {
      log = { client, room, deliveries: [], gaps: [] };
      this.subscriptions.set(id, log);
    }
    return log;
  }

  /** Each room's highest offset answered with a 2xx, per epoch of its latest epoch (what every member must reach). */
  targets(): Map<string, { epoch: string; offset: number }> {
    const targets = new Map<string, { epoch: string; offset: number; at: number }>();
    for (const record of this.publications.values()) {
      if (record.outcome !== 'published' || record.epoch === undefined || record.offset === undefined) continue;
      const current = targets.get(record.room);
      const at = record.answeredAt ?? record.sentAt;
      if (current === undefined || (current.epoch === record.epoch ? record.offset > current.offset : at > current.at)) {
        targets.set(record.room, { epoch: record.epoch, offset: record.offset, at });
      }
    }
    return new Map([...targets].map(([room, { epoch, offset }]) => [room, { epoch, offset }]));
  }
}

// ---- the verdict -------------------------------------------------------------------

export interface SubscriptionVerdict {
  client: string;
  room: string;
  join: { epoch: string; offset: number } | null;
  expected: number;
  delivered: number;
  /** Expected offsets never delivered, as ranges `a-b`, per epoch. */
  lost: string[];
  lostCount: number;
  duplicated: number[];
  /** Deliveries whose offset is below the one delivered before it: [previous, this]. */
  reordered: Array<[number, number]>;
  gaps: GapRecord[];
  /** Delivered offsets that no 2xx answer accounts for. */
  unaccounted: Array<{ epoch: string; offset: number; key: string | null; why: string }>;
}

export interface RoomVerdict {
  room: string;
  epochs: string[];
  published: number;
  maxOffset: number;
  /** Offsets in 1..max of an epoch that no 2xx answer holds (stored without a success answer, or a gap in the counter). */
  holes: string[];
}

export interface Totals {
  published: number;
  refused: number;
  unknown: number;
  /** Attempts that got no answer (connection reset, timeout) and were retried with the same key. */
  noAnswerAttempts: number;
  /** Attempts that could not connect (the node was down) and went to another node. */
  unreachableAttempts: number;
  /** Deliveries every client should have made. */
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  recoveredFalse: number;
  /** Deliveries of a publication that was answered with an error (the contract says: not stored). */
  refusedDelivered: number;
  /** Deliveries of an offset whose data is not the publication the 2xx answer gave that offset (or that no answer accounts for). */
  mismatched: number;
  /** Rooms whose history started a new epoch during the run (history lost). */
  roomsWithNewEpoch: number;
  holes: number;
}

export interface Verdict {
  ok: boolean;
  totals: Totals;
  rooms: RoomVerdict[];
  /** Client-rooms with any problem (all of them; the report may shorten the list). */
  problems: SubscriptionVerdict[];
  subscriptions: number;
}

const entryKey = (epoch: string, offset: number): string => `${epoch}/${offset}`;

/** `[1,2,3,5,7,8]` -> `['1-3', '5', '7-8']` */
export function ranges(values: readonly number[]): string[] {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const out: string[] = [];
  let start: number | undefined;
  let previous: number | undefined;
  for (const value of sorted) {
    if (start !== undefined && previous !== undefined && value === previous + 1) {
      previous = value;
      continue;
    }
    if (start !== undefined) out.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = value;
    previous = value;
  }
  if (start !== undefined) out.push(start === previous ? `${start}` : `${start}-${previous}`);
  return out;
}

interface StoredEntry {
  epoch: string;
  offset: number;
  key: string;
  at: number;
}

export function computeVerdict(publications: Iterable<PublishRecord>, subscriptions: Iterable<SubscriptionLog>): Verdict {
  const totals: Totals = {
    published: 0,
    refused: 0,
    unknown: 0,
    noAnswerAttempts: 0,
    unreachableAttempts: 0,
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    recoveredFalse: 0,
    refusedDelivered: 0,
    mismatched: 0,
    roomsWithNewEpoch: 0,
    holes: 0,
  };
  const byKey = new Map<string, PublishRecord>();
  /** room -> epoch/offset -> what the 2xx answer said is stored there */
  const stored = new Map<string, Map<string, StoredEntry>>();
  /** room -> epoch -> when it was first seen in an answer */
  const epochsSeen = new Map<string, Map<string, number>>();

  for (const record of publications) {
    byKey.set(record.key, record);
    for (const attempt of record.attempts) {
      if (attempt.result === 'no-answer') totals.noAnswerAttempts += 1;
      if (attempt.result === 'unreachable') totals.unreachableAttempts += 1;
    }
    if (record.outcome === 'refused') totals.refused += 1;
    if (record.outcome === 'unknown' || record.outcome === 'pending') totals.unknown += 1;
    if (record.outcome !== 'published' || record.epoch === undefined || record.offset === undefined) continue;
    totals.published += 1;
    const at = record.answeredAt ?? record.sentAt;
    let room = stored.get(record.room);
    if (room === undefined) stored.set(record.room, (room = new Map()));
    room.set(entryKey(record.epoch, record.offset), { epoch: record.epoch, offset: record.offset, key: record.key, at });
    let epochs = epochsSeen.get(record.room);
    if (epochs === undefined) epochsSeen.set(record.room, (epochs = new Map()));
    epochs.set(record.epoch, Math.min(epochs.get(record.epoch) ?? Number.POSITIVE_INFINITY, at));
  }

  const rooms: RoomVerdict[] = [];
  for (const [room, entries] of stored) {
    const epochs = [...(epochsSeen.get(room) ?? new Map<string, number>())].sort((a, b) => a[1] - b[1]).map(([epoch]) => epoch);
    const holes: string[] = [];
    let maxOffset = 0;
    for (const epoch of epochs) {
      const offsets = [...entries.values()].filter((entry) => entry.epoch === epoch).map((entry) => entry.offset);
      const max = Math.max(0, ...offsets);
      maxOffset = Math.max(maxOffset, max);
      const present = new Set(offsets);
      const missing: number[] = [];
      for (let offset = 1; offset <= max; offset += 1) if (!present.has(offset)) missing.push(offset);
      totals.holes += missing.length;
      if (missing.length > 0) holes.push(...ranges(missing).map((range) => (epochs.length > 1 ? `${epoch}:${range}` : range)));
    }
    if (epochs.length > 1) totals.roomsWithNewEpoch += 1;
    rooms.push({ room, epochs, published: entries.size, maxOffset, holes });
  }
  rooms.sort((a, b) => a.room.localeCompare(b.room));

  const problems: SubscriptionVerdict[] = [];
  let count = 0;
  for (const log of subscriptions) {
    count += 1;
    const verdict = judgeSubscription(log, stored.get(log.room) ?? new Map(), epochsSeen.get(log.room) ?? new Map(), byKey);
    totals.expected += verdict.expected;
    totals.delivered += verdict.delivered;
    totals.lost += verdict.lostCount;
    totals.duplicated += verdict.duplicated.length;
    totals.reordered += verdict.reordered.length;
    totals.recoveredFalse += verdict.gaps.length;
    for (const item of verdict.unaccounted) {
      if (item.why === 'refused') totals.refusedDelivered += 1;
      else totals.mismatched += 1;
    }
    if (verdict.lostCount > 0 || verdict.duplicated.length > 0 || verdict.reordered.length > 0 || verdict.gaps.length > 0 || verdict.unaccounted.length > 0) {
      problems.push(verdict);
    }
  }

  const ok =
    totals.lost === 0 &&
    totals.duplicated === 0 &&
    totals.reordered === 0 &&
    totals.recoveredFalse === 0 &&
    totals.refusedDelivered === 0 &&
    totals.mismatched === 0 &&
    totals.roomsWithNewEpoch === 0 &&
    totals.unknown === 0;
  return { ok, totals, rooms, problems, subscriptions: count };
}

function judgeSubscription(
  log: SubscriptionLog,
  stored: Map<string, StoredEntry>,
  epochs: Map<string, number>,
  byKey: Map<string, PublishRecord>,
): SubscriptionVerdict {
  const join = log.join ?? null;
  // Expected: everything stored after the join position in its epoch, and everything of an epoch that began after the join.
  const expected = new Map<string, StoredEntry>();
  for (const [id, entry] of stored) {
    const after =
      join === null
        ? false
        : entry.epoch === join.epoch
          ? entry.offset > join.offset
          : (epochs.get(entry.epoch) ?? 0) > join.at;
    if (after) expected.set(id, entry);
  }

  const seen = new Set<string>();
  const duplicated: number[] = [];
  const reordered: Array<[number, number]> = [];
  const unaccounted: SubscriptionVerdict['unaccounted'] = [];
  let previous: Delivery | undefined;
  for (const delivery of log.deliveries) {
    const id = entryKey(delivery.epoch, delivery.offset);
    if (seen.has(id)) duplicated.push(delivery.offset);
    else {
      seen.add(id);
      const entry = stored.get(id);
      if (entry === undefined || entry.key !== delivery.key) {
        const record = delivery.key === null ? undefined : byKey.get(delivery.key);
        const why =
          record === undefined
            ? 'no such publication'
            : record.outcome === 'refused'
              ? 'refused'
              : record.outcome === 'published'
                ? `published as ${record.epoch === delivery.epoch ? '' : `${record.epoch ?? '?'}:`}${record.offset ?? '?'}`
                : `outcome ${record.outcome}`;
        unaccounted.push({ epoch: delivery.epoch, offset: delivery.offset, key: delivery.key, why });
      }
    }
    if (previous !== undefined && previous.epoch === delivery.epoch && delivery.offset < previous.offset) reordered.push([previous.offset, delivery.offset]);
    previous = delivery;
  }

  const lostByEpoch = new Map<string, number[]>();
  for (const [id, entry] of expected) {
    if (seen.has(id)) continue;
    const list = lostByEpoch.get(entry.epoch) ?? [];
    list.push(entry.offset);
    lostByEpoch.set(entry.epoch, list);
  }
  const lost: string[] = [];
  let lostCount = 0;
  for (const [epoch, offsets] of lostByEpoch) {
    lostCount += offsets.length;
    lost.push(...ranges(offsets).map((range) => (lostByEpoch.size > 1 || epoch !== join?.epoch ? `${epoch}:${range}` : range)));
  }
  return {
    client: log.client,
    room: log.room,
    join: join === null ? null : { epoch: join.epoch, offset: join.offset },
    expected: expected.size,
    delivered: log.deliveries.length,
    lost,
    lostCount,
    duplicated,
    reordered,
    gaps: log.gaps,
    unaccounted,
  };
}
