/**
 * The bookkeeping of a chaos run and its verdict. Publishers record what the
 * HTTP API answered for each publication; consumers (SDK clients and SSE
 * streams) record, per membership of a room, every message they handed to the
 * application, in delivery order, and every gap they were told about.
 * computeVerdict() compares the two: nothing here knows about processes,
 * sockets or time beyond the timestamps it is given.
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

/**
 * A gap the consumer was told about: offsets `from`..`to` (inclusive; `to`
 * null: to the end of that epoch) of `epoch` will not be delivered.
 */
export interface GapRecord {
  epoch: string;
  from: number;
  to: number | null;
  reason: string;
  at: number;
  /**
   * The gap comes with a change of the room's epoch (the SDK's `epoch-changed`,
   * an SSE `recovered` event into another epoch): history was lost, which only a
   * fault that loses data may cause. Any other gap (history did not hold an
   * offset of the room's current epoch, or could not be read) is never allowed.
   */
  epochChange: boolean;
  /** The second range of one SSE `recovered` event (into another epoch: the old epoch's rest, then the new one's start): not a gap event of its own. */
  sameEvent?: boolean;
}

export type ConsumerKind = 'sdk' | 'sse';

/**
 * One membership of one consumer in one room: from its first join (SDK) or
 * first `position` event (SSE) to its end (leave, close) or the end of the
 * run. Reconnects and resumes stay in the same membership; a new join after
 * a leave is a new one (`client` then carries `#n`).
 */
export interface SubscriptionLog {
  client: string;
  room: string;
  kind: ConsumerKind;
  /** The node it is pinned to (consumers connected to one node's URL), else undefined (through NGINX). */
  node?: string;
  /** The first join's acknowledgement (SSE: the first `position`): deliveries start after this position. */
  join?: { epoch: string; offset: number; at: number };
  /** Set when the membership ended on purpose (leave(), a closed stream): nothing is expected after it. */
  end?: { at: number; reason: string };
  deliveries: Delivery[];
  gaps: GapRecord[];
  /** Times the consumer was offline (disconnected, stream down) during this membership: [from, to or null]. */
  offline: Array<[number, number | null]>;
}

export class Ledger {
  readonly publications = new Map<string, PublishRecord>();
  readonly subscriptions = new Map<string, SubscriptionLog>();

  addPublication(record: PublishRecord): void {
    this.publications.set(record.key, record);
  }

  subscription(client: string, room: string, init: { kind?: ConsumerKind; node?: string } = {}): SubscriptionLog {
    const id = `${client}|${room}`;
    let log = this.subscriptions.get(id);
    if (log === undefined) {
      log = { client, room, kind: init.kind ?? 'sdk', ...(init.node === undefined ? {} : { node: init.node }), deliveries: [], gaps: [], offline: [] };
      this.subscriptions.set(id, log);
    }
    return log;
  }

