/**
 * Membership (server/core/membership.ts) over a presence store, as two nodes
 * use it: two Membership instances on one store. Run with the memory store
 * (unit), one Redis and a Redis Cluster (integration): the transitions a
 * webhook will report (occupied, vacated) must happen once per room across the
 * cluster, the announce rule must hold, and a refused or abandoned join must
 * leave nothing behind and tell nobody.
 */
import { expect } from 'chai';
import type { PresenceMember } from '../../shared/index.js';
import { Membership, type MemberChange, type PresenceAnnouncer, type RoomRef } from '../../server/core/membership.js';
import type { PresenceStore } from '../../server/core/presence-store.js';
import { RoomcastError } from '../../server/errors.js';

export interface MembershipStoreFactory {
  /** A fresh, empty store. */
  create(): Promise<PresenceStore>;
}

interface Recorded {
  events: Array<{ type: 'joined' | 'left' | 'occupied' | 'vacated'; room: string; connectionId?: string; roomMembers?: number }>;
  announced: Array<{ type: 'join' | 'leave'; room: string; connectionId: string; toMemberToo?: boolean }>;
}

const member = (connectionId: string, nodeId = 'n1'): PresenceMember => ({ userId: `user-${connectionId}`, connectionId, nodeId, joinedAt: 1 });

function observed(membership: Membership, into: Recorded): Membership {
  const change = (type: 'joined' | 'left') => (event: MemberChange) =>
    into.events.push({ type, room: event.room, connectionId: event.member.connectionId, roomMembers: event.roomMembers });
  const transition = (type: 'occupied' | 'vacated') => (event: RoomRef) => into.events.push({ type, room: event.room });
  membership.on('joined', change('joined'));
  membership.on('left', change('left'));
  membership.on('occupied', transition('occupied'));
  membership.on('vacated', transition('vacated'));
  const announcer: PresenceAnnouncer = {
    joined: (_namespace, room, joined, toMemberToo) => into.announced.push({ type: 'join', room, connectionId: joined.connectionId, toMemberToo }),
    left: (_namespace, room, gone) => into.announced.push({ type: 'leave', room, connectionId: gone.connectionId }),
  };
  membership.announceThrough(announcer);
  return membership;
}

