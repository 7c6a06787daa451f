/**
 * The logic under the React hooks, without React and without a socket: the
 * counted room joins (one join per room and client, StrictMode's unmount-mount
 * keeping it, the last release leaving one macrotask later, rooms the app joined
 * left alone) and the stores (messages capped, only their room, kept across a
 * resubscribe with no listener left behind; signals filtered, per member,
 * throttled, expired). The hooks themselves run in Chromium (test/e2e/react-hooks.test.ts).
 */
import { expect } from 'chai';
import type { JoinResult, PresenceMember } from '../../shared/index.js';
import type { ClientEvents, GapEvent, Message, PublishResult, Signal } from '../../client/index.js';
import { LivePresence, RoomcastError } from '../../client/index.js';
import { deferred, type Deferred } from '../../client/deferred.js';
import { TypedEmitter } from '../../client/emitter.js';
import type { HookClient } from '../../client/react/hook-client.js';
import { PresenceStore } from '../../client/react/presence-store.js';
import { RoomMemberships } from '../../client/react/room-memberships.js';
import { appendCapped, RoomStore } from '../../client/react/room-store.js';
import { SignalStore } from '../../client/react/signal-store.js';
import { createRoomcastHooks, useRoom, useSignal } from '../../client/react/index.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

interface ChatEvents {
  chat: { text: string };
  edit: { id: number; text: string };
}
interface ChatSignals {
  typing: { typing: boolean };
  cursor: { x: number; y: number };
}

/**
 * Compile-time checks of the hooks' types: never called (hooks run only inside a
 * component), tsc is the check; an unused @ts-expect-error is itself an error.
 */
function typedHookUsage(): void {
  const hooks = createRoomcastHooks<ChatEvents, ChatSignals>();
  const room = hooks.useRoom('demo:x');
  for (const item of room.messages) {
    if (item.event === 'edit') {
      const id: number = item.data.id;
      void id;
    }
  }
  void room.publish('chat', { text: 'hi' });
  // @ts-expect-error: chat data needs text
  void room.publish('chat', { txt: 'hi' });
  // @ts-expect-error: an event the app did not declare
  void room.publish('shout', { text: 'HI' });
  const typing = hooks.useSignal('demo:x', 'typing');
  typing.send({ typing: true });
  // @ts-expect-error: typing carries a boolean
  typing.send({ typing: 'yes' });
  const typingNow: boolean | undefined = typing.last?.data.typing;
  void typingNow;
  const all = hooks.useSignal('demo:x');
  all.send('cursor', { x: 1, y: 2 });
  // @ts-expect-error: a cursor has x and y
  all.send('cursor', { x: 1 });
  // Without the factory: the defaults accept any event and JSON data.
  void useRoom('demo:x').publish('anything', { any: ['json'] });
  useSignal('demo:x', 'anything').send(42);
}
void typedHookUsage;

const ROOM = 'demo:react';

/** A stand-in for RoomcastClient: records joins, leaves and signals; the test fires its events. */
class FakeClient extends TypedEmitter<ClientEvents> {
  state: ClientEvents['state'] extends (state: infer S) => void ? S : never = 'connected';
  readonly joins: string[] = [];
  readonly leaves: string[] = [];
  readonly pendingJoins = new Map<string, Deferred<JoinResult>>();
  readonly signals: Array<[string, unknown]> = [];
  readonly presenceRequests: Array<Deferred<PresenceMember[]>> = [];
  signalAnswer: () => Promise<boolean> = () => Promise.resolve(true);
  private readonly tracked = new Set<string>();
  private readonly positions = new Map<string, number>();

  get joinedRooms(): string[] {
    return [...this.tracked];
  }

  position(room: string): { epoch: string; offset: number } | undefined {
    const offset = this.positions.get(room);
    return offset === undefined ? undefined : { epoch: 'e1', offset };
  }

  /** The app (or the server's `session`) is in the room already. */
  alreadyIn(room: string): void {
    this.tracked.add(room);
    this.positions.set(room, 0);
  }

  join(room: string): Promise<JoinResult> {
    this.joins.push(room);
    this.tracked.add(room);
    const join = deferred<JoinResult>();
    this.pendingJoins.set(room, join);
    return join.promise;
  }

  /** The gateway acknowledges the join of `room`. */
  ack(room: string): void {
    const result: JoinResult = { room, epoch: 'e1', offset: 0, recovered: true, missed: [] };
    this.positions.set(room, 0);
    this.emit('joined', result);
    this.pendingJoins.get(room)?.resolve(result);
  }

