/**
 * A refused join is reported once (client/README.md, "Errors"; RoomcastClient.join()):
 * the first join's refusal only rejects join()'s promise; a rejoin after a reconnect
 * refused for good is one `error` event and the room is dropped; a rejoin refused for
 * now is retried with backoff and is one `error` event however many retries it takes.
 * Real gateway (JSON parser: the SDK's default), real SDK clients; every rejection
 * and `error` event is counted.
 */
import { expect } from 'chai';
import { RoomcastClient, RoomcastError } from '../../client/index.js';
import type { Message, RoomcastClientOptions } from '../../client/index.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RoomcastClient: a refused join is reported once', function () {
  this.timeout(30_000);
  let gateway: TestGateway;
  const clients: RoomcastClient[] = [];

  function makeClient(token: RoomcastClientOptions['token']): { client: RoomcastClient; errors: RoomcastError[]; joinAttempts: (room: string) => number } {
    const client = new RoomcastClient(gateway.url, {
      token,
      transports: ['websocket'],
      reconnectionDelay: 50,
      reconnectionDelayMax: 150,
    });
    clients.push(client);
    const errors: RoomcastError[] = [];
    client.on('error', (error) => errors.push(error));
    const attempts = new Map<string, number>();
    client.socket.onAnyOutgoing((event: string, payload: { room?: string }) => {
      if (event === 'room:join' && typeof payload?.room === 'string') attempts.set(payload.room, (attempts.get(payload.room) ?? 0) + 1);
    });
    return { client, errors, joinAttempts: (room) => attempts.get(room) ?? 0 };
  }

  /** Cuts the transport, as a network failure would: the client reconnects by itself. */
  function cutConnection(client: RoomcastClient): void {
    client.socket.io.engine.close();
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await gateway.close();
  });

  describe('with the default limits', () => {
    beforeEach(async () => {
      gateway = await startGateway({ PARSER: 'json' });
    });

    it('a first join refused: join() rejects, no `error` event, the room is not tracked', async () => {
      const { client, errors, joinAttempts } = makeClient(await signToken(gateway.secret, { sub: 'alice', rooms: ['demo:*'] }));
      await client.connect();
      let rejections = 0;
      let reason: unknown;
      await client.join('secret:room').catch((error: unknown) => {
        rejections += 1;
        reason = error;
      });
      expect(reason).to.be.instanceOf(RoomcastError);
      expect(reason).to.include({ code: 'FORBIDDEN_ROOM', room: 'secret:room', event: 'room:join', retryable: false });
      // A reconnect does not try it again, nor report it again.
      cutConnection(client);
      await waitFor(() => client.state === 'connected' && joinAttempts('secret:room') === 1, 5000, 'the reconnect');
      await sleep(300);
      expect(rejections).to.equal(1);
      expect(errors).to.deep.equal([]);
      expect(joinAttempts('secret:room')).to.equal(1);
      expect(client.joinedRooms).to.not.include('secret:room');
    });

    it('a rejoin refused for good (the new token no longer allows the room): one `error` with the room, the room dropped', async () => {
      let rooms = ['demo:*'];
      const { client, errors, joinAttempts } = makeClient(() => signToken(gateway.secret, { sub: 'bob', rooms }));
      await client.connect();
      let rejections = 0;
      await client.join('demo:narrowed').catch(() => void (rejections += 1));
      expect(client.joinedRooms).to.include('demo:narrowed');

      rooms = ['other:*'];
      cutConnection(client);
      await waitFor(() => errors.length === 1, 5000, 'the rejoin refusal');
      expect(errors[0]).to.be.instanceOf(RoomcastError);
      expect(errors[0]).to.include({ code: 'FORBIDDEN_ROOM', room: 'demo:narrowed', event: 'room:join', retryable: false });
      expect(client.joinedRooms).to.not.include('demo:narrowed');

      // Another reconnect: the dropped room is not rejoined, nothing more is reported.
      const attempts = joinAttempts('demo:narrowed');
      cutConnection(client);
      await waitFor(() => client.state === 'reconnecting' || client.state === 'connecting', 5000, 'the disconnect');
      await waitFor(() => client.state === 'connected', 5000, 'the second reconnect');
      await sleep(300);
      expect(joinAttempts('demo:narrowed')).to.equal(attempts);
      expect(errors).to.have.length(1);
      expect(rejections).to.equal(0);
    });
  });

  describe('with MAX_ROOM_MEMBERS 1 (ROOM_FULL is retryable)', () => {
    beforeEach(async () => {
      // Only the rooms joined here: the auto-joined user room is one member of its own room anyway.
      gateway = await startGateway({ PARSER: 'json', MAX_ROOM_MEMBERS: '1', AUTO_JOIN_USER_ROOM: 'false' });
    });

    it('a first join refused ROOM_FULL rejects once and is not retried', async () => {
      const holder = makeClient(await signToken(gateway.secret, { sub: 'holder', rooms: ['demo:*'] }));
      await holder.client.connect();
      await holder.client.join('demo:full');
      const late = makeClient(await signToken(gateway.secret, { sub: 'late', rooms: ['demo:*'] }));
      await late.client.connect();
      const reason = await late.client.join('demo:full').then(() => null, (error: unknown) => error);
      expect(reason).to.include({ code: 'ROOM_FULL', retryable: true, room: 'demo:full' });
      await sleep(500);
      expect(late.errors).to.deep.equal([]);
      expect(late.joinAttempts('demo:full')).to.equal(1);
    });

    it('a rejoin refused for now is retried with backoff, reported by one `error`, and delivers once it gets in', async () => {
      let gate: Promise<void> = Promise.resolve();
      const aliceToken = await signToken(gateway.secret, { sub: 'alice', rooms: ['demo:*'] });
      // The token provider runs on every reconnect: holding it keeps alice away while bob takes her place.
      const alice = makeClient(async () => {
        await gate;
        return aliceToken;
      });
      await alice.client.connect();
      const received: Message[] = [];
      await alice.client.join('demo:full', (message) => received.push(message));

      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      cutConnection(alice.client);
      const bob = makeClient(await signToken(gateway.secret, { sub: 'bob', rooms: ['demo:*'] }));
      await bob.client.connect();
      // Alice's old connection leaves the room as the gateway sees it close.
      const deadline = Date.now() + 5000;
      for (;;) {
        const joined = await bob.client.join('demo:full').then(() => true, () => false);
        if (joined) break;
        if (Date.now() > deadline) throw new Error('bob never got into demo:full');
        await sleep(50);
      }
      open();
      await waitFor(() => alice.errors.length === 1, 5000, 'the first ROOM_FULL of the rejoin');
      expect(alice.errors[0]).to.include({ code: 'ROOM_FULL', retryable: true, room: 'demo:full', event: 'room:join' });
      const before = alice.joinAttempts('demo:full');
      await waitFor(() => alice.joinAttempts('demo:full') >= before + 3, 5000, 'three more rejoin attempts');
      expect(alice.errors).to.have.length(1);
      expect(alice.client.joinedRooms).to.include('demo:full');

      await bob.client.leave('demo:full');
      const rejoined = new Promise<void>((resolve) => alice.client.once('joined', () => resolve()));
      await rejoined;
      await httpPublish(gateway.url, { room: 'demo:full', event: 'chat', data: { after: 'rejoin' } });
      await waitFor(() => received.length === 1, 5000, 'a publication after the rejoin');
      expect(received[0]?.data).to.deep.equal({ after: 'rejoin' });
      expect(alice.errors).to.have.length(1);
    });
  });
});
