/**
 * The HistoryStore contract (server/core/history-store.ts), as one suite
 * that every implementation runs: memory now, Redis when it exists.
 */
import { expect } from 'chai';
import type { JsonValue } from '../../shared/index.js';
import type { AppendItem, AppendItemResult, AppendResult, HistoryStore } from '../../server/core/history-store.js';

export interface HistoryStoreFactory {
  /** A fresh, empty store keeping `size` entries per room; `now` is its clock (default Date.now). */
  create(options: { size: number; ttlSeconds: number; now?: () => number }): Promise<HistoryStore>;
  /** A store whose backend cannot be reached (a store that has none, memory, leaves it out); `close` releases it. */
  unreachable?: () => Promise<{ store: HistoryStore; close(): Promise<void> }>;
}

const publication = (n: number) => ({ event: 'n', data: { n }, ts: Date.now() });

const item = (room: string, n: number, idempotencyKey?: string, namespace = '/'): AppendItem => ({
  namespace,
  room,
  publication: publication(n),
  ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
});

/** The AppendResult of an item that must have been stored (or found stored). */
function stored(answer: AppendItemResult | undefined): AppendResult {
  if (answer === undefined || !answer.ok) expect.fail(`not stored: ${String(answer && !answer.ok ? answer.error : answer)}`);
  return answer.result;
}