  /** Each room's highest offset answered with a 2xx, in its latest epoch (what every member must reach). */
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

export interface VerdictPolicy {
  /**
   * Whether a fault of the run can lose acknowledged data (a Redis restarted from
   * an older snapshot, a memory-only node killed): then rooms may start a new
   * epoch and consumers may get gaps with that epoch change (counted as gapped).
   * Otherwise any new epoch or gap fails the run. Silent loss fails it always.
   */
  lossAllowed: boolean;
  /**
   * A membership that ended (leave, closed stream) must still have received what
   * was acknowledged before it stayed online this long without a break (before
   * its end): enough to receive it live or recover it after a reconnect. Later
   * publications may or may not have reached it.
   */
  leaveGraceMs?: number;
}

export const DEFAULT_LEAVE_GRACE_MS = 1_500;

export interface SubscriptionVerdict {
  client: string;
  room: string;
  kind: ConsumerKind;
  node?: string;
  join: { epoch: string; offset: number } | null;
  end: { at: number; reason: string } | null;
  expected: number;
  delivered: number;
  /** Expected offsets never delivered and inside no gap the consumer was told about, as ranges `a-b` (`epoch:a-b` when not the join's epoch). */
  lost: string[];
  lostCount: number;
  /** Expected offsets never delivered, inside a gap the consumer was told about. */
  gapped: string[];
  gappedCount: number;
  duplicated: number[];
  /** Deliveries whose offset is below the one delivered before it: [previous, this]. */
  reordered: Array<[number, number]>;
  gaps: GapRecord[];
  /** Gap events the run does not allow (see VerdictPolicy). */
  unjustifiedGaps: number;
  /** Delivered offsets that no 2xx answer accounts for. */
  unaccounted: Array<{ epoch: string; offset: number; key: string | null; why: string; kind: UnaccountedKind }>;
}

/**
 * refused: a publication answered with an error was delivered; lost-epoch: a
 * publication delivered in an epoch that was then lost, stored again by its
 * retry in the next epoch (its first attempt got no answer); mismatched:
 * anything else (another publication's offset, one nobody sent).
 */
export type UnaccountedKind = 'refused' | 'lost-epoch' | 'mismatched';

export interface RoomVerdict {
  room: string;
  epochs: string[];
  published: number;
  maxOffset: number;
  /** Offsets in 1..max of an epoch that no 2xx answer holds (stored without a success answer, or a gap in the counter). */
  holes: string[];
  /** Offsets answered 2xx for two different publications (an offset handed out twice in one epoch). */
  reused: string[];
}

export interface Totals {
  published: number;
  refused: number;
  unknown: number;
  /** Attempts that got no answer (connection reset, timeout) and were retried with the same key. */
  noAnswerAttempts: number;
  /** Attempts that could not connect (the node was down) and went to another node. */
  unreachableAttempts: number;
  /** Deliveries every consumer should have made. */
  expected: number;
  delivered: number;
  /** Silent loss: expected, never delivered, inside no reported gap. */
  lost: number;
  /** Expected, never delivered, inside a gap the consumer was told about. */
  gapped: number;
  duplicated: number;
  reordered: number;
  /** Gap events (SDK `gap`, SSE `recovered` with `recovered: false`). */
  recoveredFalse: number;
  /** Gap events the run does not allow: any in a run no fault of which can lose data, else those without an epoch change. */
  unjustifiedGaps: number;
  /** Deliveries of a publication that was answered with an error (the contract says: not stored). */
  refusedDelivered: number;
  /** Deliveries of an offset whose data is not the publication the 2xx answer gave that offset (or that no answer accounts for). */
  mismatched: number;
  /** Deliveries of a publication in an epoch that was lost, stored again by its retry (allowed where loss is). */
  lostEpochDeliveries: number;
  /** Offsets answered 2xx for two different publications in the same epoch. */
  reused: number;
  /** Rooms whose history started a new epoch during the run (history lost). */
  roomsWithNewEpoch: number;
  holes: number;
}

export interface Verdict {
  ok: boolean;
  /** Why not ok, one line per broken rule. */
  reasons: string[];
  totals: Totals;
  rooms: RoomVerdict[];
  /** Memberships with any problem, gaps included (all of them; the report may shorten the list). */
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

export function emptyTotals(): Totals {
  return {
    published: 0,
    refused: 0,
    unknown: 0,
    noAnswerAttempts: 0,
    unreachableAttempts: 0,
    expected: 0,
    delivered: 0,
    lost: 0,
    gapped: 0,
    duplicated: 0,
    reordered: 0,
    recoveredFalse: 0,
    unjustifiedGaps: 0,
    refusedDelivered: 0,
    mismatched: 0,
    lostEpochDeliveries: 0,
    reused: 0,
    roomsWithNewEpoch: 0,
    holes: 0,
  };
}

export function computeVerdict(publications: Iterable<PublishRecord>, subscriptions: Iterable<SubscriptionLog>, policy: VerdictPolicy = { lossAllowed: false }): Verdict {
  const totals = emptyTotals();
  const byKey = new Map<string, PublishRecord>();
  /** room -> epoch/offset -> what the 2xx answers said is stored there (more than one: the offset was handed out twice) */
  const stored = new Map<string, Map<string, StoredEntry[]>>();
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
    const id = entryKey(record.epoch, record.offset);
    const list = room.get(id) ?? [];
    list.push({ epoch: record.epoch, offset: record.offset, key: record.key, at });
    room.set(id, list);
    let epochs = epochsSeen.get(record.room);
    if (epochs === undefined) epochsSeen.set(record.room, (epochs = new Map()));
    epochs.set(record.epoch, Math.min(epochs.get(record.epoch) ?? Number.POSITIVE_INFINITY, at));
  }