  /** The gateway refuses the join of `room`. */
  refuse(room: string, code: 'FORBIDDEN_ROOM' | 'ROOM_FULL' = 'FORBIDDEN_ROOM'): void {
    this.tracked.delete(room);
    this.pendingJoins.get(room)?.reject(new RoomcastError({ code, message: 'no', retryable: false }, { room, event: 'room:join' }));
  }

  leave(room: string): Promise<void> {
    this.leaves.push(room);
    this.tracked.delete(room);
    return Promise.resolve();
  }

  publish(): Promise<PublishResult> {
    return Promise.resolve({ room: ROOM, offset: 1, epoch: 'e1' } as unknown as PublishResult);
  }

  signal(room: string, event: string, data: unknown): Promise<boolean> {
    this.signals.push([event, data]);
    return this.signalAnswer();
  }

  presenceList(room: string): LivePresence {
    return new LivePresence(
      {
        presence: () => {
          const request = deferred<PresenceMember[]>();
          this.presenceRequests.push(request);
          return request.promise;
        },
        on: ((event: 'presence' | 'joined', listener: never) => this.on(event, listener)) as never,
      },
      room,
    );
  }

  fire<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    this.emit(event, ...args);
  }

  /** Listeners on every event, to prove nothing is left behind. */
  get listening(): number {
    return (['message', 'gap', 'signal', 'joined', 'state', 'error', 'room:left', 'presence'] as const).reduce((sum, event) => sum + this.listenerCount(event), 0);
  }
}

const asClient = (client: FakeClient): HookClient => client as unknown as HookClient;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function message(offset: number, room = ROOM): Message {
  return { room, event: 'chat', data: { n: offset }, offset, epoch: 'e1', ts: 0 };
}

function signal(from: string, event = 'typing', room = ROOM): Signal {
  return { room, event, data: { typing: true }, ts: 0, from };
}

