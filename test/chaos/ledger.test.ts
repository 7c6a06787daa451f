/**
 * The chaos suite's verdict, on hand-made ledgers: it must see every kind of
 * failure it claims to count, and nothing else. (The suite itself runs with
 * `npm run test:chaos`; this file only tests its bookkeeping, in milliseconds.)
 */
import { expect } from 'chai';
import { computeVerdict, ranges, type Delivery, type GapRecord, type PublishRecord, type SubscriptionLog } from './ledger.js';
import { faultsCanLoseData, parseChaosArgs, runName } from './options.js';
import { percentile, recoveryStats, summaryLine } from './report.js';
import { createRng } from './rng.js';
import { parseEventId } from './sse-subscribers.js';

const EPOCH = 'e1';
const ROOM = 'chaos:r01';
const STRICT = { lossAllowed: false };
const LOSSY = { lossAllowed: true };

function published(offset: number, room = ROOM, epoch = EPOCH, at = offset): PublishRecord {
  const key = `k-${room}-${epoch}-${offset}`;
  return { key, publisher: 0, seq: offset, room, outcome: 'published', epoch, offset, attempts: [{ node: 'node1', at, result: 'ok', status: 200 }], sentAt: at, answeredAt: at };
}

function delivery(offset: number, key = `k-${ROOM}-${EPOCH}-${offset}`, epoch = EPOCH): Delivery {
  return { epoch, offset, key, at: offset };
}

function subscription(deliveries: Delivery[], joinOffset = 0, client = 'c1', kind: 'sdk' | 'sse' = 'sdk'): SubscriptionLog {
  return { client, room: ROOM, kind, join: { epoch: EPOCH, offset: joinOffset, at: 0 }, deliveries, gaps: [], offline: [] };
}

function gap(from: number, to: number | null, epochChange = false, epoch = EPOCH): GapRecord {
  return { epoch, from, to, reason: epochChange ? 'epoch-changed' : 'expired', at: 9, epochChange };
}

const five = [1, 2, 3, 4, 5].map((offset) => published(offset));