  const rooms: RoomVerdict[] = [];
  for (const [room, entries] of stored) {
    const epochs = [...(epochsSeen.get(room) ?? new Map<string, number>())].sort((a, b) => a[1] - b[1]).map(([epoch]) => epoch);
    const holes: string[] = [];
    const reused: string[] = [];
    let maxOffset = 0;
    let published = 0;
    for (const epoch of epochs) {
      const lists = [...entries.values()].filter((list) => list[0]?.epoch === epoch);
      const offsets = lists.map((list) => (list[0] as StoredEntry).offset);
      published += lists.reduce((sum, list) => sum + list.length, 0);
      const twice = lists.filter((list) => list.length > 1).map((list) => (list[0] as StoredEntry).offset);
      totals.reused += lists.reduce((sum, list) => sum + list.length - 1, 0);
      if (twice.length > 0) reused.push(...ranges(twice).map((range) => (epochs.length > 1 ? `${epoch}:${range}` : range)));
      const max = Math.max(0, ...offsets);
      maxOffset = Math.max(maxOffset, max);
      const present = new Set(offsets);
      const missing: number[] = [];
      for (let offset = 1; offset <= max; offset += 1) if (!present.has(offset)) missing.push(offset);
      totals.holes += missing.length;
      if (missing.length > 0) holes.push(...ranges(missing).map((range) => (epochs.length > 1 ? `${epoch}:${range}` : range)));
    }
    if (epochs.length > 1) totals.roomsWithNewEpoch += 1;
    rooms.push({ room, epochs, published, maxOffset, holes, reused });
  }
  rooms.sort((a, b) => a.room.localeCompare(b.room));
  const lastEpoch = new Map(rooms.map((room) => [room.room, room.epochs.at(-1)]));

  const problems: SubscriptionVerdict[] = [];
  let count = 0;
  for (const log of subscriptions) {
    count += 1;
    const verdict = judgeSubscription(log, stored.get(log.room) ?? new Map(), epochsSeen.get(log.room) ?? new Map(), lastEpoch.get(log.room), byKey, policy);
    totals.expected += verdict.expected;
    totals.delivered += verdict.delivered;
    totals.lost += verdict.lostCount;
    totals.gapped += verdict.gappedCount;
    totals.duplicated += verdict.duplicated.length;
    totals.reordered += verdict.reordered.length;
    totals.recoveredFalse += verdict.gaps.filter((gap) => gap.sameEvent !== true).length;
    totals.unjustifiedGaps += verdict.unjustifiedGaps;
    for (const item of verdict.unaccounted) {
      if (item.kind === 'refused') totals.refusedDelivered += 1;
      else if (item.kind === 'lost-epoch') totals.lostEpochDeliveries += 1;
      else totals.mismatched += 1;
    }
    if (verdict.lostCount > 0 || verdict.gappedCount > 0 || verdict.duplicated.length > 0 || verdict.reordered.length > 0 || verdict.gaps.length > 0 || verdict.unaccounted.length > 0) {
      problems.push(verdict);
    }
  }