export function historyStoreContract(name: string, factory: HistoryStoreFactory): void {
  describe(`HistoryStore contract: ${name}`, () => {
    let store: HistoryStore;
    beforeEach(async () => {
      store = await factory.create({ size: 5, ttlSeconds: 3600 });
    });
    afterEach(() => store.close());

    it('starts a room at offset 0 with a stable epoch', async () => {
      const first = await store.position('/', 'a');
      const second = await store.position('/', 'a');
      expect(first.offset).to.equal(0);
      expect(second).to.deep.equal(first);
    });

    it('assigns contiguous offsets from 1 per room, within one epoch', async () => {
      const start = await store.position('/', 'a');
      const offsets = [];
      for (let i = 0; i < 4; i += 1) offsets.push((await store.append('/', 'a', publication(i))).message);
      expect(offsets.map((m) => m.offset)).to.deep.equal([1, 2, 3, 4]);
      expect(new Set(offsets.map((m) => m.epoch))).to.deep.equal(new Set([start.epoch]));
      expect((await store.append('/', 'b', publication(0))).message.offset).to.equal(1);
      expect((await store.append('/live', 'a', publication(0))).message.offset).to.equal(1);
    });

    it('keeps offsets contiguous under concurrent appends', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append('/', 'c', publication(i))));
      expect(results.map((r) => r.message.offset).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('reads after a position, in order, up to a limit', async () => {
      for (let i = 0; i < 5; i += 1) await store.append('/', 'a', publication(i));
      const { epoch } = await store.position('/', 'a');
      const read = await store.read('/', 'a', { epoch, offset: 1 }, 2);
      expect(read).to.include({ epoch, offset: 5, recovered: true });
      expect(read.messages.map((m) => m.offset)).to.deep.equal([2, 3]);
      expect(read.messages[0]).to.deep.include({ room: 'a', event: 'n', data: { n: 1 } });
    });

    it('trims to the size and reports recovered: false for a gap it no longer holds', async () => {
      for (let i = 0; i < 8; i += 1) await store.append('/', 'a', publication(i));
      const { epoch } = await store.position('/', 'a');
      expect((await store.read('/', 'a', { epoch, offset: 2 }, 100)).recovered).to.equal(false);
      const held = await store.read('/', 'a', { epoch, offset: 3 }, 100);
      expect(held.recovered).to.equal(true);
      expect(held.messages.map((m) => m.offset)).to.deep.equal([4, 5, 6, 7, 8]);
      expect((await store.read('/', 'a', undefined, 100)).messages.map((m) => m.offset)).to.deep.equal([4, 5, 6, 7, 8]);
    });

    it('reports recovered: true with nothing to send when the position is current', async () => {
      await store.append('/', 'a', publication(0));
      const { epoch } = await store.position('/', 'a');
      expect(await store.read('/', 'a', { epoch, offset: 1 }, 10)).to.deep.include({ recovered: true, messages: [] });
    });

    it('reports recovered: false for another epoch or an offset ahead of the room', async () => {
      await store.append('/', 'a', publication(0));
      const { epoch } = await store.position('/', 'a');
      expect((await store.read('/', 'a', { epoch: 'other', offset: 0 }, 10)).recovered).to.equal(false);
      expect((await store.read('/', 'a', { epoch, offset: 7 }, 10)).recovered).to.equal(false);
    });

    it('recovered: false still carries what history holds after the lost part, from the first retained offset', async () => {
      for (let i = 0; i < 12; i += 1) await store.append('/', 'a', publication(i));
      const { epoch } = await store.position('/', 'a');
      // A reader 11 behind, with 5 retained: the gap is 2..7, then 8..12 follow.
      const behind = await store.read('/', 'a', { epoch, offset: 1 }, 100);
      expect(behind).to.include({ epoch, offset: 12, recovered: false });
      expect(behind.messages.map((m) => m.offset)).to.deep.equal([8, 9, 10, 11, 12]);
      // Capped by the limit, still from the first retained offset.
      expect((await store.read('/', 'a', { epoch, offset: 1 }, 2)).messages.map((m) => m.offset)).to.deep.equal([8, 9]);
      // A position of another epoch: the current epoch's oldest retained entries.
      const foreign = await store.read('/', 'a', { epoch: 'gone', offset: 3 }, 100);
      expect(foreign).to.include({ epoch, recovered: false });
      expect(foreign.messages.map((m) => m.offset)).to.deep.equal([8, 9, 10, 11, 12]);
      // Ahead of the room: nothing to give.
      expect(await store.read('/', 'a', { epoch, offset: 20 }, 100)).to.deep.include({ recovered: false, messages: [] });
    });

    it('a read without since skips expired entries before counting: the oldest fresh ones, never an empty page', async () => {
      let now = Date.now();
      const timed = await factory.create({ size: 100, ttlSeconds: 60, now: () => now });
      try {
        for (let i = 0; i < 3; i += 1) await timed.append('/', 'a', { event: 'n', data: i, ts: now });
        now += 61_000;
        for (let i = 3; i < 5; i += 1) await timed.append('/', 'a', { event: 'n', data: i, ts: now });
        const page = await timed.read('/', 'a', undefined, 2);
        expect(page.recovered).to.equal(true);
        expect(page.messages.map((m) => m.offset)).to.deep.equal([4, 5]);
        const { epoch } = await timed.position('/', 'a');
        const behind = await timed.read('/', 'a', { epoch, offset: 0 }, 10);
        expect(behind).to.include({ recovered: false });
        expect(behind.messages.map((m) => m.offset)).to.deep.equal([4, 5]);
      } finally {
        await timed.close();
      }
    });

    it('timestamps out of offset order (clock skew between nodes) never leave a hole in a read', async () => {
      let now = Date.now();
      const skewed = await factory.create({ size: 100, ttlSeconds: 60, now: () => now });
      try {
        // Offset 2 was stamped by a node whose clock is behind: by the time it is read, it looks expired.
        for (const ts of [now, now - 50_000, now, now]) await skewed.append('/', 'a', { event: 'n', data: ts, ts });
        now += 20_000;
        const { epoch } = await skewed.position('/', 'a');
        for (const since of [0, 1, 2]) {
          const read = await skewed.read('/', 'a', { epoch, offset: since }, 10);
          const offsets = read.messages.map((m) => m.offset);
          // One contiguous run, and "recovered" only when it starts right after since.
          offsets.forEach((offset, index) => expect(offset, `run from ${since}: ${offsets.join(',')}`).to.equal((offsets[0] as number) + index));
          if (read.recovered) expect(offsets[0] ?? read.offset + 1, `since ${since}`).to.equal(since + 1);
          if (offsets.length > 0) expect(offsets.at(-1)).to.equal(4);
        }
      } finally {
        await skewed.close();
      }
    });

    it('returns the stored message for a repeated idempotency key, without a new offset', async () => {
      const first = await store.append('/', 'a', publication(1), 'key-1');
      const again = await store.append('/', 'a', publication(2), 'key-1');
      expect(first.duplicate).to.equal(false);
      expect(again.duplicate).to.equal(true);
      expect(again.message).to.deep.equal(first.message);
      expect((await store.append('/', 'a', publication(3), 'key-2')).message.offset).to.equal(2);
      // The key is scoped to the room.
      expect((await store.append('/', 'b', publication(1), 'key-1')).duplicate).to.equal(false);
    });

    it('with size 0 keeps no entries but still numbers offsets', async () => {
      const empty = await factory.create({ size: 0, ttlSeconds: 3600 });
      try {
        await empty.append('/', 'a', publication(0));
        await empty.append('/', 'a', publication(1));
        const { epoch, offset } = await empty.position('/', 'a');
        expect(offset).to.equal(2);
        expect((await empty.read('/', 'a', { epoch, offset: 1 }, 10)).recovered).to.equal(false);
      } finally {
        await empty.close();
      }
    });

    describe('appendMany', () => {
      it('numbers each room contiguously in the order given, rooms and namespaces mixed, and goes on from there', async () => {
        const a = await store.position('/', 'a');
        const answers = await store.appendMany([item('a', 1), item('b', 1), item('a', 2), item('a', 1, undefined, '/live'), item('a', 3), item('b', 2)]);
        const offsets = answers.map((answer) => stored(answer).message.offset);
        expect(offsets).to.deep.equal([1, 1, 2, 1, 3, 2]);
        expect(answers.map((answer) => stored(answer).duplicate)).to.deep.equal([false, false, false, false, false, false]);
        expect(stored(answers[0]).message).to.deep.include({ room: 'a', event: 'n', data: { n: 1 }, epoch: a.epoch });
        expect((await store.read('/', 'a', undefined, 10)).messages.map((m) => m.data)).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3 }]);
        // The next call, and a single append, go on from there.
        const next = await store.appendMany([item('b', 3), item('a', 4)]);
        expect(next.map((answer) => stored(answer).message.offset)).to.deep.equal([3, 4]);
        expect((await store.append('/', 'a', publication(5))).message.offset).to.equal(5);
        expect(await store.appendMany([])).to.deep.equal([]);
      });

      it('keeps a room contiguous when calls and single appends run at once', async () => {
        const calls = await Promise.all([
          store.appendMany(Array.from({ length: 10 }, (_, n) => item('c', n))),
          store.append('/', 'c', publication(100)),
          store.appendMany(Array.from({ length: 10 }, (_, n) => item('c', 10 + n))),
        ]);
        const [first, single, second] = calls;
        const firstOffsets = first.map((answer) => stored(answer).message.offset);
        const secondOffsets = second.map((answer) => stored(answer).message.offset);
        // Each call's items follow one another in its order.
        for (const run of [firstOffsets, secondOffsets]) run.forEach((offset, i) => expect(offset).to.equal((run[0] as number) + i));
        expect([...firstOffsets, single.message.offset, ...secondOffsets].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 21 }, (_, i) => i + 1));
      });

      it('treats a key repeated inside one call, or seen in an earlier call, as a duplicate of the stored message', async () => {
        const first = await store.appendMany([item('a', 1, 'k1'), item('a', 2, 'k2'), item('a', 3, 'k1'), item('a', 4)]);
        expect(first.map((answer) => stored(answer).message.offset)).to.deep.equal([1, 2, 1, 3]);
        expect(first.map((answer) => stored(answer).duplicate)).to.deep.equal([false, false, true, false]);
        expect(stored(first[2]).message).to.deep.equal(stored(first[0]).message);
        const again = await store.appendMany([item('a', 5, 'k2'), item('b', 5, 'k1'), item('a', 6, 'k3')]);
        expect(stored(again[0])).to.deep.equal({ message: stored(first[1]).message, duplicate: true });
        // The key is scoped to the room.
        expect(stored(again[1])).to.deep.include({ duplicate: false });
        expect(stored(again[1]).message.offset).to.equal(1);
        expect(stored(again[2])).to.deep.include({ duplicate: false });
        expect(stored(again[2]).message.offset).to.equal(4);
        // And a single append sees the keys appendMany stored.
        expect((await store.append('/', 'a', publication(7), 'k3')).message).to.deep.equal(stored(again[2]).message);
      });

      it('refuses an item it cannot store on its own: the others are stored, with no offset spent on it', async () => {
        const bad: AppendItem = { namespace: '/', room: 'a', publication: { event: 'n', data: { n: 10n } as unknown as JsonValue, ts: Date.now() } };
        const answers = await store.appendMany([item('a', 1), bad, item('b', 1), item('a', 2)]);
        const refused = answers[1];
        expect(refused?.ok).to.equal(false);
        expect(refused && !refused.ok ? refused.error : null).to.deep.include({ code: 'INVALID_PAYLOAD' });
        expect([answers[0], answers[2], answers[3]].map((answer) => stored(answer).message.offset)).to.deep.equal([1, 1, 2]);
        expect((await store.position('/', 'a')).offset).to.equal(2);
      });

      // Only stores with a backend to lose (Redis) give `unreachable`; the memory store has none.
      const unreachable = factory.unreachable;
      if (unreachable !== undefined) it('answers UNAVAILABLE for every item when the backend cannot be reached', async () => {
        const { store: cut, close } = await unreachable();
        try {
          const answers = await cut.appendMany([item('a', 1), item('b', 1, 'k'), item('a', 2, undefined, '/live')]);
          expect(answers).to.have.length(3);
          for (const answer of answers) {
            expect(answer.ok).to.equal(false);
            const error = answer.ok ? null : answer.error;
            expect(error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
            expect(error).to.not.have.property('name', 'OutcomeUnknownError');
          }
        } finally {
          await close();
        }
      });
    });
  });
}
