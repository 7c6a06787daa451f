/** The PresenceStore contract (server/core/presence-store.ts), run against every implementation. */
import { expect } from 'chai';
import type { PresenceMember } from '../../shared/index.js';
import type { AddResult, PresenceStore } from '../../server/core/presence-store.js';

export interface PresenceStoreFactory {
  /** A fresh, empty store. */
  create(): Promise<PresenceStore>;
}

const member = (userId: string, connectionId: string, joinedAt = Date.now()): PresenceMember => ({ userId, connectionId, nodeId: 'n1', joinedAt });

export function presenceStoreContract(name: string, factory: PresenceStoreFactory): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let store: PresenceStore;
    beforeEach(async () => {
      store = await factory.create();
    });
    afterEach(() => store.close());

    const outcome = async (added: Promise<AddResult>): Promise<string> => (await added).outcome;

    it('adds members once and lists them', async () => {
      expect(await store.add('/', 'r', member('alice', 'c1', 1), 0)).to.deep.equal({ outcome: 'added', members: 1 });
      expect(await store.add('/', 'r', member('alice', 'c1', 1), 0)).to.deep.equal({ outcome: 'present', members: 1 });
      expect(await store.add('/', 'r', member('bob', 'c2', 2), 0)).to.deep.equal({ outcome: 'added', members: 2 });
      const list = await store.list('/', 'r');
      expect(list.map((m) => m.connectionId).sort()).to.deep.equal(['c1', 'c2']);
      expect(list.find((m) => m.connectionId === 'c1')).to.deep.equal(member('alice', 'c1', 1));
    });

    it('keeps rooms and namespaces apart', async () => {
      await store.add('/', 'r', member('alice', 'c1'), 0);
      expect(await store.list('/', 'other')).to.deep.equal([]);
      expect(await store.list('/live', 'r')).to.deep.equal([]);
    });

    it('removes a member and returns it with the count before, or null when absent', async () => {
      await store.add('/', 'r', member('alice', 'c1', 5), 0);
      await store.add('/', 'r', member('bob', 'c2', 6), 0);
      expect(await store.remove('/', 'r', 'c2')).to.deep.equal({ member: member('bob', 'c2', 6), membersBefore: 2 });
      expect(await store.remove('/', 'r', 'c1')).to.deep.equal({ member: member('alice', 'c1', 5), membersBefore: 1 });
      expect(await store.remove('/', 'r', 'c1')).to.equal(null);
      expect(await store.list('/', 'r')).to.deep.equal([]);
    });

    it('refuses a member beyond the limit, and counts a place freed by a leave', async () => {
      expect(await outcome(store.add('/', 'r', member('a', 'c1'), 2))).to.equal('added');
      expect(await outcome(store.add('/', 'r', member('b', 'c2'), 2))).to.equal('added');
      expect(await store.add('/', 'r', member('c', 'c3'), 2)).to.deep.equal({ outcome: 'full', members: 2 });
      // A member already present is not refused by a full room.
      expect(await outcome(store.add('/', 'r', member('a', 'c1'), 2))).to.equal('present');
      await store.remove('/', 'r', 'c2');
      expect(await outcome(store.add('/', 'r', member('c', 'c3'), 2))).to.equal('added');
      expect((await store.list('/', 'r')).map((m) => m.connectionId).sort()).to.deep.equal(['c1', 'c3']);
    });

    it('never overshoots the limit under concurrent adds', async () => {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.add('/', 'busy', member(`u${i}`, `c${i}`), 5)));
      expect(outcomes.filter((result) => result.outcome === 'added')).to.have.length(5);
      expect(outcomes.filter((result) => result.outcome === 'added').map((result) => result.members).sort()).to.deep.equal([1, 2, 3, 4, 5]);
      expect(await store.list('/', 'busy')).to.have.length(5);
    });
  });
}