export function membershipContract(name: string, factory: MembershipStoreFactory): void {
  describe(`Membership contract: ${name}`, () => {
    let store: PresenceStore;
    let recorded: Recorded;
    /** Two nodes' Membership over one store; presence on in "/", off in "/live"; events announced up to 3 members; rooms of at most 5. */
    let nodeA: Membership;
    let nodeB: Membership;
    beforeEach(async () => {
      store = await factory.create();
      recorded = { events: [], announced: [] };
      const options = { presence: store, maxRoomMembers: 5, presenceEventsMaxMembers: 3, presenceNamespaces: new Set(['/']) };
      nodeA = observed(new Membership(options), recorded);
      nodeB = observed(new Membership(options), recorded);
    });
    afterEach(() => store.close());

    const count = (type: string, room: string): number => recorded.events.filter((event) => event.type === type && event.room === room).length;

    it('a room is occupied by its first member and vacated by its last, with joined/left for each', async () => {
      await nodeA.add('/', 'r', member('c1'));
      await nodeB.add('/', 'r', member('c2', 'n2'));
      await nodeA.add('/', 'r', member('c1'));
      expect(recorded.events).to.deep.equal([
        { type: 'occupied', room: 'r' },
        { type: 'joined', room: 'r', connectionId: 'c1', roomMembers: 1 },
        { type: 'joined', room: 'r', connectionId: 'c2', roomMembers: 2 },
      ]);
      recorded.events = [];
      await nodeA.remove('/', 'r', 'c1');
      await nodeA.remove('/', 'r', 'c1');
      await nodeB.remove('/', 'r', 'c2');
      expect(recorded.events).to.deep.equal([
        { type: 'left', room: 'r', connectionId: 'c1', roomMembers: 2 },
        { type: 'left', room: 'r', connectionId: 'c2', roomMembers: 1 },
        { type: 'vacated', room: 'r' },
      ]);
      expect(await nodeA.list('/', 'r')).to.deep.equal([]);
    });

    it('concurrent joins and leaves on two nodes: occupied once, vacated once', async () => {
      const ids = Array.from({ length: 5 }, (_, index) => `c${index}`);
      await Promise.all(ids.map((id, index) => (index % 2 === 0 ? nodeA : nodeB).add('/', 'busy', member(id))));
      expect(count('occupied', 'busy')).to.equal(1);
      expect(count('joined', 'busy')).to.equal(5);
      await Promise.all(ids.map((id, index) => (index % 2 === 0 ? nodeB : nodeA).remove('/', 'busy', id)));
      expect(count('vacated', 'busy')).to.equal(1);
      expect(count('left', 'busy')).to.equal(5);
    });

    it('announces joins (to the others) and leaves while the room is within the limit, and only where presence is on', async () => {
      for (const id of ['c1', 'c2', 'c3', 'c4']) await nodeA.add('/', 'r', member(id));
      await nodeA.add('/live', 'r', member('c9'));
      expect(recorded.announced).to.deep.equal(['c1', 'c2', 'c3'].map((connectionId) => ({ type: 'join', room: 'r', connectionId, toMemberToo: false })));
      recorded.announced = [];
      await nodeB.remove('/', 'r', 'c4');
      await nodeB.remove('/', 'r', 'c3');
      await nodeB.remove('/live', 'r', 'c9');
      // c4 left a room of 4 (above the limit): not announced; c3 left a room of 3.
      expect(recorded.announced).to.deep.equal([{ type: 'leave', room: 'r', connectionId: 'c3' }]);
      // /live counts members and reports transitions like any namespace.
      expect(count('vacated', 'r')).to.equal(1);
    });

    it('a full room refuses with ROOM_FULL and tells nobody', async () => {
      for (let index = 0; index < 5; index += 1) await nodeA.add('/', 'full', member(`c${index}`));
      recorded.events = [];
      recorded.announced = [];
      const refusal = await nodeB.add('/', 'full', member('c5')).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refusal).to.be.instanceOf(RoomcastError);
      expect((refusal as RoomcastError).code).to.equal('ROOM_FULL');
      expect(recorded.events).to.deep.equal([]);
      expect(recorded.announced).to.deep.equal([]);
      expect(await nodeA.list('/', 'full')).to.have.length(5);
    });

    it('a connection gone while the store answered is taken out again, unannounced, and the join fails UNAVAILABLE', async () => {
      const refusal = await nodeA.add('/', 'r', member('c1'), () => false).then(
        () => null,
        (error: unknown) => error,
      );
      expect((refusal as RoomcastError).code).to.equal('UNAVAILABLE');
      expect(await nodeA.list('/', 'r')).to.deep.equal([]);
      expect(recorded.events).to.deep.equal([]);
      expect(recorded.announced).to.deep.equal([]);
    });

    it("the liveness sweeper's removals and restorations are members leaving and joining like any other", async () => {
      await nodeA.add('/', 'r', member('c1', 'dead'));
      recorded.events = [];
      recorded.announced = [];
      const changes = nodeB.changesFrom(() => []);
      // What the sweeper does for a dead node: remove from the store, then report the removal.
      const removal = await store.remove('/', 'r', 'c1');
      changes.removed('/', 'r', (removal as { member: PresenceMember }).member, (removal as { membersBefore: number }).membersBefore);
      expect(recorded.events).to.deep.equal([
        { type: 'left', room: 'r', connectionId: 'c1', roomMembers: 1 },
        { type: 'vacated', room: 'r' },
      ]);
      expect(recorded.announced).to.deep.equal([{ type: 'leave', room: 'r', connectionId: 'c1' }]);
      // After a Redis outage a node writes its own members back: announced to the member too.
      recorded.events = [];
      recorded.announced = [];
      const added = await store.add('/', 'r', member('c2'), 0);
      changes.restored('/', 'r', member('c2'), added.members);
      expect(recorded.events).to.deep.equal([
        { type: 'occupied', room: 'r' },
        { type: 'joined', room: 'r', connectionId: 'c2', roomMembers: 1 },
      ]);
      expect(recorded.announced).to.deep.equal([{ type: 'join', room: 'r', connectionId: 'c2', toMemberToo: true }]);
    });
  });
}