describe('chaos ledger verdict', () => {
  it('passes when every stored offset after the join is delivered once, in order', () => {
    const verdict = computeVerdict(five, [subscription([3, 4, 5].map((offset) => delivery(offset)), 2), subscription([1, 2, 3, 4, 5].map((offset) => delivery(offset)), 0, 'c2', 'sse')]);
    expect(verdict.ok).to.equal(true);
    expect(verdict.reasons).to.deep.equal([]);
    expect(verdict.totals).to.include({ published: 5, expected: 8, delivered: 8, lost: 0, gapped: 0, duplicated: 0, reordered: 0, recoveredFalse: 0 });
  });

  it('counts silently lost offsets, as ranges, and fails on them even where loss is allowed', () => {
    for (const policy of [STRICT, LOSSY]) {
      const verdict = computeVerdict(five, [subscription([1, 4].map((offset) => delivery(offset)))], policy);
      expect(verdict.ok).to.equal(false);
      expect(verdict.totals).to.include({ lost: 3, gapped: 0 });
      expect(verdict.problems[0]?.lost).to.deep.equal(['2-3', '5']);
      expect(verdict.reasons[0]).to.match(/3 deliveries silently lost/);
    }
  });

  it('counts duplicates and reorders separately', () => {
    const verdict = computeVerdict(five, [subscription([1, 2, 2, 4, 3, 5].map((offset) => delivery(offset)))]);
    expect(verdict.totals).to.include({ lost: 0, duplicated: 1, reordered: 1 });
    expect(verdict.problems[0]?.reordered).to.deep.equal([[4, 3]]);
    expect(verdict.ok).to.equal(false);
  });

  it('separates reported gaps from silent loss: an offset inside a gap the consumer was told about is gapped, not lost', () => {
    const log = subscription([1, 2, 5].map((offset) => delivery(offset)));
    log.gaps.push(gap(3, 3));
    const verdict = computeVerdict(five, [log], LOSSY);
    expect(verdict.totals).to.include({ lost: 1, gapped: 1, recoveredFalse: 1 });
    expect(verdict.problems[0]?.gapped).to.deep.equal(['3']);
    expect(verdict.problems[0]?.lost).to.deep.equal(['4']);
  });

  it('fails on any gap where no fault can lose data, even a reported one', () => {
    const log = subscription([1, 2, 3].map((offset) => delivery(offset)));
    log.gaps.push(gap(4, 5));
    const verdict = computeVerdict(five, [log], STRICT);
    expect(verdict.totals).to.include({ lost: 0, gapped: 2, recoveredFalse: 1, unjustifiedGaps: 1 });
    expect(verdict.ok).to.equal(false);
    expect(verdict.reasons.join('\n')).to.match(/gap events where no fault can lose data/);
  });

  it('allows gaps that come with an epoch change where a fault can lose data, and counts them; never a gap within an epoch', () => {
    // e1 lost after offset 3 (4 and 5 acknowledged, then gone with the epoch); e2 starts over.
    const records = [...five, published(1, ROOM, 'e2', 10), published(2, ROOM, 'e2', 11)];
    const log = subscription([delivery(1), delivery(2), delivery(3), delivery(1, `k-${ROOM}-e2-1`, 'e2'), delivery(2, `k-${ROOM}-e2-2`, 'e2')]);
    log.gaps.push(gap(4, null, true));
    const lossy = computeVerdict(records, [log], LOSSY);
    expect(lossy.totals).to.include({ lost: 0, gapped: 2, recoveredFalse: 1, unjustifiedGaps: 0, roomsWithNewEpoch: 1 });
    expect(lossy.ok).to.equal(true);
    const strict = computeVerdict(records, [log], STRICT);
    expect(strict.ok).to.equal(false);
    expect(strict.reasons.join('\n')).to.match(/new epoch/);

    const withinEpoch = subscription([1, 2, 3].map((offset) => delivery(offset)));
    withinEpoch.gaps.push(gap(4, 5, false));
    const verdict = computeVerdict(five, [withinEpoch], LOSSY);
    expect(verdict.totals).to.include({ gapped: 2, unjustifiedGaps: 1 });
    expect(verdict.ok).to.equal(false);
  });

  it('an SSE recovered:false into another epoch is one gap event covering the old epoch\'s rest and the new epoch\'s start', () => {
    const records = [...five, published(1, ROOM, 'e2', 10), published(2, ROOM, 'e2', 11), published(3, ROOM, 'e2', 12)];
    const log = subscription([1, 2, 3].map((offset) => delivery(offset)), 0, 's1', 'sse');
    log.gaps.push(gap(4, null, true), { ...gap(1, 2, true, 'e2'), sameEvent: true });
    log.deliveries.push(delivery(3, `k-${ROOM}-e2-3`, 'e2'));
    const verdict = computeVerdict(records, [log], LOSSY);
    expect(verdict.totals).to.include({ lost: 0, gapped: 4, recoveredFalse: 1, unjustifiedGaps: 0 });
    expect(verdict.ok).to.equal(true);
    expect(computeVerdict(records, [log], STRICT).totals).to.include({ recoveredFalse: 1, unjustifiedGaps: 1 });
  });

  it('expects the offsets of an epoch that began after the join, from 1', () => {
    const records = [...five, published(1, ROOM, 'e2', 10), published(2, ROOM, 'e2', 11)];
    const log = subscription([1, 2, 3, 4, 5].map((offset) => delivery(offset)));
    log.gaps.push(gap(6, null, true));
    const verdict = computeVerdict(records, [log], LOSSY);
    expect(verdict.totals).to.include({ expected: 7, lost: 2 });
    expect(verdict.problems[0]?.lost).to.deep.equal(['e2:1-2']);
  });

  it('flags a delivered publication that was answered with an error, and one delivered at another offset than its answer', () => {
    const refused: PublishRecord = { key: 'refused-1', publisher: 1, seq: 1, room: ROOM, outcome: 'refused', refusal: { status: 503, code: 'UNAVAILABLE', node: 'node2' }, attempts: [], sentAt: 0 };
    const verdict = computeVerdict([...five, refused], [subscription([delivery(1), delivery(2), delivery(3), delivery(4), delivery(5), delivery(6, 'refused-1'), delivery(7, `k-${ROOM}-${EPOCH}-1`)])]);
    expect(verdict.totals).to.include({ refusedDelivered: 1, mismatched: 1, lost: 0 });
    expect(verdict.rooms[0]?.holes).to.deep.equal([]);
    expect(verdict.ok).to.equal(false);
  });

  it('an offset handed out twice in one epoch (Redis rolled back, no new epoch): reused, and the member that kept the first one silently lost the second', () => {
    const again: PublishRecord = { ...published(4, ROOM, EPOCH, 20), key: 'second-4' };
    const verdict = computeVerdict([...five, again], [subscription([1, 2, 3, 4, 5].map((offset) => delivery(offset)))], LOSSY);
    expect(verdict.totals).to.include({ reused: 1, lost: 1, mismatched: 0 });
    expect(verdict.rooms[0]?.reused).to.deep.equal(['4']);
    expect(verdict.ok).to.equal(false);
  });

  it('a publication delivered in an epoch then lost, and stored again in the next by its retry: allowed only where loss is', () => {
    // Its first attempt (no answer) stored it as e1:6 and broadcast it; e1 was lost; the retry stored it as e2:1.
    const retried: PublishRecord = {
      ...published(1, ROOM, 'e2', 10),
      key: 'retried',
      attempts: [
        { node: 'node1', at: 6, result: 'no-answer', detail: 'ECONNRESET' },
        { node: 'node1', at: 10, result: 'ok', status: 200 },
      ],
    };
    const log = subscription([...[1, 2, 3, 4, 5].map((offset) => delivery(offset)), delivery(6, 'retried'), delivery(1, 'retried', 'e2')]);
    log.gaps.push(gap(7, null, true));
    const lossy = computeVerdict([...five, retried], [log], LOSSY);
    expect(lossy.totals).to.include({ lostEpochDeliveries: 1, mismatched: 0, lost: 0 });
    expect(lossy.ok).to.equal(true);
    expect(computeVerdict([...five, retried], [log], STRICT).ok).to.equal(false);
  });

  it('a membership that ended expects what it delivered past, and what was acknowledged well before its end while it was online', () => {
    const records = [1, 2, 3, 4, 5, 6].map((offset) => published(offset, ROOM, EPOCH, offset * 1_000));
    const left = (deliveries: number[], offline: Array<[number, number | null]> = []): SubscriptionLog => ({
      ...subscription(deliveries.map((offset) => delivery(offset))),
      end: { at: 5_200, reason: 'leave' },
      offline,
    });
    // Acknowledged at 1..3 s: due before a leave at 5.2 s (grace 1.5 s); 4 (4 s) and 5 (5 s) may or may not have arrived; 6 came after.
    expect(computeVerdict(records, [left([1, 2, 3])]).totals).to.include({ expected: 3, lost: 0 });
    expect(computeVerdict(records, [left([1, 3])]).totals).to.include({ expected: 3, lost: 1 });
    expect(computeVerdict(records, [left([1, 2, 3, 5])]).totals).to.include({ expected: 5, lost: 1 });
    // Offline from 2.5 s to 4.5 s: never online 1.5 s in a row after 3 was acknowledged (3 s), so 3 is not due.
    expect(computeVerdict(records, [left([1, 2], [[2_500, 4_500]])]).totals).to.include({ expected: 2, lost: 0 });
    // Offline from 2.5 s to 3 s only: online from 3 s to the leave at 5.2 s, time enough to recover 3.
    expect(computeVerdict(records, [left([1, 2], [[2_500, 3_000]])]).totals).to.include({ expected: 3, lost: 1 });
    expect(computeVerdict(records, [left([1, 2], [[2_500, null]])]).totals).to.include({ expected: 2, lost: 0 });
  });

  it('reports offsets no 2xx answer holds as holes, a second epoch as lost history, and an unsettled publication as unknown', () => {
    const records = [published(1), published(3), published(1, ROOM, 'e2', 20), { ...published(9), key: 'pending', outcome: 'unknown' as const, offset: undefined, epoch: undefined }];
    const verdict = computeVerdict(records, []);
    expect(verdict.rooms[0]).to.include({ maxOffset: 3 });
    expect(verdict.rooms[0]?.holes).to.deep.equal(['e1:2']);
    expect(verdict.totals).to.include({ roomsWithNewEpoch: 1, unknown: 1, holes: 1 });
    expect(verdict.ok).to.equal(false);
  });
});

