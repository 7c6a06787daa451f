/**
 * Server-side subscriptions: the token's `subscribe` claim and `user:<sub>`
 * (AUTO_JOIN_USER_ROOM) are joined by the gateway at connect and announced with
 * `session { user, rooms: [{ room, epoch, offset }] }`; a subscribe room the
 * policy does not allow, or more rooms than MAX_ROOMS_PER_SOCKET, refuse the
 * handshake; and the SDK recovers them on a reconnect to another node like rooms
 * it joined itself.
 */
import { expect } from 'chai';
import { RoomcastClient } from '../../client/index.js';
import { GRANT_MAX_ENTRIES, type Message, type SessionEvent } from '../../shared/index.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { httpPublish, startGateway, TEST_PARSER, TEST_SDK_PARSER, type TestGateway } from '../support/gateway.js';
import { connectWithSession } from '../support/session-socket.js';
import { assertOk, collectMessages, connectRefused, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

describe('server-side subscriptions', function () {
  this.timeout(60_000);

  describe('one node', () => {
    let gw: TestGateway;
    const sockets: TestSocket[] = [];
    const open = async (claims: { sub: string; rooms?: string[]; subscribe?: unknown }): Promise<{ socket: TestSocket; session: SessionEvent }> => {
      const opened = await connectWithSession(gw.url, await signToken(gw.secret, claims));
      sockets.push(opened.socket);
      return { socket: opened.socket, session: await opened.session };
    };
    before(async () => {
      gw = await startGateway({ MAX_ROOMS_PER_SOCKET: '3' });
    });
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });
    after(() => gw.close());

    it('session lists the subscribe rooms and the user room with their positions; their publications arrive without a room:join', async () => {
      for (let i = 0; i < 2; i += 1) expect((await httpPublish(gw.url, { room: 'news:1', event: 'n', data: i })).status).to.equal(200);
      const { socket, session } = await open({ sub: 'ann', rooms: ['news:*'], subscribe: ['news:1'] });
      expect(session.user).to.equal('ann');
      const byRoom = new Map(session.rooms.map((entry) => [entry.room, entry]));
      expect([...byRoom.keys()].sort()).to.deep.equal(['news:1', 'user:ann']);
      expect(byRoom.get('news:1')).to.include({ offset: 2 });
      expect(byRoom.get('user:ann')).to.include({ offset: 0 });
      const messages = collectMessages(socket);
      await httpPublish(gw.url, { room: 'news:1', event: 'n', data: 'live' });
      await httpPublish(gw.url, { room: 'user:ann', event: 'dm', data: 'hi ann' });
      await waitFor(() => messages.length === 2, 5000, 'both publications');
      expect(messages.map((message) => [message.room, message.data, message.offset])).to.deep.equal([
        ['news:1', 'live', 3],
        ['user:ann', 'hi ann', 1],
      ]);
      // A member like any other: it may publish there, and a room:join of it is answered at its position.
      assertOk(await request(socket, 'room:publish', { room: 'news:1', event: 'n', data: 'from ann' }));
      expect(assertOk(await request(socket, 'room:join', { room: 'news:1' })).offset).to.equal(4);
    });

    it('a subscribe room the room policy does not allow refuses the handshake FORBIDDEN_ROOM, naming it', async () => {
      const refused = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'bob', rooms: ['news:*'], subscribe: ['secret:1'] }));
      expect(refused.data).to.deep.include({ code: 'FORBIDDEN_ROOM', retryable: false });
      expect(refused.data?.message).to.contain('secret:1');
    });

    it('a subscribe claim that is not a list of valid room names refuses the handshake UNAUTHENTICATED, saying so', async () => {
      const refused = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'bob', rooms: ['*'], subscribe: ['has space'] }));
      expect(refused.data).to.deep.include({ code: 'UNAUTHENTICATED' });
      expect(refused.data?.message).to.contain('subscribe');
    });

    it(`a subscribe claim of more than ${GRANT_MAX_ENTRIES} rooms is refused UNAUTHENTICATED`, async () => {
      const subscribe = Array.from({ length: GRANT_MAX_ENTRIES + 1 }, (_, i) => `r:${i}`);
      const refused = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'bob', rooms: ['r:*'], subscribe }));
      expect(refused.data).to.deep.include({ code: 'UNAUTHENTICATED' });
      expect(refused.data?.message).to.contain('subscribe');
    });

    it('subscribe rooms and the user room past MAX_ROOMS_PER_SOCKET refuse the handshake TOO_MANY_ROOMS; at the limit it connects', async () => {
      const over = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'cid', rooms: ['r:*'], subscribe: ['r:1', 'r:2', 'r:3'] }));
      expect(over.data).to.deep.include({ code: 'TOO_MANY_ROOMS', retryable: false });
      const { socket, session } = await open({ sub: 'cid', rooms: ['r:*'], subscribe: ['r:1', 'r:2'] });
      expect(session.rooms).to.have.length(3);
      // Full: one more room is refused like any join past the limit.
      const ack = await request(socket, 'room:join', { room: 'r:4' });
      expect(!ack.ok && ack.error.code).to.equal('TOO_MANY_ROOMS');
    });

    it('without subscribe, session still names the user and its user room', async () => {
      const { session } = await open({ sub: 'dee', rooms: [] });
      expect(session).to.deep.include({ user: 'dee' });
      expect(session.rooms.map((entry) => entry.room)).to.deep.equal(['user:dee']);
    });
  });

  it('AUTO_JOIN_USER_ROOM=false: only the subscribe rooms are joined', async () => {
    const gw = await startGateway({ AUTO_JOIN_USER_ROOM: 'false' });
    try {
      const opened = await connectWithSession(gw.url, await signToken(gw.secret, { sub: 'eve', rooms: ['a:*'], subscribe: ['a:1'] }));
      const session = await opened.session;
      expect(session.rooms.map((entry) => entry.room)).to.deep.equal(['a:1']);
      const messages = collectMessages(opened.socket);
      await httpPublish(gw.url, { room: 'user:eve', event: 'dm', data: 1 });
      await httpPublish(gw.url, { room: 'a:1', event: 'n', data: 2 });
      await waitFor(() => messages.length === 1, 5000, 'the a:1 publication');
      // a:1 was published after user:eve: had the user room been joined, its message would be here first.
      expect(messages.map((message) => message.room)).to.deep.equal(['a:1']);
      opened.socket.close();
    } finally {
      await gw.close();
    }
  });

  it('the SDK tracks session rooms like its own joins and emits session', async () => {
    const gw = await startGateway();
    const client = new RoomcastClient(gw.url, {
      token: await signToken(gw.secret, { sub: 'fay', rooms: ['feed:*'], subscribe: ['feed:1'] }),
      transports: ['websocket'],
      parser: TEST_SDK_PARSER,
      autoConnect: false,
    });
    try {
      const sessions: SessionEvent[] = [];
      client.on('session', (event) => sessions.push(event));
      await client.connect();
      await waitFor(() => sessions.length === 1, 5000, 'session');
      expect(client.joinedRooms.sort()).to.deep.equal(['feed:1', 'user:fay']);
      const inbox: Message[] = [];
      // join() of a session room attaches the handler; it is not joined twice.
      await client.join('feed:1', (message) => inbox.push(message));
      await httpPublish(gw.url, { room: 'feed:1', event: 'n', data: 'x' });
      await waitFor(() => inbox.length === 1, 5000, 'delivery');
      expect(client.position('feed:1')).to.deep.include({ offset: 1 });
    } finally {
      client.close();
      await gw.close();
    }
  });

  describe('two nodes on one Redis behind NGINX', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await startCluster({ nodes: 2, redis: 'single', nginx: true, env: { DRAIN_TIMEOUT_MS: '1000', PARSER: TEST_PARSER } });
    });
    after(() => cluster.stop());

    it('the SDK reconnects to the other node and delivers every message missed in its subscribe rooms, in order, once', async () => {
      const token = await signToken(TEST_JWT_SECRET, { sub: 'gus', rooms: ['feed:*'], subscribe: ['feed:a', 'feed:b'] });
      // The token provider waits on a gate: the test decides how long the client is offline.
      let gate: Promise<void> = Promise.resolve();
      let release: () => void = () => undefined;
      const client = new RoomcastClient(cluster.url, {
        token: async () => {
          await gate;
          return token;
        },
        transports: ['websocket'],
        parser: TEST_SDK_PARSER,
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
        autoConnect: false,
      });
      const inbox: Message[] = [];
      const sessions: SessionEvent[] = [];
      client.on('session', (event) => sessions.push(event));
      client.on('message', (message) => inbox.push(message as Message));
      try {
        await client.connect();
        await waitFor(() => sessions.length === 1, 10_000, 'session');
        const [first, second] = cluster.nodes;
        if (first === undefined || second === undefined) throw new Error('two nodes expected');
        const onFirst = client.socket.io.engine.id.startsWith(`${first.nodeId}.`);
        const [from, to] = onFirst ? [first, second] : [second, first];
        for (let i = 1; i <= 3; i += 1) await httpPublish(to.url, { room: i % 2 === 0 ? 'feed:b' : 'feed:a', event: 'n', data: `live-${i}` });
        await waitFor(() => inbox.length === 3, 10_000, 'the live messages');

        gate = new Promise((resolve) => (release = resolve));
        await from.kill();
        await waitFor(() => client.state === 'reconnecting', 10_000, 'reconnecting');
        for (let i = 4; i <= 9; i += 1) expect((await httpPublish(to.url, { room: i % 2 === 0 ? 'feed:b' : 'feed:a', event: 'n', data: `missed-${i}` })).status).to.equal(200);
        release();
        await waitFor(() => inbox.length === 9, 15_000, 'the missed messages');
        expect(client.socket.io.engine.id.startsWith(`${to.nodeId}.`)).to.equal(true);
        // One more after recovery: nothing more than once.
        await httpPublish(to.url, { room: 'feed:a', event: 'n', data: 'after' });
        await waitFor(() => inbox.length === 10, 10_000, 'the last message');
        const offsets = (room: string): number[] => inbox.filter((message) => message.room === room).map((message) => message.offset);
        expect(offsets('feed:a')).to.deep.equal([1, 2, 3, 4, 5, 6]);
        expect(offsets('feed:b')).to.deep.equal([1, 2, 3, 4]);
        expect(inbox.filter((message) => message.room === 'feed:a').map((message) => message.data)).to.deep.equal(['live-1', 'live-3', 'missed-5', 'missed-7', 'missed-9', 'after']);
        expect(sessions.length).to.equal(2);
      } finally {
        release();
        client.close();
      }
    });
  });
});
