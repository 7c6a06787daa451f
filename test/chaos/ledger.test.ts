/**
 * The chaos suite's verdict, on hand-made ledgers: it must see every kind of
 * failure it claims to count, and nothing else. (The suite itself runs with
 * `npm run test:chaos`; this file only tests its bookkeeping, in milliseconds.)
 */
import { expect } from 'chai';
import { computeVerdict, ranges, type Delivery, type PublishRecord, type SubscriptionLog } from './ledger.js';
import { parseChaosArgs } from './options.js';
import { percentile, recoveryStats } from './report.js';
import { createRng } from './rng.js';

const EPOCH = 'e1';
const ROOM = 'chaos:r01';

function published(offset: number, room = ROOM, epoch = EPOCH): PublishRecord {
  const key = `k-${room}-${epoch}-${offset}`;
  return { key, publisher: 0, seq: offset, room, outcome: 'published', epoch, offset, attempts: [{ node: 'node1', at: offset, result: 'ok', status: 200 }], sentAt: offset, answeredAt: offset };
}

function delivery(offset: number, key = `k-${ROOM}-${EPOCH}-${offset}`, epoch = EPOCH): Delivery {
  return { epoch, offset, key, at: offset };
}

function subscription(deliveries: Delivery[], joinOffset = 0, client = 'c1'): SubscriptionLog {
  return { client, room: ROOM, join: { epoch: EPOCH, offset: joinOffset, at: 0 }, deliveries, gaps: [] };
}

const five = [1, 2, 3, 4, 5].map((offset) => published(offset));

describe('chaos ledger verdict', () => {
  it('passes when every stored offset after the join is delivered once, in order', () => {
    const verdict = computeVerdict(five, [subscription([3, 4, 5].map((offset) => delivery(offset)), 2), subscription([1, 2, 3, 4, 5].map((offset) => delivery(offset)), 0, 'c2')]);
    expect(verdict.ok).to.equal(true);
    expect(verdict.totals).to.include({ published: 5, expected: 8, delivered: 8, lost: 0, duplicated: 0, reordered: 0, recoveredFalse: 0 });
  });

  it('counts lost offsets, as ranges', () => {
    const verdict = computeVerdict(five, [subscription([1, 4].map((offset) => delivery(offset)))]);
    expect(verdict.ok).to.equal(false);
    expect(verdict.totals.lost).to.equal(3);
    expect(verdict.problems[0]?.lost).to.deep.equal(['2-3', '5']);
  });

  it('counts duplicates and reorders separately', () => {
    const verdict = computeVerdict(five, [subscription([1, 2, 2, 4, 3, 5].map((offset) => delivery(offset)))]);
    expect(verdict.totals).to.include({ lost: 0, duplicated: 1, reordered: 1 });
    expect(verdict.problems[0]?.reordered).to.deep.equal([[4, 3]]);
  });

  it('counts gap events as recovered:false', () => {
    const log = subscription([1, 2, 3, 4, 5].map((offset) => delivery(offset)));
    log.gaps.push({ epoch: EPOCH, from: 6, to: 7, reason: 'expired', at: 9 });
    const verdict = computeVerdict(five, [log]);
    expect(verdict.totals.recoveredFalse).to.equal(1);
    expect(verdict.ok).to.equal(false);
  });

  it('flags a delivered publication that was answered with an error, and one delivered at another offset than its answer', () => {
    const refused: PublishRecord = { key: 'refused-1', publisher: 1, seq: 1, room: ROOM, outcome: 'refused', refusal: { status: 503, code: 'UNAVAILABLE', node: 'node2' }, attempts: [], sentAt: 0 };
    const verdict = computeVerdict([...five, refused], [subscription([delivery(1), delivery(2), delivery(3), delivery(4), delivery(5), delivery(6, 'refused-1'), delivery(7, `k-${ROOM}-${EPOCH}-1`)])]);
    expect(verdict.totals).to.include({ refusedDelivered: 1, mismatched: 1, lost: 0 });
    expect(verdict.rooms[0]?.holes).to.deep.equal([]);
    expect(verdict.ok).to.equal(false);
  });

  it('reports offsets no 2xx answer holds as holes, a second epoch as lost history, and an unsettled publication as unknown', () => {
    const records = [published(1), published(3), published(1, ROOM, 'e2'), { ...published(9), key: 'pending', outcome: 'unknown' as const, offset: undefined, epoch: undefined }];
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

  it('percentile() and recoveryStats()', () => {
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
  });

  it('the seeded generator repeats itself, and forks independently', () => {
    const a = createRng(42);
    const b = createRng(42);
    expect([a.next(), a.int(10), a.pick(['x', 'y', 'z'])]).to.deep.equal([b.next(), b.int(10), b.pick(['x', 'y', 'z'])]);
    expect(createRng(1).fork('rooms').next()).to.equal(createRng(1).fork('rooms').next());
    expect(createRng(1).fork('rooms').next()).not.to.equal(createRng(1).fork('faults').next());
  });

  it('parses profiles and flags', () => {
    expect(parseChaosArgs(['--profile', 'ci'])).to.include({ profile: 'ci', clients: 60, rooms: 12, nodes: 3 });
    expect(parseChaosArgs(['--profile', 'full', '--clients', '10', '--seed', '7', '--faults', 'cut,redis'])).to.deep.include({ clients: 10, seed: 7, faults: ['cut', 'redis'] });
    expect(() => parseChaosArgs(['--faults', 'meteor'])).to.throw(/unknown fault/);
    expect(() => parseChaosArgs(['--rate', '0'])).to.throw(/--rate/);
  });
});