  const reasons: string[] = [];
  const rule = (broken: boolean, reason: string): void => {
    if (broken) reasons.push(reason);
  };
  rule(totals.lost > 0, `${totals.lost} deliveries silently lost (expected, never delivered, in no reported gap)`);
  rule(totals.duplicated > 0, `${totals.duplicated} duplicated deliveries`);
  rule(totals.reordered > 0, `${totals.reordered} reordered deliveries`);
  rule(totals.refusedDelivered > 0, `${totals.refusedDelivered} deliveries of publications answered with an error`);
  rule(totals.mismatched > 0, `${totals.mismatched} deliveries whose data is not what the 2xx answer gave that offset`);
  rule(totals.unknown > 0, `${totals.unknown} publications never settled (no answer after every retry)`);
  rule(totals.reused > 0, `${totals.reused} offsets answered 2xx for two different publications in one epoch`);
  rule(totals.unjustifiedGaps > 0, policy.lossAllowed ? `${totals.unjustifiedGaps} gap events without an epoch change (history must hold every offset of an epoch)` : `${totals.unjustifiedGaps} gap events where no fault can lose data`);
  rule(!policy.lossAllowed && totals.roomsWithNewEpoch > 0, `${totals.roomsWithNewEpoch} rooms started a new epoch where no fault can lose data`);
  rule(!policy.lossAllowed && totals.lostEpochDeliveries > 0, `${totals.lostEpochDeliveries} deliveries in an epoch that was lost, where no fault can lose data`);
  return { ok: reasons.length === 0, reasons, totals, rooms, problems, subscriptions: count };
}

function judgeSubscription(
  log: SubscriptionLog,
  stored: Map<string, StoredEntry[]>,
  epochs: Map<string, number>,
  lastEpoch: string | undefined,
  byKey: Map<string, PublishRecord>,
  policy: VerdictPolicy,
): SubscriptionVerdict {
  const join = log.join ?? null;
  const graceMs = policy.leaveGraceMs ?? DEFAULT_LEAVE_GRACE_MS;

  const seen = new Set<string>();
  const delivered = new Set<string>();
  const highest = new Map<string, number>();
  const duplicated: number[] = [];
  const reordered: Array<[number, number]> = [];
  const unaccounted: SubscriptionVerdict['unaccounted'] = [];
  let previous: Delivery | undefined;
  for (const delivery of log.deliveries) {
    const id = entryKey(delivery.epoch, delivery.offset);
    highest.set(delivery.epoch, Math.max(highest.get(delivery.epoch) ?? 0, delivery.offset));
    if (seen.has(id)) duplicated.push(delivery.offset);
    else {
      seen.add(id);
      delivered.add(`${id}/${delivery.key ?? ''}`);
      const entries = stored.get(id) ?? [];
      if (!entries.some((entry) => entry.key === delivery.key)) {
        const record = delivery.key === null ? undefined : byKey.get(delivery.key);
        let why: string;
        let kind: UnaccountedKind = 'mismatched';
        if (record === undefined) why = 'no such publication';
        else if (record.outcome === 'refused') {
          why = 'refused';
          kind = 'refused';
        } else if (record.outcome === 'published') {
          why = `published as ${record.epoch === delivery.epoch ? '' : `${record.epoch ?? '?'}:`}${record.offset ?? '?'}`;
          // Stored in an epoch that was then lost, before its answer could come; its retry stored it again.
          if (record.epoch !== delivery.epoch && delivery.epoch !== lastEpoch && record.attempts.some((attempt) => attempt.result === 'no-answer')) kind = 'lost-epoch';
        } else why = `outcome ${record.outcome}`;
        unaccounted.push({ epoch: delivery.epoch, offset: delivery.offset, key: delivery.key, why, kind });
      }
    }
    if (previous !== undefined && previous.epoch === delivery.epoch && delivery.offset < previous.offset) reordered.push([previous.offset, delivery.offset]);
    previous = delivery;
  }

  // Online without a break for at least `graceMs` somewhere in [from, to]: time enough to receive (or recover) it.
  const hadTime = (from: number, to: number): boolean => {
    let cursor = from;
    for (const [start, end] of [...log.offline].sort((a, b) => a[0] - b[0])) {
      const stop = end ?? Number.POSITIVE_INFINITY;
      if (stop < cursor) continue;
      if (start > to) break;
      if (start - cursor >= graceMs) return true;
      cursor = Math.max(cursor, stop);
    }
    return to - cursor >= graceMs;
  };
  // Expected: everything stored after the join position in its epoch, and everything of an epoch that began after
  // the join; for a membership that ended, only what it had delivered past, or what was acknowledged well before the end.
  const expected: StoredEntry[] = [];
  for (const entries of stored.values()) {
    for (const entry of entries) {
      const after =
        join === null ? false : entry.epoch === join.epoch ? entry.offset > join.offset : (epochs.get(entry.epoch) ?? 0) > join.at;
      if (!after) continue;
      if (log.end !== undefined) {
        const passed = entry.offset <= (highest.get(entry.epoch) ?? 0);
        const longBefore = hadTime(entry.at, log.end.at);
        if (!passed && !longBefore) continue;
      }
      expected.push(entry);
    }
  }

  const inGap = (entry: StoredEntry): boolean => log.gaps.some((gap) => gap.epoch === entry.epoch && entry.offset >= gap.from && (gap.to === null || entry.offset <= gap.to));
  const lostByEpoch = new Map<string, number[]>();
  const gappedByEpoch = new Map<string, number[]>();
  for (const entry of expected) {
    if (delivered.has(`${entryKey(entry.epoch, entry.offset)}/${entry.key}`)) continue;
    const target = inGap(entry) ? gappedByEpoch : lostByEpoch;
    const list = target.get(entry.epoch) ?? [];
    list.push(entry.offset);
    target.set(entry.epoch, list);
  }
  const describe = (byEpoch: Map<string, number[]>): { list: string[]; count: number } => {
    const list: string[] = [];
    let count = 0;
    for (const [epoch, offsets] of byEpoch) {
      count += offsets.length;
      list.push(...ranges(offsets).map((range) => (epoch !== join?.epoch ? `${epoch}:${range}` : range)));
    }
    return { list, count };
  };
  const lost = describe(lostByEpoch);
  const gapped = describe(gappedByEpoch);
  const unjustifiedGaps = log.gaps.filter((gap) => gap.sameEvent !== true && (!policy.lossAllowed || !gap.epochChange)).length;
  return {
    client: log.client,
    room: log.room,
    kind: log.kind,
    ...(log.node === undefined ? {} : { node: log.node }),
    join: join === null ? null : { epoch: join.epoch, offset: join.offset },
    end: log.end ?? null,
    expected: expected.length,
    delivered: log.deliveries.length,
    lost: lost.list,
    lostCount: lost.count,
    gapped: gapped.list,
    gappedCount: gapped.count,
    duplicated,
    reordered,
    gaps: log.gaps,
    unjustifiedGaps,
    unaccounted,
  };
}
