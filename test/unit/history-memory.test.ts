import { expect } from 'chai';
import { MAX_TRACKED_ROOMS, MemoryHistoryStore } from '../../server/delivery/history/memory.js';
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
