import { expect } from 'chai';
import { RoomcastClient, RoomcastError } from '../../client/index.js';
import type { ConnectionState, Message, RecoveredEvent, RoomcastClientOptions } from '../../client/index.js';
import msgpackParser from '../../client/msgpack.js';
import { httpPublish, startGateway, TEST_PARSER, TEST_SDK_PARSER, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const ROOMS = ['demo:*'];

function offsetsOf(messages: Message[]): number[] {
  return messages.map((message) => message.offset);
}

function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, index) => index + 1);
}

describe('RoomcastClient against a gateway', () => {
  let gateway: TestGateway;
  const clients: RoomcastClient[] = [];

  function makeClient(token: RoomcastClientOptions['token'], options: Partial<RoomcastClientOptions> = {}): RoomcastClient {
    const client = new RoomcastClient(gateway.url, {
      token,
      transports: ['websocket'],
      parser: TEST_SDK_PARSER,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
      ...options,
    });
    clients.push(client);
    return client;
  }

  function tokenFor(sub: string, options: Parameters<typeof signToken>[2] = {}): Promise<string> {
    return signToken(gateway.secret, { sub, rooms: ROOMS }, options);
  }

  async function connected(sub: string, options: Partial<RoomcastClientOptions> = {}): Promise<RoomcastClient> {
    const client = makeClient(await tokenFor(sub), options);
    await client.connect();
    return client;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await gateway.close();
  });

  describe(`with the ${TEST_PARSER} parser (ROOMCAST_TEST_PARSER)`, () => {
    beforeEach(async () => {
      gateway = await startGateway();
    });

    it('joins, publishes and receives its own publication', async () => {
      const client = await connected('alice');
      const received: Message[] = [];
      const joined = await client.join('demo:own', (message) => received.push(message));
      expect(joined).to.deep.include({ room: 'demo:own', offset: 0, recovered: true, missed: [] });
      expect(joined).to.not.have.property('ok');

      const published = await client.publish('demo:own', 'chat', { text: 'hello' });
      expect(published).to.deep.equal({ room: 'demo:own', epoch: joined.epoch, offset: 1 });
      await waitFor(() => received.length === 1, 5000, 'own publication');
      expect(received[0]).to.deep.include({ room: 'demo:own', event: 'chat', data: { text: 'hello' }, offset: 1, from: 'alice' });
      expect(client.state).to.equal('connected');
      expect(client.position('demo:own')).to.deep.equal({ epoch: joined.epoch, offset: 1 });
    });

    it('delivers the same offsets in the same order to two clients publishing concurrently', async () => {
      const alice = await connected('alice');
      const bob = await connected('bob');
      const atAlice: Message[] = [];
      const atBob: Message[] = [];
      await alice.join('demo:order', (message) => atAlice.push(message));
      await bob.join('demo:order', (message) => atBob.push(message));

      await Promise.all([
        ...oneTo(15).map((i) => alice.publish('demo:order', 'chat', { by: 'alice', i })),
        ...oneTo(15).map((i) => bob.publish('demo:order', 'chat', { by: 'bob', i })),
      ]);
      await waitFor(() => atAlice.length >= 30 && atBob.length >= 30, 5000, '30 messages at both');
      expect(offsetsOf(atAlice)).to.deep.equal(oneTo(30));
      expect(offsetsOf(atBob)).to.deep.equal(oneTo(30));
      expect(atBob.map((message) => message.data)).to.deep.equal(atAlice.map((message) => message.data));
    });

    it('after a lost connection, delivers exactly the missed offsets once, in order', async () => {
      const token = await tokenFor('alice');
      // The token function holds the reconnect until the test has published, so the messages are truly missed.
      let release: () => void = () => undefined;
      let gate: Promise<void> = Promise.resolve();
      const client = makeClient(async () => {
        await gate;
        return token;
      });
      await client.connect();
      const received: Message[] = [];
      const recovered: RecoveredEvent[] = [];
      client.on('recovered', (event) => recovered.push(event));
      await client.join('demo:resume', (message) => received.push(message));
      for (const i of oneTo(3)) await client.publish('demo:resume', 'chat', { i });
      await waitFor(() => received.length === 3, 5000, 'first three');

      gate = new Promise((resolve) => {
        release = resolve;
      });
      client.socket.io.engine.close();
      await waitFor(() => client.state === 'reconnecting', 5000, 'reconnecting');
      for (const i of [4, 5, 6, 7, 8]) {
        const response = await httpPublish(gateway.url, { room: 'demo:resume', event: 'chat', data: { i } });
        expect(response.status).to.equal(200);
      }
      expect(received).to.have.length(3);
      release();

      // The user room the gateway joined at connect recovers too (missed: 0); this test is about demo:resume.
      const resumed = (): RecoveredEvent[] => recovered.filter((event) => event.room === 'demo:resume');
      await waitFor(() => resumed().length === 1 && received.length >= 8, 5000, 'recovery');
      expect(resumed()[0]).to.deep.include({ room: 'demo:resume', missed: 5 });
      await client.publish('demo:resume', 'chat', { i: 9 });
      await waitFor(() => received.length >= 9, 5000, 'ninth');
      expect(offsetsOf(received)).to.deep.equal(oneTo(9));
      expect(received.map((message) => (message.data as { i: number }).i)).to.deep.equal(oneTo(9));
    });

    it('fills offsets the wire never delivered from history, and drops duplicates', async () => {
      const client = await connected('alice');
      const received: Message[] = [];
      const gaps: unknown[] = [];
      client.on('gap', (gap) => gaps.push(gap));
      await client.join('demo:holes', (message) => received.push(message));
      await client.publish('demo:holes', 'chat', { i: 1 });
      await waitFor(() => received.length === 1, 5000, 'first');

      const requests: string[] = [];
      client.socket.onAnyOutgoing((event: string) => requests.push(event));
      // Take the connection out of the room on the gateway: offsets 2 and 3 are stored but not sent to it.
      const namespace = gateway.gateway.io.of('/');
      namespace.in('demo:holes').socketsLeave('demo:holes');
      for (const i of [2, 3]) await httpPublish(gateway.url, { room: 'demo:holes', event: 'chat', data: { i } });
      namespace.in(client.socket.id ?? '').socketsJoin('demo:holes');
      await httpPublish(gateway.url, { room: 'demo:holes', event: 'chat', data: { i: 4 } });

      await waitFor(() => received.length >= 4, 5000, 'the gap filled');
      expect(requests).to.deep.equal(['room:history']);
      // The same offset again on the wire (as after a retried publish) is not delivered twice.
      const [copy] = (await client.history('demo:holes', { since: { epoch: received[0]?.epoch ?? '', offset: 3 }, limit: 1 })).messages;
      namespace.to('demo:holes').emit('message', copy as Message);
      await httpPublish(gateway.url, { room: 'demo:holes', event: 'chat', data: { i: 5 } });
      await waitFor(() => received.length >= 5, 5000, 'fifth');
      expect(offsetsOf(received)).to.deep.equal(oneTo(5));
      expect(received.map((message) => (message.data as { i: number }).i)).to.deep.equal(oneTo(5));
      expect(gaps).to.deep.equal([]);
    });

    it('reconnects and rejoins by itself when the gateway closes the connection', async () => {
      const client = await connected('alice');
      const received: Message[] = [];
      await client.join('demo:kick', (message) => received.push(message));
      await client.publish('demo:kick', 'chat', { i: 1 });
      const firstId = client.socket.id;

      gateway.gateway.io.of('/').disconnectSockets(true);
      await waitFor(() => client.state === 'connected' && client.socket.id !== firstId, 5000, 'reconnected');
      await httpPublish(gateway.url, { room: 'demo:kick', event: 'chat', data: { i: 2 } });
      await client.publish('demo:kick', 'chat', { i: 3 });
      await waitFor(() => received.length >= 3, 5000, 'three messages');
      expect(offsetsOf(received)).to.deep.equal([1, 2, 3]);
    });

    it('moves to a new connection after server:draining and keeps the room', async () => {
      const client = await connected('alice');
      const received: Message[] = [];
      const draining: number[] = [];
      client.on('draining', (event) => draining.push(event.reconnectInMs));
      await client.join('demo:drain', (message) => received.push(message));
      const firstId = client.socket.id;

      gateway.gateway.io.of('/').emit('server:draining', { reconnectInMs: 10 });
      await waitFor(() => client.state === 'connected' && client.socket.id !== firstId, 5000, 'a new connection');
      expect(draining).to.deep.equal([10]);
      await httpPublish(gateway.url, { room: 'demo:drain', event: 'chat', data: { after: 'drain' } });
      await waitFor(() => received.length === 1, 5000, 'message after the move');
      expect(received[0]?.data).to.deep.equal({ after: 'drain' });
    });

    it('rejects a refused join with a typed error and forgets the room', async () => {
      const client = await connected('alice');
      const error = await client.join('secret:room', () => undefined).then(
        () => null,
        (reason: unknown) => reason,
      );
      expect(error).to.be.instanceOf(RoomcastError);
      expect(error).to.include({ code: 'FORBIDDEN_ROOM', retryable: false, room: 'secret:room' });
      // Only the room the gateway joined by itself at connect (AUTO_JOIN_USER_ROOM) is left.
      expect(client.joinedRooms).to.deep.equal(['user:alice']);
      const invalid = await client.join('bad room!', () => undefined).catch((reason: unknown) => reason);
      expect(invalid).to.include({ code: 'INVALID_PAYLOAD' });
    });

    it('rejects connect() with UNAUTHENTICATED for a bad token and ends disconnected', async () => {
      const client = makeClient('not-a-jwt');
      const errors: RoomcastError[] = [];
      client.on('error', (error) => errors.push(error));
      const error = await client.connect().catch((reason: unknown) => reason);
      expect(error).to.be.instanceOf(RoomcastError);
      expect(error).to.include({ code: 'UNAUTHENTICATED', retryable: false });
      expect(client.state).to.equal('disconnected');
      expect(errors.map((item) => item.code)).to.deep.equal(['UNAUTHENTICATED']);
    });

    it('renews an expired token with refreshToken before the handshake', async () => {
      let refreshes = 0;
      const client = makeClient(await tokenFor('alice', { expiresIn: -60 }), {
        refreshToken: async () => {
          refreshes += 1;
          return tokenFor('alice');
        },
      });
      await client.connect();
      expect(refreshes).to.equal(1);
      expect(client.state).to.equal('connected');
    });

    it('fails with TOKEN_EXPIRED when the token expired and cannot be renewed', async () => {
      const client = makeClient(await tokenFor('alice', { expiresIn: -60 }));
      const error = await client.connect().catch((reason: unknown) => reason);
      expect(error).to.include({ code: 'TOKEN_EXPIRED' });
      expect(client.state).to.equal('disconnected');
    });

    it('sends auth:refresh before the token expires and keeps the connection', async () => {
      const short = await tokenFor('alice', { expiresIn: 2 });
      const expiresAt = JSON.parse(Buffer.from(short.split('.')[1] ?? '', 'base64url').toString()).exp * 1000;
      let refreshes = 0;
      const client = makeClient(short, {
        refreshToken: async () => {
          refreshes += 1;
          return tokenFor('alice');
        },
      });
      const states: ConnectionState[] = [];
      client.on('state', (state) => states.push(state));
      await client.connect();
      const received: Message[] = [];
      await client.join('demo:refresh', (message) => received.push(message));

      await waitFor(() => refreshes === 1, 5000, 'a refresh');
      await waitFor(() => Date.now() > expiresAt + 500, 5000, 'the first token to expire');
      expect(states).to.deep.equal(['connected']);
      await client.publish('demo:refresh', 'chat', { still: 'here' });
      await waitFor(() => received.length === 1, 5000, 'a message after expiry');
    });

    it('reads history and presence, and reports presence changes', async () => {
      const alice = await connected('alice');
      const bob = await connected('bob');
      const changes: string[] = [];
      await alice.join('demo:people', () => undefined, {
        onPresence: (change) => changes.push(`${change.type}:${change.member.userId}`),
      });
      await bob.join('demo:people', () => undefined);
      await waitFor(() => changes.length === 1, 5000, 'presence:join');
      expect(changes).to.deep.equal(['join:bob']);

      const members = await alice.presence('demo:people');
      expect(members.map((member) => member.userId).sort()).to.deep.equal(['alice', 'bob']);

      await bob.publish('demo:people', 'chat', { n: 1 });
      await bob.publish('demo:people', 'chat', { n: 2 });
      const page = await alice.history('demo:people', { limit: 10 });
      expect(page.recovered).to.equal(true);
      expect(offsetsOf(page.messages)).to.deep.equal([1, 2]);

      await bob.leave('demo:people');
      await waitFor(() => changes.length === 2, 5000, 'presence:leave');
      expect(changes[1]).to.equal('leave:bob');
    });

    it('close() is idempotent and rejects later calls', async () => {
      const client = await connected('alice');
      const states: ConnectionState[] = [];
      client.on('state', (state) => states.push(state));
      client.close();
      client.close();
      expect(client.state).to.equal('closed');
      expect(states).to.deep.equal(['closed']);
      const error = await client.publish('demo:x', 'chat', {}).catch((reason: unknown) => reason);
      expect(error).to.be.instanceOf(RoomcastError);
    });
  });

  describe('with the msgpack parser', () => {
    beforeEach(async () => {
      gateway = await startGateway({ PARSER: 'msgpack' });
    });

    it('joins, publishes and receives in order', async () => {
      const alice = await connected('alice', { parser: msgpackParser });
      const bob = await connected('bob', { parser: msgpackParser });
      const atBob: Message[] = [];
      await alice.join('demo:packed', () => undefined);
      await bob.join('demo:packed', (message) => atBob.push(message));
      for (const i of oneTo(5)) await alice.publish('demo:packed', 'chat', { i, nested: { list: [1, 'two', null] } });
      await waitFor(() => atBob.length === 5, 5000, 'five messages');
      expect(offsetsOf(atBob)).to.deep.equal(oneTo(5));
      expect(atBob[4]?.data).to.deep.equal({ i: 5, nested: { list: [1, 'two', null] } });
    });

    it("refuses parser: 'msgpack' (a name) at construction, naming what it takes", () => {
      const options = { token: 't', autoConnect: false, parser: 'msgpack' } as unknown as RoomcastClientOptions;
      expect(() => new RoomcastClient(gateway.url, options)).to.throw(TypeError, /'json' or a parser object.*@roomcast\/client\/msgpack.*got 'msgpack'/);
    });
  });
});
