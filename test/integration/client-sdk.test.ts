/**
 * The SDK's application-facing helpers against a real gateway: the outbox (offline
 * publications sent once on reconnect, stored once even when the flush is retried),
 * room:signal (volatile, never in history) with a throttled sender, the live presence
 * list, the typed generics (tsc is the check for those), publications whose
 * outcome is unknown, and a rejoin that history only partly covers. Runs under
 * ROOMCAST_TEST_PARSER=msgpack too (npm run test:msgpack).
 */
import { expect } from 'chai';
import type { Socket } from 'socket.io';
import { RoomcastClient, RoomcastError } from '../../client/index.js';
import type { DefaultEvents, GapEvent, Message, OutboxDrop, RoomcastClientOptions, TypedMessage, TypedSignal } from '../../client/index.js';
import { startGateway, TEST_SDK_PARSER, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

/** The application's publications and signals, as a chat page would declare them. */
interface ChatEvents {
  chat: { text: string; name: string };
  edit: { id: number; text: string };
}
interface ChatSignals {
  typing: { typing: boolean };
  cursor: { x: number; y: number };
}

/**
 * Compile-time checks of the generics: never called, tsc checks it (an unused
 * @ts-expect-error is itself an error, so each line must really be refused).
 */
function typedUsage(client: RoomcastClient<ChatEvents, ChatSignals>): void {
  void client.publish('demo:x', 'chat', { text: 'hi', name: 'alice' });
  void client.publish('demo:x', 'edit', { id: 1, text: 'fixed' });
  // @ts-expect-error: chat data needs text and name
  void client.publish('demo:x', 'chat', { txt: 'hi' });
  // @ts-expect-error: an event the application did not declare
  void client.publish('demo:x', 'shout', { text: 'HI' });
  void client.signal('demo:x', 'cursor', { x: 1, y: 2 });
  // @ts-expect-error: typing carries a boolean
  void client.signal('demo:x', 'typing', { typing: 'yes' });
  void client.join('demo:x', (message) => {
    switch (message.event) {
      case 'chat': {
        const text: string = message.data.text;
        void text;
        break;
      }
      case 'edit': {
        const id: number = message.data.id;
        // @ts-expect-error: edit has no name
        void message.data.name;
        void id;
        break;
      }
    }
  });
  client.on('signal', (signal: TypedSignal<ChatSignals>) => {
    if (signal.event === 'cursor') {
      const x: number = signal.data.x;
      void x;
    }
  });
  client.on('message', (message: TypedMessage<ChatEvents>) => void message.offset);
  const cursor = client.throttledSignal('demo:x', 'cursor', 50);
  cursor({ x: 1, y: 1 });
  // @ts-expect-error: cursor data is { x, y }
  cursor({ typing: true });
  // An untyped client takes any event name and any JSON.
  const loose = client as unknown as RoomcastClient;
  void loose.publish('demo:x', 'anything', { any: ['json', 1, null] });
  const error: unknown = new Error('x');
  if (RoomcastError.is(error, 'RATE_LIMITED')) {
    const code: 'RATE_LIMITED' = error.code;
    void code;
  }
}
void typedUsage;

describe('RoomcastClient helpers against a gateway', () => {
  let gateway: TestGateway;
  const clients: Array<RoomcastClient<object, object>> = [];

  function makeClient<E extends object = DefaultEvents, S extends object = DefaultEvents>(
    token: RoomcastClientOptions['token'],
    options: Partial<RoomcastClientOptions> = {},
  ): RoomcastClient<E, S> {
    const client = new RoomcastClient<E, S>(gateway.url, {
      token,
      transports: ['websocket'],
      parser: TEST_SDK_PARSER,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
      ...options,
    });
    clients.push(client as unknown as RoomcastClient<object, object>);
    return client;
  }

  function tokenFor(sub: string): Promise<string> {
    return signToken(gateway.secret, { sub, rooms: ['demo:*'] });
  }

  /** A client whose reconnects wait until `release()`: the test decides how long it is offline. */
  async function gatedClient<E extends object = DefaultEvents, S extends object = DefaultEvents>(sub: string, options: Partial<RoomcastClientOptions> = {}) {
    const token = await tokenFor(sub);
    let gate: Promise<void> = Promise.resolve();
    let release: () => void = () => undefined;
    const client = makeClient<E, S>(async () => {
      await gate;
      return token;
    }, options);
    await client.connect();
    return {
      client,
      /** Cuts the connection; the reconnect waits for release(). */
      async goOffline(): Promise<void> {
        gate = new Promise((resolve) => (release = resolve));
        client.socket.io.engine.close();
        await waitFor(() => client.state === 'reconnecting', 5000, 'reconnecting');
      },
      release: () => release(),
      /** The next reconnect waits for release(), without cutting the connection now. */
      hold(): void {
        gate = new Promise((resolve) => (release = resolve));
      },
    };
  }

  beforeEach(async () => {
    gateway = await startGateway();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await gateway.close();
  });

  describe('outbox', () => {
    it('sends publications made while disconnected once after the reconnect, in order', async () => {
      const { client, goOffline, release } = await gatedClient<ChatEvents>('alice');
      const received: Message[] = [];
      const everywhere: string[] = [];
      client.on('message', (message) => everywhere.push(`${message.event}:${message.offset}`));
      await client.join('demo:outbox', (message) => received.push(message as Message));
      await client.publish('demo:outbox', 'chat', { text: 'online', name: 'alice' });

      await goOffline();
      const offline = [1, 2, 3].map((i) => client.publish('demo:outbox', 'chat', { text: `offline ${i}`, name: 'alice' }));
      expect(client.outboxSize).to.equal(3);
      release();

      const results = await Promise.all(offline);
      expect(results.map((result) => result.offset)).to.deep.equal([2, 3, 4]);
      expect(client.outboxSize).to.equal(0);
      await waitFor(() => received.length >= 4, 5000, 'four messages');
      expect(received.map((message) => (message.data as { text: string }).text)).to.deep.equal(['online', 'offline 1', 'offline 2', 'offline 3']);
      expect(received.map((message) => message.offset)).to.deep.equal([1, 2, 3, 4]);
      expect(everywhere).to.deep.equal(['chat:1', 'chat:2', 'chat:3', 'chat:4']);
      const page = await client.history('demo:outbox', { limit: 100 });
      expect(page.messages).to.have.length(4);
    });

    it('stores an entry once when its flush is retried after the answer was lost (same idempotency key)', async () => {
      const { client, goOffline, release } = await gatedClient('alice');
      const received: Message[] = [];
      await client.join('demo:retry', (message) => received.push(message as Message));

      // On the gateway: the first room:publish is stored, then its answer is lost with the connection.
      const keys: string[] = [];
      let loseNextAnswer = true;
      // Prepended: the gateway's own middleware dispatches the packet, so a later one would never see it.
      gateway.gateway.io.of('/').prependListener('connection', (socket: Socket) => {
        socket.use((packet, next) => {
          if (packet[0] === 'room:publish') {
            keys.push((packet[1] as { idempotencyKey?: string }).idempotencyKey ?? '(none)');
            if (loseNextAnswer) {
              loseNextAnswer = false;
              packet[2] = () => socket.disconnect();
            }
          }
          next();
        });
      });

      await goOffline();
      const first = client.publish('demo:retry', 'chat', { text: 'once' });
      const second = client.publish('demo:retry', 'chat', { text: 'twice?' });
      release();

      const [one, two] = await Promise.all([first, second]);
      expect(one.offset).to.equal(1);
      expect(two.offset).to.equal(2);
      expect(keys).to.have.length(3, 'the first entry was sent twice, then the second once');
      expect(keys[0]).to.equal(keys[1]);
      expect(keys[2]).to.not.equal(keys[0]);
      const page = await client.history('demo:retry', { limit: 100 });
      expect(page.messages.map((message) => message.data)).to.deep.equal([{ text: 'once' }, { text: 'twice?' }]);
      await waitFor(() => received.length >= 2, 5000, 'both delivered');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received.map((message) => message.offset)).to.deep.equal([1, 2]);
    });

    it('reports expired and overflowing entries with typed errors, never silently', async () => {
      const { client, goOffline, release } = await gatedClient('alice', { outbox: { maxEntries: 2, ttlMs: 300 } });
      await client.join('demo:ttl', () => undefined);
      const dropped: OutboxDrop[] = [];
      client.on('outbox:dropped', (drop) => dropped.push(drop));

      await goOffline();
      const expiring = client.publish('demo:ttl', 'chat', { n: 1 }).catch((error: unknown) => error);
      const second = client.publish('demo:ttl', 'chat', { n: 2 }).catch((error: unknown) => error);
      const overflow = await client.publish('demo:ttl', 'chat', { n: 3 }).catch((error: unknown) => error);
      expect(RoomcastError.is(overflow, 'OUTBOX_FULL')).to.equal(true);

      const expired = await expiring;
      expect(expired).to.be.instanceOf(RoomcastError);
      expect(expired).to.include({ code: 'OUTBOX_EXPIRED', room: 'demo:ttl' });
      expect(await second).to.include({ code: 'OUTBOX_EXPIRED' });
      expect(dropped.map((drop) => [drop.error.code, (drop.data as { n: number }).n])).to.deep.equal([
        ['OUTBOX_FULL', 3],
        ['OUTBOX_EXPIRED', 1],
        ['OUTBOX_EXPIRED', 2],
      ]);
      expect(dropped[1]?.idempotencyKey).to.be.a('string').and.not.equal('');

      release();
      await waitFor(() => client.state === 'connected', 5000, 'reconnected');
      const page = await client.history('demo:ttl', { limit: 10 });
      expect(page.messages).to.deep.equal([]);
    });
  });

  describe('publications whose outcome is unknown', () => {
    it('fails an outbox entry that was sent but never answered with UNAVAILABLE, unknown, its key: never OUTBOX_EXPIRED', async () => {
      const { client, goOffline, release, hold } = await gatedClient('alice', { outbox: { ttlMs: 1500 } });
      await client.join('demo:unknown', () => undefined);
      const dropped: OutboxDrop[] = [];
      client.on('outbox:dropped', (drop) => dropped.push(drop));
      // On the gateway: the publication is stored, then its answer is lost with the connection,
      // and the client stays offline past the entry's TTL.
      const keys: string[] = [];
      // Prepended: the gateway's own middleware dispatches the packet, so a later one would never see it.
      gateway.gateway.io.of('/').prependListener('connection', (socket: Socket) => {
        socket.use((packet, next) => {
          if (packet[0] === 'room:publish') {
            keys.push((packet[1] as { idempotencyKey?: string }).idempotencyKey ?? '(none)');
            packet[2] = () => {
              hold();
              socket.disconnect();
            };
          }
          next();
        });
      });

      await goOffline();
      const outcome = client.publish('demo:unknown', 'chat', { text: 'stored?' }).catch((error: unknown) => error);
      release();
      const error = await outcome;
      expect(keys).to.have.length(1);
      expect(error).to.be.instanceOf(RoomcastError);
      expect(error).to.include({ code: 'UNAVAILABLE', retryable: true, unknown: true, idempotencyKey: keys[0], room: 'demo:unknown' });
      expect(dropped.map((drop) => [drop.error.code, drop.idempotencyKey])).to.deep.equal([['UNAVAILABLE', keys[0]]]);

      // It was stored: the application retries with the same key and gets the original offset, stored once.
      release();
      await waitFor(() => client.state === 'connected', 5000, 'reconnected');
      const page = await client.history('demo:unknown', { limit: 10 });
      expect(page.messages.map((message) => message.data)).to.deep.equal([{ text: 'stored?' }]);
    });

    it('marks a direct publish that got no answer as unknown, with its key', async () => {
      // Prepended: the gateway's own middleware dispatches the packet, so a later one would never see it.
      gateway.gateway.io.of('/').prependListener('connection', (socket: Socket) =>
        socket.use((packet, next) => {
          // Stored, never answered.
          if (packet[0] === 'room:publish' && (packet[1] as { room?: string }).room === 'demo:no-answer') packet[2] = () => undefined;
          next();
        }),
      );
      const client = makeClient(await tokenFor('alice'), { ackTimeout: 300, outbox: false });
      await client.connect();
      await client.join('demo:no-answer', () => undefined);
      const error = await client.publish('demo:no-answer', 'chat', { n: 1 }, { idempotencyKey: 'k-1' }).catch((caught: unknown) => caught);
      expect(error).to.include({ code: 'UNAVAILABLE', retryable: true, unknown: true, idempotencyKey: 'k-1' });
      const refused = await client.publish('demo:nowhere', 'chat', { n: 2 }).catch((caught: unknown) => caught);
      expect(refused).to.include({ code: 'PUBLISH_FORBIDDEN', unknown: false });
    });
  });

  describe('room:signal', () => {
    it('reaches the other members of the room, not the sender, and is not stored', async () => {
      const alice = makeClient<ChatEvents, ChatSignals>(await tokenFor('alice'));
      const bob = makeClient<ChatEvents, ChatSignals>(await tokenFor('bob'));
      await Promise.all([alice.connect(), bob.connect()]);
      const atAlice: unknown[] = [];
      const atBob: Array<TypedSignal<ChatSignals>> = [];
      const viaOption: string[] = [];
      alice.on('signal', (signal) => atAlice.push(signal));
      bob.on('signal', (signal) => atBob.push(signal));
      await alice.join('demo:signal');
      const joined = await bob.join('demo:signal', () => undefined, { onSignal: (signal) => viaOption.push(signal.event) });

      expect(await alice.signal('demo:signal', 'typing', { typing: true })).to.equal(true);
      await waitFor(() => atBob.length === 1, 5000, 'the signal');
      expect(atBob[0]).to.deep.include({ room: 'demo:signal', event: 'typing', data: { typing: true }, from: 'alice' });
      expect(atBob[0]?.ts).to.be.a('number');
      expect(viaOption).to.deep.equal(['typing']);
      expect(atAlice).to.deep.equal([]);

      const page = await bob.history('demo:signal', { limit: 10 });
      expect(page.messages).to.deep.equal([]);
      expect(page.offset).to.equal(joined.offset);

      const refused = await alice.signal('demo:elsewhere', 'typing', { typing: true }).catch((error: unknown) => error);
      expect(refused).to.include({ code: 'PUBLISH_FORBIDDEN' });
    });

    it('a throttled sender relays at most one signal per window, the latest data last', async () => {
      const alice = makeClient<ChatEvents, ChatSignals>(await tokenFor('alice'));
      const bob = makeClient<ChatEvents, ChatSignals>(await tokenFor('bob'));
      await Promise.all([alice.connect(), bob.connect()]);
      const cursors: Array<{ x: number; y: number }> = [];
      bob.on('signal', (signal) => {
        if (signal.event === 'cursor') cursors.push(signal.data);
      });
      await alice.join('demo:cursor');
      await bob.join('demo:cursor');

      const cursor = alice.throttledSignal('demo:cursor', 'cursor', 100);
      const started = Date.now();
      for (let x = 1; x <= 30; x += 1) {
        cursor({ x, y: 0 });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const elapsed = Date.now() - started;
      await waitFor(() => cursors.at(-1)?.x === 30, 5000, 'the last position');
      // One leading signal plus one per 100 ms window.
      expect(cursors.length).to.be.at.most(Math.ceil(elapsed / 100) + 2);
      expect(cursors.length).to.be.lessThan(30);
      expect(cursors[0]).to.deep.equal({ x: 1, y: 0 });
    });

    it('drops a signal while offline instead of queueing it', async () => {
      const { client, goOffline, release } = await gatedClient<ChatEvents, ChatSignals>('alice');
      await client.join('demo:offline-signal');
      await goOffline();
      expect(await client.signal('demo:offline-signal', 'typing', { typing: true })).to.equal(false);
      expect(client.outboxSize).to.equal(0);
      release();
    });
  });

  describe('presence list', () => {
    it('keeps a live member list from presence:list and join/leave events', async () => {
      const alice = makeClient(await tokenFor('alice'));
      const bob = makeClient(await tokenFor('bob'));
      await Promise.all([alice.connect(), bob.connect()]);
      await alice.join('demo:room');
      const people = alice.presenceList('demo:room');
      await waitFor(() => people.loaded, 5000, 'the first list');
      expect(people.users).to.deep.equal(['alice']);

      await bob.join('demo:room');
      await waitFor(() => people.users.length === 2, 5000, 'bob in the list');
      expect(people.users).to.deep.equal(['alice', 'bob']);
      await bob.leave('demo:room');
      await waitFor(() => people.users.length === 1, 5000, 'bob gone');
      people.close();
    });
  });
});

describe('RoomcastClient presence list above PRESENCE_EVENTS_MAX_MEMBERS', () => {
  it('re-lists on its own when join/leave events stop coming', async () => {
    const gateway = await startGateway({ PRESENCE_EVENTS_MAX_MEMBERS: '1' });
    const clients: RoomcastClient[] = [];
    try {
      const make = async (sub: string): Promise<RoomcastClient> => {
        const client = new RoomcastClient(gateway.url, {
          token: await signToken(gateway.secret, { sub, rooms: ['demo:*'] }),
          transports: ['websocket'],
          parser: TEST_SDK_PARSER,
        });
        clients.push(client);
        await client.connect();
        return client;
      };
      const alice = await make('alice');
      await alice.join('demo:big');
      const people = alice.presenceList('demo:big', { eventsMaxMembers: 1, pollMs: 200 });
      const presenceEvents: string[] = [];
      alice.on('presence', (change) => presenceEvents.push(change.type));
      await waitFor(() => people.loaded, 5000, 'the first list');
      const bob = await make('bob');
      await bob.join('demo:big');
      await waitFor(() => people.users.includes('bob'), 5000, 'bob, from a re-list');
      expect(presenceEvents).to.deep.equal([], 'the gateway announced nothing above the cap');
      people.close();
    } finally {
      for (const client of clients) client.close();
      await gateway.close();
    }
  });
});

describe('RoomcastClient rejoining after history was trimmed (HISTORY_SIZE 5)', () => {
  it('reports the trimmed part as a gap, then delivers what history still holds, in order', async () => {
    const gateway = await startGateway({ HISTORY_SIZE: '5' });
    const clients: RoomcastClient[] = [];
    try {
      const options: Omit<RoomcastClientOptions, 'token'> = { transports: ['websocket'], parser: TEST_SDK_PARSER, reconnectionDelay: 50, reconnectionDelayMax: 200 };
      const aliceToken = await signToken(gateway.secret, { sub: 'alice', rooms: ['demo:*'] });
      let gate: Promise<void> = Promise.resolve();
      let release: () => void = () => undefined;
      const alice = new RoomcastClient(gateway.url, {
        ...options,
        token: async () => {
          await gate;
          return aliceToken;
        },
      });
      const bob = new RoomcastClient(gateway.url, { ...options, token: await signToken(gateway.secret, { sub: 'bob', rooms: ['demo:*'] }) });
      clients.push(alice, bob);
      const delivered: number[] = [];
      const gaps: GapEvent[] = [];
      await alice.join('demo:trimmed', (message) => delivered.push(message.offset), { onGap: (gap) => gaps.push(gap) });
      await bob.join('demo:trimmed');
      await bob.publish('demo:trimmed', 'chat', { n: 1 });
      await waitFor(() => delivered.length === 1, 5000, 'offset 1');

      // Alice is away while twelve more are published: history keeps the last five (9..13).
      gate = new Promise((resolve) => (release = resolve));
      alice.socket.io.engine.close();
      await waitFor(() => alice.state === 'reconnecting', 5000, 'reconnecting');
      for (let n = 2; n <= 13; n += 1) await bob.publish('demo:trimmed', 'chat', { n });
      release();

      await waitFor(() => delivered.length === 6, 5000, 'the retained tail');
      expect(gaps.map((gap) => [gap.from, gap.to, gap.reason])).to.deep.equal([[2, 8, 'expired']]);
      expect(delivered).to.deep.equal([1, 9, 10, 11, 12, 13]);
      await bob.publish('demo:trimmed', 'chat', { n: 14 });
      await waitFor(() => delivered.length === 7, 5000, 'offset 14');
      expect(delivered.at(-1)).to.equal(14);
    } finally {
      for (const client of clients) client.close();
      await gateway.close();
    }
  });
});