describe('chaos helpers', () => {
  it('ranges() compresses sorted offsets', () => {
    expect(ranges([5, 1, 2, 3, 7, 8, 3])).to.deep.equal(['1-3', '5', '7-8']);
    expect(ranges([])).to.deep.equal([]);
  });

  it('percentile(), recoveryStats() and the summary line', () => {
    expect(percentile([], 99)).to.equal(null);
    const sorted = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(sorted, 50)).to.equal(50);
    expect(percentile(sorted, 99)).to.equal(99);
    const stats = recoveryStats([
      { start: 0, end: 100, cause: 'cut' },
      { start: 0, end: 300, cause: 'draining' },
      { start: 0, cause: 'cut' },
    ]);
    expect(stats).to.include({ disconnects: 3, recovered: 2, unfinished: 1, p50Ms: 100, maxMs: 300 });
    expect(stats.byCause).to.deep.equal({ cut: 2, draining: 1 });
    const totals = computeVerdict(five, [subscription([1, 2, 3, 4, 5].map((offset) => delivery(offset)))]).totals;
    expect(summaryLine({ name: 'chaos-redis-ci', passed: true, seed: 7, totals })).to.equal(
      'chaos-redis-ci: PASS (seed 7)  published 5  delivered 5  silent lost 0  gapped 0  duplicated 0  reordered 0  recovered:false 0',
    );
  });

  it('the seeded generator repeats itself, and forks independently', () => {
    const a = createRng(42);
    const b = createRng(42);
    expect([a.next(), a.int(10), a.pick(['x', 'y', 'z'])]).to.deep.equal([b.next(), b.int(10), b.pick(['x', 'y', 'z'])]);
    expect(createRng(1).fork('rooms').next()).to.equal(createRng(1).fork('rooms').next());
    expect(createRng(1).fork('rooms').next()).not.to.equal(createRng(1).fork('faults').next());
  });

  it('parses SSE ids <epoch>:<offset> (split at the last colon)', () => {
    expect(parseEventId('Xw3k:12')).to.deep.equal({ epoch: 'Xw3k', offset: 12 });
    expect(parseEventId('a:b:0')).to.deep.equal({ epoch: 'a:b', offset: 0 });
    expect(parseEventId('nocolon')).to.equal(undefined);
    expect(parseEventId(null)).to.equal(undefined);
  });

  it('parses profiles, topologies and flags', () => {
    expect(parseChaosArgs(['--profile', 'ci'], {})).to.include({ profile: 'ci', topology: 'redis', clients: 60, sseClients: 12, rooms: 12, nodes: 3, durability: 'lossless' });
    expect(parseChaosArgs(['--profile', 'full', '--clients', '10', '--seed', '7', '--faults', 'cut,redis'], {})).to.deep.include({ clients: 10, seed: 7, faults: ['cut', 'redis'] });
    expect(parseChaosArgs(['--topology', 'memory'], {})).to.deep.include({ topology: 'memory', nodes: 1, faults: ['cut', 'kill', 'churn'] });
    expect(parseChaosArgs(['--topology', 'cluster'], {}).faults).to.include('shard');
    expect(parseChaosArgs(['--faults', 'rollback'], {})).to.include({ durability: 'lossy' });
    expect(parseChaosArgs(['--faults', 'rollback'], { REDIS_DURABILITY: 'lossless' })).to.include({ durability: 'lossless' });
    expect(() => parseChaosArgs(['--faults', 'meteor'], {})).to.throw(/unknown fault/);
    expect(() => parseChaosArgs(['--topology', 'memory', '--faults', 'redis'], {})).to.throw(/does not apply to the memory topology/);
    expect(() => parseChaosArgs(['--topology', 'redis', '--faults', 'shard'], {})).to.throw(/does not apply/);
    expect(() => parseChaosArgs(['--topology', 'mesh'], {})).to.throw(/--topology/);
    expect(() => parseChaosArgs(['--rate', '0'], {})).to.throw(/--rate/);
    expect(() => parseChaosArgs(['--durability', 'maybe'], {})).to.throw(/--durability/);
    expect(runName(parseChaosArgs(['--topology', 'cluster'], {}))).to.equal('chaos-cluster-ci');
    expect(runName(parseChaosArgs(['--faults', 'rollback', '--label', 'rollback'], {}))).to.equal('chaos-redis-ci-rollback');
  });

  it('knows which faults can lose data', () => {
    const can = (topology: 'memory' | 'redis' | 'cluster', faults: string, durability: 'lossy' | 'lossless' = 'lossless'): boolean =>
      faultsCanLoseData({ topology, faults: faults.split(',') as never, durability });
    expect(can('memory', 'cut,churn')).to.equal(false);
    expect(can('memory', 'cut,kill')).to.equal(true);
    expect(can('redis', 'kill,cut,rolling,redis,churn')).to.equal(false);
    expect(can('redis', 'redis', 'lossy')).to.equal(true);
    expect(can('redis', 'rollback')).to.equal(true);
    expect(can('cluster', 'kill,cut,rolling,shard,churn')).to.equal(false);
    expect(can('cluster', 'shard', 'lossy')).to.equal(true);
  });
});
