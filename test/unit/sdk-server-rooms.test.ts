/**
 * The SDK's side of server-side subscriptions and `room:left`, on JoinedRooms
 * with a stand-in socket and connection: `session` rooms are tracked like rooms
 * the app joined (messages that came before `session` kept, rejoined with
 * `since` after a reconnect), and `room:left` ends a room for good and tells the
 * app. (No REST route emits `room:left` on this branch yet, so its wire half is
 * tested where that route lands.)
 */
import { expect } from 'chai';
import type { JoinRequest, JoinResult, Message, RoomLeftEvent, SessionEvent } from '../../shared/index.js';
import { JoinedRooms, MAX_PRE_SESSION_MESSAGES, type RoomEvents } from '../../client/joined-rooms.js';
import type { RoomcastSocket } from '../../client/client-types.js';
import { resolveOptions } from '../../client/options.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

function message(room: string, offset: number, epoch = 'e1'): Message {
  return { room, offset, epoch, event: 'n', data: offset, ts: 1 } as Message;
}

/** The socket events JoinedRooms listens to, fired by the test. */
class FakeSocket {
  private readonly listeners = new Map<string, Array<(payload: unknown) => void>>();
  on(event: string, listener: (payload: unknown) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  fire(event: string, payload: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener(payload);
  }
}

function setup() {
  const joins: JoinRequest[] = [];
  const connection = {
    connected: true,
    closed: false,
    connectCount: 1,
    request: (event: string, payload: unknown): Promise<never> => {
      if (event === 'room:join') {
        const join = payload as JoinRequest;
        joins.push(join);
        const result: JoinResult = { room: join.room, epoch: 'e1', offset: join.since?.offset ?? 0, recovered: true, missed: [] };
        return Promise.resolve(result as never);
      }
      return Promise.reject(new Error(`unexpected ${event}`));
    },
  };
  const events: Array<[keyof RoomEvents, unknown]> = [];
  const rooms = new JoinedRooms({
    connection: connection as never,
    resolved: resolveOptions({ token: 't' }),
    scheduler: new FakeScheduler(),
    emit: (event, ...args) => void events.push([event, args[0]]),
  });
  const socket = new FakeSocket();
  rooms.listen(socket as unknown as RoomcastSocket);
  const delivered = (): Message[] => events.filter(([event]) => event === 'message').map(([, value]) => value as Message);
  return { rooms, socket, joins, events, delivered, connection };
}

describe('SDK: session rooms and room:left', () => {
  it('session rooms are joined rooms: listed, delivered from their position on, including messages that came before session', () => {
    const { rooms, socket, delivered, events } = setup();
    rooms.rejoinAll(); // a connect
    socket.fire('message', message('feed:1', 5)); // the gateway joined feed:1 and a publication came before session
    const session: SessionEvent = { user: 'u', rooms: [{ room: 'feed:1', epoch: 'e1', offset: 4 }, { room: 'user:u', epoch: 'e2', offset: 0 }] };
    socket.fire('session', session);
    expect(rooms.names.sort()).to.deep.equal(['feed:1', 'user:u']);
    socket.fire('message', message('feed:1', 6));
    expect(delivered().map((m) => m.offset)).to.deep.equal([5, 6]);
    expect(rooms.position('feed:1')).to.deep.equal({ epoch: 'e1', offset: 6 });
    expect(events.filter(([event]) => event === 'session').map(([, value]) => value)).to.deep.equal([session]);
    expect(events.filter(([event]) => event === 'joined')).to.have.length(2);
  });

  it('a message before session at or below the position is not delivered (it is in the position already)', () => {
    const { rooms, socket, delivered } = setup();
    rooms.rejoinAll();
    socket.fire('message', message('feed:1', 4));
    socket.fire('session', { user: 'u', rooms: [{ room: 'feed:1', epoch: 'e1', offset: 4 }] });
    expect(delivered()).to.deep.equal([]);
  });

  it(`at most ${MAX_PRE_SESSION_MESSAGES} messages are kept before session, the oldest dropped (the stream then waits for it)`, () => {
    const { rooms, socket, delivered } = setup();
    rooms.rejoinAll();
    for (let offset = 1; offset <= MAX_PRE_SESSION_MESSAGES + 1; offset += 1) socket.fire('message', message('feed:1', offset));
    socket.fire('session', { user: 'u', rooms: [{ room: 'feed:1', epoch: 'e1', offset: 0 }] });
    // Offset 1 was dropped: nothing after it is delivered out of order (all of them would be, had it been kept).
    expect(delivered()).to.deep.equal([]);
    socket.fire('message', message('feed:1', 1));
    expect(delivered()).to.have.length(MAX_PRE_SESSION_MESSAGES + 1);
  });

  it('no message is kept once session came, nor before a connect', () => {
    const { rooms, socket, delivered } = setup();
    socket.fire('message', message('feed:1', 1)); // no connect yet: dropped
    rooms.rejoinAll();
    socket.fire('session', { user: 'u', rooms: [] });
    socket.fire('message', message('other', 1)); // after session, an untracked room: dropped
    expect(delivered()).to.deep.equal([]);
    expect(rooms.names).to.deep.equal([]);
  });

  it('after a reconnect a session room is rejoined with since, and the new session does not reset it', () => {
    const { rooms, socket, joins, delivered } = setup();
    rooms.rejoinAll();
    socket.fire('session', { user: 'u', rooms: [{ room: 'feed:1', epoch: 'e1', offset: 0 }] });
    socket.fire('message', message('feed:1', 1));
    rooms.suspendAll(); // disconnected
    rooms.rejoinAll(); // reconnected
    expect(joins).to.deep.equal([{ room: 'feed:1', since: { epoch: 'e1', offset: 1 } }]);
    socket.fire('session', { user: 'u', rooms: [{ room: 'feed:1', epoch: 'e1', offset: 3 }] });
    expect(delivered().map((m) => m.offset)).to.deep.equal([1]);
    expect(rooms.position('feed:1')).to.deep.equal({ epoch: 'e1', offset: 1 });
  });

  it('room:left stops tracking the room (no rejoin, no delivery) and tells the app', () => {
    const { rooms, socket, joins, delivered, events } = setup();
    rooms.rejoinAll();
    socket.fire('session', { user: 'u', rooms: [{ room: 'feed:1', epoch: 'e1', offset: 0 }] });
    const left: RoomLeftEvent = { room: 'feed:1', reason: 'api' };
    socket.fire('room:left', left);
    expect(rooms.names).to.deep.equal([]);
    expect(events.filter(([event]) => event === 'room:left').map(([, value]) => value)).to.deep.equal([left]);
    socket.fire('message', message('feed:1', 1));
    rooms.suspendAll();
    rooms.rejoinAll();
    expect(joins).to.deep.equal([]);
    expect(delivered()).to.deep.equal([]);
  });
});
