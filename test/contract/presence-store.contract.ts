/** The PresenceStore contract (server/core/presence-store.ts), run against every implementation. */
import { expect } from 'chai';
import type { PresenceMember } from '../../shared/index.js';
import type { AddResult, PresenceStore, RoomListPage } from '../../server/core/presence-store.js';

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
    it('removes many members at once (a node emptying): each counted once, exactly one sees the room empty', async () => {
      for (let i = 0; i < 30; i += 1) await store.add('/', i % 2 === 0 ? 'even' : 'odd', member(`u${i}`, `c${i}`, i), 0);
      // All asked in the same tick, twice for c0, and one never present.
      const removals = await Promise.all([...Array.from({ length: 30 }, (_, i) => store.remove('/', i % 2 === 0 ? 'even' : 'odd', `c${i}`)), store.remove('/', 'even', 'c0'), store.remove('/', 'odd', 'nobody')]);
      expect(removals.slice(0, 30).map((removal) => removal?.member.connectionId)).to.deep.equal(Array.from({ length: 30 }, (_, i) => `c${i}`));
      expect(removals.slice(30)).to.deep.equal([null, null]);
      for (const room of ['even', 'odd']) {
        const before = removals.filter((removal) => removal !== null && Number(removal.member.connectionId.slice(1)) % 2 === (room === 'even' ? 0 : 1)).map((removal) => removal?.membersBefore);
        expect([...before].sort((a, b) => Number(a) - Number(b))).to.deep.equal(Array.from({ length: 15 }, (_, i) => i + 1));
        expect(await store.list('/', room)).to.deep.equal([]);
      }
      expect((await store.listRooms('/', { prefix: '', after: null, limit: 10 })).rooms).to.deep.equal([]);
    });

    it('a leave never overtakes a later join of the same member', async () => {
      await store.add('/', 'r', member('alice', 'c1', 1), 0);
      const [removed, added] = await Promise.all([store.remove('/', 'r', 'c1'), store.add('/', 'r', member('alice', 'c1', 2), 0)]);
      expect(removed?.membersBefore).to.equal(1);
      expect(added).to.deep.equal({ outcome: 'added', members: 1 });
      expect(await store.list('/', 'r')).to.deep.equal([member('alice', 'c1', 2)]);
      expect((await store.listRooms('/', { prefix: '', after: null, limit: 10 })).rooms).to.deep.equal([{ room: 'r', members: 1 }]);
    });

    describe('listRooms', () => {
      /** Every page from the start, following `next` until null. */
      const allPages = async (namespace: string, prefix: string, limit: number): Promise<RoomListPage[]> => {
        const pages: RoomListPage[] = [];
        let after: string | null = null;
        do {
          const page: RoomListPage = await store.listRooms(namespace, { prefix, after, limit });
          expect(page.rooms.length, 'page size').to.be.at.most(limit);
          pages.push(page);
          after = page.next;
          expect(pages.length, 'pages').to.be.below(1000);
        } while (after !== null);
        return pages;
      };

      it('lists the occupied rooms of a namespace in name order with their member counts', async () => {
        await store.add('/', 'b', member('alice', 'c1'), 0);
        await store.add('/', 'b', member('alice', 'c2'), 0);
        await store.add('/', 'a', member('bob', 'c3'), 0);
        await store.add('/live', 'other', member('bob', 'c4'), 0);
        expect(await store.listRooms('/', { prefix: '', after: null, limit: 10 })).to.deep.equal({
          rooms: [
            { room: 'a', members: 1 },
            { room: 'b', members: 2 },
          ],
          next: null,
        });
        expect((await store.listRooms('/live', { prefix: '', after: null, limit: 10 })).rooms).to.deep.equal([{ room: 'other', members: 1 }]);
        expect(await store.listRooms('/none', { prefix: '', after: null, limit: 10 })).to.deep.equal({ rooms: [], next: null });
      });

      it('leaves out a room once its last member left, and lists it again when it fills', async () => {
        await store.add('/', 'r', member('alice', 'c1'), 0);
        await store.add('/', 's', member('bob', 'c2'), 0);
        await store.remove('/', 'r', 'c1');
        expect((await store.listRooms('/', { prefix: '', after: null, limit: 10 })).rooms).to.deep.equal([{ room: 's', members: 1 }]);
        await store.add('/', 'r', member('carol', 'c3'), 0);
        expect((await store.listRooms('/', { prefix: '', after: null, limit: 10 })).rooms.map((entry) => entry.room)).to.deep.equal(['r', 's']);
      });

      it('filters by prefix, and a prefix that is a whole room name includes that room', async () => {
        for (const [index, room] of ['chat', 'chat:1', 'chat:2', 'chatter', 'game:1', 'c'].entries()) await store.add('/', room, member('u', `c${index}`), 0);
        const rooms = async (prefix: string) => (await store.listRooms('/', { prefix, after: null, limit: 10 })).rooms.map((entry) => entry.room);
        expect(await rooms('chat:')).to.deep.equal(['chat:1', 'chat:2']);
        expect(await rooms('chat')).to.deep.equal(['chat', 'chat:1', 'chat:2', 'chatter']);
        expect(await rooms('game')).to.deep.equal(['game:1']);
        expect(await rooms('zzz')).to.deep.equal([]);
      });

      it('pages through every occupied room exactly once, whatever the page size', async () => {
        const names = Array.from({ length: 37 }, (_, index) => `room-${String(index).padStart(2, '0')}`);
        await Promise.all(names.map((room, index) => store.add('/', room, member(`u${index}`, `c${index}`), 0)));
        // Some rooms emptied: pages skip them and go on.
        for (const index of [3, 4, 5, 6, 20]) await store.remove('/', names[index] as string, `c${index}`);
        const expected = names.filter((_, index) => ![3, 4, 5, 6, 20].includes(index));
        for (const limit of [1, 4, 10, 36, 100]) {
          const pages = await allPages('/', '', limit);
          const listed = pages.flatMap((page) => page.rooms.map((entry) => entry.room));
          expect(listed, `limit ${limit}`).to.deep.equal(expected);
          expect(pages.at(-1)?.next, `limit ${limit}`).to.equal(null);
        }
        const prefixed = (await allPages('/', 'room-1', 3)).flatMap((page) => page.rooms.map((entry) => entry.room));
        expect(prefixed).to.deep.equal(expected.filter((room) => room.startsWith('room-1')));
      });

      it('counts members across nodes in the listing', async () => {
        await store.add('/', 'shared', { userId: 'a', connectionId: 'c1', nodeId: 'n1', joinedAt: 1 }, 0);
        await store.add('/', 'shared', { userId: 'b', connectionId: 'c2', nodeId: 'n2', joinedAt: 2 }, 0);
        expect((await store.listRooms('/', { prefix: '', after: null, limit: 10 })).rooms).to.deep.equal([{ room: 'shared', members: 2 }]);
      });
    });
  });
}