describe('React hooks: room joins and stores', () => {
  let clock: FakeScheduler;
  let client: FakeClient;
  let memberships: RoomMemberships;

  beforeEach(() => {
    clock = new FakeScheduler();
    client = new FakeClient();
    memberships = new RoomMemberships(asClient(client), clock);
  });

  describe('RoomMemberships', () => {
    it("StrictMode's release and acquire at once keep the one join; the last release leaves one macrotask later", () => {
      const first = memberships.acquire(ROOM);
      first.release();
      const second = memberships.acquire(ROOM);
      clock.advance(0);
      expect(client.joins).to.deep.equal([ROOM]);
      expect(client.leaves).to.deep.equal([]);
      second.release();
      expect(client.leaves, 'not at once').to.deep.equal([]);
      clock.advance(0);
      expect(client.leaves).to.deep.equal([ROOM]);
      expect(memberships.held).to.deep.equal([]);
      expect(client.listening, 'no listener left').to.equal(0);
    });

    it('shares one join between holders, leaves after the last, and a lease releases once', () => {
      const a = memberships.acquire(ROOM);
      const b = memberships.acquire(ROOM);
      a.release();
      a.release();
      clock.advance(10);
      expect(client.leaves).to.deep.equal([]);
      b.release();
      clock.advance(0);
      expect(client.joins).to.deep.equal([ROOM]);
      expect(client.leaves).to.deep.equal([ROOM]);
    });

    it('follows the join: joining, joined, rejoining while disconnected, joined again', async () => {
      const lease = memberships.acquire(ROOM);
      const seen: string[] = [];
      lease.subscribe(() => seen.push(lease.state.status));
      expect(lease.state.status).to.equal('joining');
      client.ack(ROOM);
      client.state = 'reconnecting';
      client.fire('state', 'reconnecting');
      client.state = 'connected';
      client.fire('state', 'connected');
      client.ack(ROOM);
      await tick();
      expect(seen).to.deep.equal(['joined', 'rejoining', 'joined']);
      expect(memberships.peek(ROOM)?.status).to.equal('joined');
    });

    it('a refused join is an error once; after every holder let go, a new hold joins again', async () => {
      const lease = memberships.acquire(ROOM);
      const seen: string[] = [];
      lease.subscribe(() => seen.push(lease.state.status));
      client.refuse(ROOM);
      await tick();
      client.fire('joined', { room: ROOM, epoch: 'e1', offset: 0, recovered: true, missed: [] });
      expect(seen).to.deep.equal(['error']);
      expect(lease.state.error?.code).to.equal('FORBIDDEN_ROOM');
      lease.release();
      clock.advance(0);
      memberships.acquire(ROOM);
      expect(client.joins).to.deep.equal([ROOM, ROOM]);
    });

    it('room:left ends the room; a rejoin refused for good (an error for a room the client forgot) too', () => {
      const left = memberships.acquire(ROOM);
      client.ack(ROOM);
      client.fire('room:left', { room: ROOM, reason: 'api' });
      expect(left.state.status).to.equal('left');
      expect(left.state.error?.code).to.equal('FORBIDDEN_ROOM');

      const other = memberships.acquire('demo:other');
      client.ack('demo:other');
      // An error about a room still tracked (a history read that failed) changes nothing...
      client.fire('error', RoomcastError.local('UNAVAILABLE', 'history', { room: 'demo:other' }));
      expect(other.state.status).to.equal('joined');
      // ...one about a room the client dropped ends it.
      void client.leave('demo:other');
      client.fire('error', RoomcastError.local('FORBIDDEN_ROOM', 'narrowed', { room: 'demo:other' }));
      expect(other.state.status).to.equal('error');
    });

    it('a room the app joined itself is followed, neither joined nor left', () => {
      client.alreadyIn(ROOM);
      const lease = memberships.acquire(ROOM);
      expect(lease.state.status).to.equal('joined');
      lease.release();
      clock.advance(0);
      expect(client.joins).to.deep.equal([]);
      expect(client.leaves).to.deep.equal([]);
    });

    it('the client closing ends every room it holds', () => {
      const lease = memberships.acquire(ROOM);
      client.ack(ROOM);
      client.fire('state', 'closed');
      expect(lease.state.status).to.equal('error');
      expect(lease.state.error?.code).to.equal('UNAVAILABLE');
    });
  });

  describe('RoomStore', () => {
    it('keeps the latest maxMessages of its own room, and its gaps', () => {
      const store = new RoomStore(asClient(client), ROOM, memberships, { maxMessages: 3 });
      let renders = 0;
      const off = store.subscribe(() => (renders += 1));
      for (let offset = 1; offset <= 5; offset += 1) client.fire('message', message(offset) as never);
      client.fire('message', message(1, 'demo:elsewhere') as never);
      const gap: GapEvent = { room: ROOM, epoch: 'e1', from: 6, to: 8, recovered: false, reason: 'expired' };
      client.fire('gap', gap);
      client.fire('gap', { ...gap, room: 'demo:elsewhere' });
      const snapshot = store.getSnapshot();
      expect(snapshot.messages.map((item) => item.offset)).to.deep.equal([3, 4, 5]);
      expect(snapshot.gaps).to.deep.equal([gap]);
      expect(renders).to.equal(6);
      expect(store.getSnapshot(), 'the same snapshot while nothing changes').to.equal(snapshot);
      off();
    });

    it('unsubscribe then subscribe (StrictMode) keeps the messages, delivers none twice, leaves no listener', () => {
      const store = new RoomStore(asClient(client), ROOM, memberships);
      const off = store.subscribe(() => undefined);
      client.ack(ROOM);
      client.fire('message', message(1) as never);
      off();
      const offAgain = store.subscribe(() => undefined);
      client.fire('message', message(2) as never);
      clock.advance(0);
      expect(store.getSnapshot().messages.map((item) => item.offset)).to.deep.equal([1, 2]);
      expect(store.getSnapshot().state).to.equal('joined');
      expect(client.joins).to.deep.equal([ROOM]);
      offAgain();
      clock.advance(0);
      expect(client.leaves).to.deep.equal([ROOM]);
      expect(client.listening).to.equal(0);
    });

    it('a second store of a held room starts from its state, not joining', () => {
      const first = new RoomStore(asClient(client), ROOM, memberships);
      const off = first.subscribe(() => undefined);
      client.ack(ROOM);
      expect(new RoomStore(asClient(client), ROOM, memberships).getSnapshot().state).to.equal('joined');
      off();
    });

    it('refuses a maxMessages below 1', () => {
      expect(() => new RoomStore(asClient(client), ROOM, memberships, { maxMessages: 0 })).to.throw(RangeError);
    });

    it('appendCapped keeps the last items', () => {
      expect(appendCapped([1, 2, 3], 4, 3)).to.deep.equal([2, 3, 4]);
      expect(appendCapped([], 1, 1)).to.deep.equal([1]);
      expect(appendCapped([1, 2], 3, Infinity)).to.deep.equal([1, 2, 3]);
    });
  });

  describe('PresenceStore', () => {
    it('lists the members once the room is joined, follows joins and leaves, and closes its list', async () => {
      const store = new PresenceStore(asClient(client), ROOM, memberships);
      const off = store.subscribe(() => undefined);
      client.ack(ROOM);
      const alice: PresenceMember = { userId: 'alice', connectionId: 'c1', nodeId: 'n', joinedAt: 1 };
      const bob: PresenceMember = { userId: 'bob', connectionId: 'c2', nodeId: 'n', joinedAt: 2 };
      client.presenceRequests[0]?.resolve([alice]);
      await tick();
      expect(store.getSnapshot().users).to.deep.equal(['alice']);
      expect(store.getSnapshot().loaded).to.equal(true);
      client.fire('presence', { type: 'join', room: ROOM, member: bob });
      expect(store.getSnapshot().users).to.deep.equal(['alice', 'bob']);
      client.fire('presence', { type: 'leave', room: ROOM, member: alice });
      expect(store.getSnapshot().users).to.deep.equal(['bob']);
      off();
      clock.advance(0);
      expect(client.listening).to.equal(0);
    });
  });

  describe('SignalStore', () => {
    it('keeps the latest signal of its event and the latest per member', () => {
      const store = new SignalStore(asClient(client), ROOM, memberships, { event: 'typing', scheduler: clock });
      const off = store.subscribe(() => undefined);
      client.fire('signal', signal('alice') as never);
      client.fire('signal', signal('bob') as never);
      client.fire('signal', signal('carol', 'cursor') as never);
      client.fire('signal', signal('dave', 'typing', 'demo:elsewhere') as never);
      const snapshot = store.getSnapshot();
      expect(snapshot.last?.from).to.equal('bob');
      expect([...snapshot.byMember.keys()]).to.deep.equal(['alice', 'bob']);
      off();
    });

    it('sends throttled per event (the first at once, the latest at the end of the window) and cancels on unsubscribe', () => {
      const store = new SignalStore(asClient(client), ROOM, memberships, { throttleMs: 100, scheduler: clock });
      store.send('typing', 1 as never);
      expect(client.signals, 'nothing held: dropped').to.deep.equal([]);
      const off = store.subscribe(() => undefined);
      store.send('typing', 1 as never);
      store.send('typing', 2 as never);
      store.send('typing', 3 as never);
      store.send('cursor', 9 as never);
      clock.advance(100);
      expect(client.signals).to.deep.equal([
        ['typing', 1],
        ['cursor', 9],
        ['typing', 3],
      ]);
      clock.advance(100);
      store.send('typing', 4 as never);
      store.send('typing', 5 as never);
      off();
      clock.advance(1000);
      expect(client.signals.map(([, data]) => data)).to.deep.equal([1, 9, 3, 4]);
      expect(clock.pending, 'no timer left').to.equal(0);
    });

    it('a refused send shows in error', async () => {
      client.signalAnswer = () => Promise.reject(RoomcastError.local('RATE_LIMITED'));
      const store = new SignalStore(asClient(client), ROOM, memberships, { scheduler: clock });
      const off = store.subscribe(() => undefined);
      store.send('typing', true as never);
      await tick();
      expect(store.getSnapshot().error?.code).to.equal('RATE_LIMITED');
      off();
    });

    it('expireMs forgets a member (and the latest signal) that long after it came', () => {
      const store = new SignalStore(asClient(client), ROOM, memberships, { expireMs: 1000, scheduler: clock });
      const off = store.subscribe(() => undefined);
      client.fire('signal', signal('alice') as never);
      clock.advance(600);
      client.fire('signal', signal('bob') as never);
      clock.advance(400);
      expect([...store.getSnapshot().byMember.keys()]).to.deep.equal(['bob']);
      expect(store.getSnapshot().last?.from).to.equal('bob');
      clock.advance(600);
      expect(store.getSnapshot().byMember.size).to.equal(0);
      expect(store.getSnapshot().last).to.equal(undefined);
      off();
      clock.advance(0);
      expect(clock.pending).to.equal(0);
    });
  });
});
