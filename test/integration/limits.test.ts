/** Every limit, crossed: each gives its typed error, stores nothing, and leaves the connection usable. */
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, connectRefused, nextEvent, request, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('limits', () => {
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  const open = async (sub: string): Promise<TestSocket> => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub, rooms: ['l:*'] }));
    sockets.push(socket);
    return socket;
  };
  before(async () => {
    gw = await startGateway({
      MAX_PAYLOAD_BYTES: '2048',
      MAX_ROOMS_PER_SOCKET: '3',
      // Only the client's own joins here: the auto-joined user room would take a slot (server-subscriptions.test.ts counts it).
      AUTO_JOIN_USER_ROOM: 'false',
      MAX_ROOM_MEMBERS: '2',
      RATE_LIMIT_PER_S: '2',
      RATE_LIMIT_BURST: '10',
    });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  it('MAX_PAYLOAD_BYTES: a client publish over it gets PAYLOAD_TOO_LARGE and the connection stays', async () => {
    const socket = await open('p');
    const join = assertOk(await request(socket, 'room:join', { room: 'l:payload' }));
    const refused = await request(socket, 'room:publish', { room: 'l:payload', event: 'e', data: 'x'.repeat(2100) });
    if (refused.ok) throw new Error('accepted an oversized payload');
    expect(refused.error).to.deep.include({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
    assertOk(await request(socket, 'room:publish', { room: 'l:payload', event: 'e', data: 'x'.repeat(2000) }));
    const history = assertOk(await request(socket, 'room:history', { room: 'l:payload', since: { epoch: join.epoch, offset: 0 } }));
    expect(history.messages.map((m) => m.offset)).to.deep.equal([1]);
  });

  it('MAX_ROOMS_PER_SOCKET: the fourth room gets TOO_MANY_ROOMS; after a leave it fits', async () => {
    const socket = await open('r');
    for (const room of ['l:1', 'l:2', 'l:3']) assertOk(await request(socket, 'room:join', { room }));
    const refused = await request(socket, 'room:join', { room: 'l:4' });
    if (refused.ok) throw new Error('joined a fourth room');
    expect(refused.error.code).to.equal('TOO_MANY_ROOMS');
    // Rejoining a room already joined does not count twice.
    assertOk(await request(socket, 'room:join', { room: 'l:3' }));
    assertOk(await request(socket, 'room:leave', { room: 'l:1' }));
    assertOk(await request(socket, 'room:join', { room: 'l:4' }));
  });

  it('MAX_ROOM_MEMBERS: the third member gets ROOM_FULL (retryable); a place frees when one leaves', async () => {
    const [a, b, c] = [await open('a'), await open('b'), await open('c')];
    assertOk(await request(a, 'room:join', { room: 'l:full' }));
    assertOk(await request(b, 'room:join', { room: 'l:full' }));
    const refused = await request(c, 'room:join', { room: 'l:full' });
    if (refused.ok) throw new Error('joined a full room');
    expect(refused.error).to.deep.include({ code: 'ROOM_FULL', retryable: true });
    a.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertOk(await request(c, 'room:join', { room: 'l:full' }));
  });

  it('RATE_LIMIT_PER_S / RATE_LIMIT_BURST: requests beyond the burst get RATE_LIMITED, then the bucket refills', async () => {
    const socket = await open('flood');
    const results = await Promise.all(Array.from({ length: 20 }, () => request(socket, 'presence:list', { room: 'l:rate' })));
    const limited = results.filter((ack) => !ack.ok && ack.error.code === 'RATE_LIMITED');
    const served = results.filter((ack) => ack.ok);
    expect(served.length).to.equal(10);
    expect(limited.length).to.equal(10);
    expect(limited[0]?.ok === false && limited[0].error.retryable).to.equal(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assertOk(await request(socket, 'presence:list', { room: 'l:rate' }));
  });

  it('each connection has its own bucket: a flooder does not limit others', async () => {
    const flooder = await open('flooder');
    const calm = await open('calm');
    await Promise.all(Array.from({ length: 30 }, () => request(flooder, 'presence:list', { room: 'l:rate2' })));
    assertOk(await request(calm, 'presence:list', { room: 'l:rate2' }));
  });
});

describe('PRESENCE_EVENTS_MAX_MEMBERS', () => {
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  /** Every presence event each socket received, as "join:user" / "leave:user". */
  const seen = new Map<TestSocket, string[]>();
  const open = async (sub: string): Promise<TestSocket> => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub, rooms: ['crowd:*'] }));
    const events: string[] = [];
    socket.on('presence:join', (event) => events.push(`join:${event.member.userId}`));
    socket.on('presence:leave', (event) => events.push(`leave:${event.member.userId}`));
    seen.set(socket, events);
    sockets.push(socket);
    return socket;
  };
  const members = async (socket: TestSocket, room: string): Promise<string[]> =>
    assertOk(await request(socket, 'presence:list', { room })).members.map((member) => member.userId).sort();
  before(async () => {
    gw = await startGateway({ PRESENCE_EVENTS_MAX_MEMBERS: '3' });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  // The gateway writes a presence event before it answers the request that caused it, and one connection's
  // packets arrive in order: once an observer's own request is answered, every event meant for it has arrived.
  it('announces joins and leaves up to the cap, not above it; presence:list and the HTTP route still list everyone', async () => {
    const room = 'crowd:1';
    const [a, b, c, d] = [await open('a'), await open('b'), await open('c'), await open('d')] as [TestSocket, TestSocket, TestSocket, TestSocket];
    for (const socket of [a, b, c]) assertOk(await request(socket, 'room:join', { room }));
    expect(await members(a, room)).to.deep.equal(['a', 'b', 'c']);
    expect(seen.get(a)).to.deep.equal(['join:b', 'join:c']);
    expect(seen.get(b)).to.deep.equal(['join:c']);

    // The fourth member is above the cap: not announced, but listed.
    assertOk(await request(d, 'room:join', { room }));
    expect(await members(a, room)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(await members(b, room)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(await members(c, room)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(seen.get(a)).to.deep.equal(['join:b', 'join:c']);
    expect(seen.get(b)).to.deep.equal(['join:c']);
    expect(seen.get(c)).to.deep.equal([]);
    const api = await fetch(`${gw.url}/api/v1/rooms/${room}/presence`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(((await api.json()) as { members: Array<{ userId: string }> }).members.map((member) => member.userId).sort()).to.deep.equal(['a', 'b', 'c', 'd']);

    // A leave from a room of 4 (above the cap) is not announced; from a room of 3 it is.
    assertOk(await request(c, 'room:leave', { room }));
    expect(await members(a, room)).to.deep.equal(['a', 'b', 'd']);
    expect(await members(d, room)).to.deep.equal(['a', 'b', 'd']);
    expect(seen.get(a)).to.deep.equal(['join:b', 'join:c']);
    expect(seen.get(d)).to.deep.equal([]);
    const left = nextEvent(a, 'presence:leave');
    b.close();
    expect((await left).member.userId).to.equal('b');
    expect(await members(d, room)).to.deep.equal(['a', 'd']);
    expect(seen.get(d)).to.deep.equal(['leave:b']);

    // Back at or below the cap, joins are announced again.
    assertOk(await request(c, 'room:join', { room }));
    expect(await members(a, room)).to.deep.equal(['a', 'c', 'd']);
    expect(await members(d, room)).to.deep.equal(['a', 'c', 'd']);
    expect(seen.get(a)).to.deep.equal(['join:b', 'join:c', 'leave:b', 'join:c']);
    expect(seen.get(d)).to.deep.equal(['leave:b', 'join:c']);
  });

  it('PRESENCE_EVENTS_MAX_MEMBERS=0 announces no join or leave at all', async () => {
    const quiet = await startGateway({ PRESENCE_EVENTS_MAX_MEMBERS: '0' });
    try {
      const token = async (sub: string) => signToken(quiet.secret, { sub, rooms: ['crowd:*'] });
      const [a, b] = [await connect(quiet.url, await token('a')), await connect(quiet.url, await token('b'))];
      sockets.push(a, b);
      const events: string[] = [];
      a.on('presence:join', (event) => events.push(`join:${event.member.userId}`));
      a.on('presence:leave', (event) => events.push(`leave:${event.member.userId}`));
      assertOk(await request(a, 'room:join', { room: 'crowd:quiet' }));
      assertOk(await request(b, 'room:join', { room: 'crowd:quiet' }));
      expect(await members(a, 'crowd:quiet')).to.deep.equal(['a', 'b']);
      assertOk(await request(b, 'room:leave', { room: 'crowd:quiet' }));
      expect(await members(a, 'crowd:quiet')).to.deep.equal(['a']);
      expect(events).to.deep.equal([]);
    } finally {
      for (const socket of sockets.splice(0)) socket.close();
      await quiet.close();
    }
  });
});

describe('CORS origins', () => {
  let gw: TestGateway;
  let token: string;
  before(async () => {
    gw = await startGateway({ CORS_ORIGINS: 'https://app.example.com' });
    token = await signToken(gw.secret, { sub: 'web' });
  });
  after(() => gw.close());

  for (const transport of ['websocket', 'polling'] as const) {
    it(`refuses a foreign Origin over ${transport}`, async () => {
      const refusal = await connectRefused(gw.url, token, { transports: [transport], extraHeaders: { origin: 'https://evil.example.com' } });
      expect(refusal.message).to.be.a('string');
    });

    it(`accepts a listed Origin over ${transport}`, async () => {
      const socket = await connect(gw.url, token, { transports: [transport], extraHeaders: { origin: 'https://app.example.com' } });
      socket.close();
    });
  }

  it('accepts the same origin and clients that send no Origin', async () => {
    const same = await connect(gw.url, token, { extraHeaders: { origin: gw.url } });
    same.close();
    const none = await connect(gw.url, token);
    none.close();
  });

  it('sends CORS headers for a listed origin on polling requests only', async () => {
    const listed = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://app.example.com' } });
    expect(listed.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    const foreign = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://evil.example.com' } });
    expect(foreign.status).to.equal(403);
  });
});
