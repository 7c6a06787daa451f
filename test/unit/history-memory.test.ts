import { expect } from 'chai';
import { ENTRY_OVERHEAD_BYTES, MAX_TRACKED_ROOMS, MemoryHistoryStore } from '../../server/backends/memory/history.js';
import { historyStoreContract } from '../contract/history-store.contract.js';

historyStoreContract('memory', { create: async (options) => new MemoryHistoryStore(options) });

describe('MemoryHistoryStore specifics', () => {
  it('expires entries and idempotency keys after the TTL, by the injected clock', async () => {
    let now = 1_000_000;
    const store = new MemoryHistoryStore({ size: 10, ttlSeconds: 60, now: () => now });
    try {
      await store.append('/', 'a', { event: 'e', data: 1, ts: now }, 'k');
      now += 61_000;
      const { epoch } = await store.position('/', 'a');
      expect((await store.read('/', 'a', { epoch, offset: 0 }, 10)).recovered).to.equal(false);
      const again = await store.append('/', 'a', { event: 'e', data: 1, ts: now }, 'k');
      expect(again).to.deep.include({ duplicate: false });
      expect(again.message.offset).to.equal(2);
    } finally {
      await store.close();
    }
  });
});

describe('MemoryHistoryStore bounds', () => {
  it(`keeps at most ${MAX_TRACKED_ROOMS} rooms by forgetting never-published ones first`, async () => {
    const store = new MemoryHistoryStore({ size: 10, ttlSeconds: 3600 });
    try {
      const published = await store.append('/', 'keep', { event: 'e', data: 1, ts: Date.now() });
      for (let i = 0; i < MAX_TRACKED_ROOMS + 500; i += 1) await store.position('/', `read-only:${i}`);
      const internal = store as unknown as { rooms: Map<string, unknown> };
      expect(internal.rooms.size).to.be.at.most(MAX_TRACKED_ROOMS);
      const read = await store.read('/', 'keep', { epoch: published.message.epoch, offset: 0 }, 10);
      expect(read.messages.map((m) => m.offset)).to.deep.equal([1]);
    } finally {
      await store.close();
    }
  });
});

describe('MemoryHistoryStore HISTORY_MAX_BYTES', () => {
  const publish = (store: MemoryHistoryStore, room: string, bytes: number) => store.append('/', room, { event: 'e', data: 'x'.repeat(bytes), dataJson: JSON.stringify('x'.repeat(bytes)), ts: Date.now() });

  it('trims the oldest entries of the whole store first and keeps its byte count exact through every kind of trim', async () => {
    const store = new MemoryHistoryStore({ size: 5, ttlSeconds: 3600, maxBytes: 10_000 });
    try {
      for (let i = 0; i < 4; i += 1) await publish(store, 'a', 1000);
      for (let i = 0; i < 4; i += 1) await publish(store, 'b', 1000);
      // 8 entries of ~1,2 KB fit; the next ones push out the store's oldest: a's first entries.
      for (let i = 0; i < 3; i += 1) await publish(store, 'b', 1000);
      const { bytes, entries } = store.stats();
      expect(bytes).to.be.at.most(10_000);
      const a = await store.read('/', 'a', { epoch: (await store.position('/', 'a')).epoch, offset: 0 }, 10);
      expect(a.recovered).to.equal(false);
      const b = await store.read('/', 'b', undefined, 10);
      // b keeps its newest five (HISTORY_SIZE), all within the budget.
      expect(b.messages.map((m) => m.offset)).to.deep.equal([3, 4, 5, 6, 7]);
      expect(entries).to.equal(a.messages.length + b.messages.length);
      expect(bytes).to.equal(entries * (JSON.stringify('x'.repeat(1000)).length + 1 + ENTRY_OVERHEAD_BYTES));
    } finally {
      await store.close();
    }
  });

  it('stays within its budget over many appends in many rooms, the age order compacting itself', async () => {
    const store = new MemoryHistoryStore({ size: 1000, ttlSeconds: 3600, maxBytes: 50_000 });
    try {
      for (let i = 0; i < 5000; i += 1) await publish(store, `r${i % 37}`, 100);
      expect(store.stats().bytes).to.be.at.most(50_000);
      expect(store.stats().entries).to.be.greaterThan(100);
    } finally {
      await store.close();
    }
  });
});

