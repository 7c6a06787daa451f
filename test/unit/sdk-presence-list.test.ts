import { expect } from 'chai';
import type { PresenceMember } from '../../shared/index.js';
import { deferred, type Deferred } from '../../client/deferred.js';
import { LivePresence, PresenceRoster, type PresenceSource } from '../../client/presence-list.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

const ROOM = 'demo:people';

function member(connectionId: string, userId = connectionId.split('-')[0] ?? connectionId, joinedAt = 1): PresenceMember {
  return { userId, connectionId, nodeId: 'n1', joinedAt };
}

/** A stand-in for the client: presence() answers when the test says so; events are pushed by the test. */
class FakeSource {
  readonly requests: Array<Deferred<PresenceMember[]>> = [];
  private presenceListeners = new Set<(change: { type: 'join' | 'leave'; room: string; member: PresenceMember }) => void>();
  private joinedListeners = new Set<(result: { room: string }) => void>();

  readonly source: PresenceSource = {
    presence: () => {
      const request = deferred<PresenceMember[]>();
      this.requests.push(request);
      return request.promise;
    },
    on: ((event: 'presence' | 'joined', listener: never) => {
      const set = (event === 'presence' ? this.presenceListeners : this.joinedListeners) as Set<unknown>;
      set.add(listener);
      return () => set.delete(listener);
    }) as PresenceSource['on'],
  };

  event(type: 'join' | 'leave', who: PresenceMember, room = ROOM): void {
    for (const listener of this.presenceListeners) listener({ type, room, member: who });
  }

  joined(room = ROOM): void {
    for (const listener of this.joinedListeners) listener({ room });
  }

  get listeners(): number {
    return this.presenceListeners.size + this.joinedListeners.size;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const ids = (members: PresenceMember[]): string[] => members.map((item) => item.connectionId);

describe('SDK presence list', () => {
  describe('PresenceRoster', () => {
    it('builds the list from presence:list, then joins and leaves', () => {
      const roster = new PresenceRoster();
      expect(roster.applyList([member('alice-1', 'alice', 1), member('bob-1', 'bob', 2)])).to.equal(true);
      expect(roster.apply('join', member('alice-2', 'alice', 3))).to.equal(true);
      expect(roster.apply('join', member('alice-2', 'alice', 3))).to.equal(false);
      expect(ids(roster.members)).to.deep.equal(['alice-1', 'bob-1', 'alice-2']);
      expect(roster.users).to.deep.equal(['alice', 'bob']);
      expect(roster.apply('leave', member('bob-1', 'bob', 2))).to.equal(true);
      expect(roster.apply('leave', member('bob-1', 'bob', 2))).to.equal(false);
      expect(roster.users).to.deep.equal(['alice']);
    });

    it('replays events that raced a list request on top of its answer', () => {
      const roster = new PresenceRoster();
      roster.applyList([member('a-1'), member('b-1')]);
      roster.beginList();
      // While the request is in flight: c joins, a leaves. The answer was taken before both.
      roster.apply('join', member('c-1'));
      roster.apply('leave', member('a-1'));
      roster.applyList([member('a-1'), member('b-1')]);
      expect(ids(roster.members).sort()).to.deep.equal(['b-1', 'c-1']);
      // Events after the answer are not replayed into a later list.
      roster.apply('join', member('d-1'));
      roster.applyList([member('b-1')]);
      expect(ids(roster.members)).to.deep.equal(['b-1']);
    });

    it('knows when join/leave events may be missing (at or above the gateway cap)', () => {
      const roster = new PresenceRoster();
      roster.applyList([member('a-1'), member('b-1')]);
      expect(roster.mayMissEvents(3)).to.equal(false);
      roster.apply('join', member('c-1'));
      expect(roster.mayMissEvents(3)).to.equal(true);
      expect(roster.mayMissEvents(0)).to.equal(true);
    });
  });

  describe('LivePresence', () => {
    it('lists on refresh, follows events, and re-lists after every (re)join', async () => {
      const fake = new FakeSource();
      const clock = new FakeScheduler();
      const live = new LivePresence(fake.source, ROOM, { scheduler: clock, eventsMaxMembers: 100 });
      const changes: string[][] = [];
      live.on('change', (members) => changes.push(ids(members)));

      const first = live.refresh();
      expect(live.refresh()).to.equal(first, 'one request at a time');
      fake.requests[0]?.resolve([member('a-1')]);
      await first;
      expect(live.loaded).to.equal(true);
      fake.event('join', member('b-1', 'b', 2));
      fake.event('join', member('x-1'), 'other:room');
      fake.event('leave', member('a-1'));
      expect(changes).to.deep.equal([['a-1'], ['a-1', 'b-1'], ['b-1']]);
      expect(clock.pending).to.equal(0, 'no polling in a small room');

      fake.joined();
      expect(fake.requests).to.have.length(2);
      fake.requests[1]?.resolve([member('b-1', 'b', 2), member('c-1', 'c', 3)]);
      await tick();
      expect(ids(live.members)).to.deep.equal(['b-1', 'c-1']);
      live.close();
      expect(fake.listeners).to.equal(0);
    });

    it('polls presence:list while the room is at or above PRESENCE_EVENTS_MAX_MEMBERS, and stops below', async () => {
      const fake = new FakeSource();
      const clock = new FakeScheduler();
      const live = new LivePresence(fake.source, ROOM, { scheduler: clock, eventsMaxMembers: 2, pollMs: 1000 });
      void live.refresh();
      fake.requests[0]?.resolve([member('a-1'), member('b-1')]);
      await tick();
      expect(clock.pending).to.equal(1);
      clock.advance(999);
      expect(fake.requests).to.have.length(1);
      clock.advance(1);
      expect(fake.requests).to.have.length(2);
      // Someone joined silently (above the cap): only the re-list shows them.
      fake.requests[1]?.resolve([member('a-1'), member('b-1'), member('c-1')]);
      await tick();
      expect(ids(live.members)).to.deep.equal(['a-1', 'b-1', 'c-1']);
      clock.advance(1000);
      fake.requests[2]?.resolve([member('a-1')]);
      await tick();
      expect(ids(live.members)).to.deep.equal(['a-1']);
      expect(clock.pending).to.equal(0, 'below the cap: events suffice');
      live.close();
    });

    it('reports a failed list as an error event, keeps the list and tries again later', async () => {
      const fake = new FakeSource();
      const clock = new FakeScheduler();
      const live = new LivePresence(fake.source, ROOM, { scheduler: clock, refreshMs: 500 });
      const errors: string[] = [];
      live.on('error', (error) => errors.push(error.code));
      void live.refresh();
      fake.requests[0]?.resolve([member('a-1')]);
      await tick();
      const failing = live.refresh().catch((error: unknown) => error);
      fake.requests[1]?.reject({ code: 'RATE_LIMITED', message: 'slow down', retryable: true });
      expect(await failing).to.include({ code: 'RATE_LIMITED' });
      expect(errors).to.deep.equal(['RATE_LIMITED']);
      expect(ids(live.members)).to.deep.equal(['a-1']);
      clock.advance(500);
      expect(fake.requests).to.have.length(3);
      live.close();
      expect(clock.pending).to.equal(0);
    });
  });
});
