/**
 * Reads are bounded (found by the hostile-input tests): a history page or a
 * join's missed[] is cut at HISTORY_PAGE_MAX_BYTES, a connection has at most two
 * reads in flight, a connection that asks for pages it does not read is cut at
 * once; and join/leave of one room are applied in the order sent.
 */
import { expect } from 'chai';
import { HISTORY_PAGE_MAX_BYTES } from '../../shared/index.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, rawRequest, request, waitFor, type TestSocket } from '../support/sockets.js';
import { connectTestRedis, type TestRedisClient } from '../../tools/processes/redis-client.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('bounded reads and ordered room operations', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  const open = async (sub: string): Promise<TestSocket> => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub, rooms: ['b:*'] }));
    sockets.push(socket);
    return socket;
  };
  before(async () => {
    gw = await startGateway({ MAX_PAYLOAD_BYTES: '65536', MAX_CLIENT_BUFFER_BYTES: '262144', RATE_LIMIT_PER_S: '1000', RATE_LIMIT_BURST: '1000' });
    const payload = 'y'.repeat(60_000);
    for (let i = 0; i < 40; i += 1) expect((await httpPublish(gw.url, { room: 'b:big', event: 'n', data: { i, payload } })).status).to.equal(200);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  it(`a history page holds about ${HISTORY_PAGE_MAX_BYTES} bytes of data at most; paging reaches the end`, async () => {
    const reader = await open('reader');
    const first = assertOk(await request(reader, 'room:history', { room: 'b:big', limit: 1000 }));
    expect(first.messages.length).to.be.within(1, Math.ceil(HISTORY_PAGE_MAX_BYTES / 60_000));
    const offsets = first.messages.map((m) => m.offset);
    let since = { epoch: first.epoch, offset: offsets[offsets.length - 1] as number };
    for (;;) {
      const page = assertOk(await request(reader, 'room:history', { room: 'b:big', since, limit: 1000 }));
      if (page.messages.length === 0) break;
      offsets.push(...page.messages.map((m) => m.offset));
      since = { epoch: page.epoch, offset: page.messages[page.messages.length - 1]?.offset as number };
    }
    expect(offsets).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it("a join's missed[] is cut the same way", async () => {
    const reader = await open('rejoiner');
    const first = assertOk(await request(reader, 'room:history', { room: 'b:big', limit: 1 }));
    const join = assertOk(await request(reader, 'room:join', { room: 'b:big', since: { epoch: first.epoch, offset: 0 } }));
    expect(join.recovered).to.equal(true);
    expect(join.offset).to.equal(40);
    expect(join.missed.length).to.be.within(1, 39);
    expect(join.missed[0]?.offset).to.equal(1);
  });

  it('a connection that requests pages and never reads them is closed as a slow consumer, and the node holds no backlog', async () => {
    const stuck = await open('stuck');
    const engine = stuck.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
    engine.transport.ws._socket.pause();
    const serverSocket = gw.gateway.io.of('/').sockets.get(stuck.id as string);
    const closed = new Promise<void>((resolve) => serverSocket?.once('disconnect', () => resolve()));
    for (let i = 0; i < 200; i += 1) (stuck.emit as (event: string, payload: unknown, ack: () => void) => void)('room:history', { room: 'b:big', limit: 1000 }, () => undefined);
    await closed;
    const bystander = await open('bystander');
    assertOk(await request(bystander, 'room:join', { room: 'b:after' }));
    const inbox = collectMessages(bystander);
    expect((await httpPublish(gw.url, { room: 'b:after', event: 'n', data: 1 })).status).to.equal(200);
    await waitFor(() => inbox.length === 1);
  });

  it('a leave sent right after a join takes effect after it: the connection ends up out of the room', async () => {
    const flip = await open('flip');
    const [joined, left] = await Promise.all([rawRequest(flip, 'room:join', { room: 'b:flip' }), rawRequest(flip, 'room:leave', { room: 'b:flip' })]);
    expect(joined.ok && left.ok).to.equal(true);
    const watcher = await open('watcher');
    assertOk(await request(watcher, 'room:join', { room: 'b:flip' }));
    const members = assertOk(await request(watcher, 'presence:list', { room: 'b:flip' }));
    expect(members.members.map((m) => m.userId)).to.deep.equal(['watcher']);
    const flipInbox = collectMessages(flip);
    const watcherInbox = collectMessages(watcher);
    expect((await httpPublish(gw.url, { room: 'b:flip', event: 'n', data: 1 })).status).to.equal(200);
    await waitFor(() => watcherInbox.length === 1);
    assertOk(await request(flip, 'presence:list', { room: 'b:after' }));
    expect(flipInbox).to.deep.equal([]);
  });
});

describe('rejoins are never refused by the limits a reconnect trips', function () {
  this.timeout(60_000);
  let redis: RedisProcess;
  let admin: TestRedisClient;
  const gateways: TestGateway[] = [];
  const sockets: TestSocket[] = [];
  before(async () => {
    redis = await startRedis();
    admin = await connectTestRedis(redis.url);
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const gateway of gateways.splice(0)) await gateway.close();
    await admin.flushAll();
  });
  after(async () => {
    await admin.close();
    await redis.stop();
  });
  const start = async (env: Record<string, string> = {}): Promise<TestGateway> => {
    // Only the client's own joins here: the auto-joined user room would take a slot (server-subscriptions.test.ts counts it).
    const gateway = await startGateway({ REDIS_URL: redis.url, AUTO_JOIN_USER_ROOM: 'false', ...env });
    gateways.push(gateway);
    return gateway;
  };
  const open = async (gateway: TestGateway, sub: string): Promise<TestSocket> => {
    const socket = await connect(gateway.url, await signToken(gateway.secret, { sub, rooms: ['rj:*'] }));
    sockets.push(socket);
    return socket;
  };
  /** One publication in each room; returns each room's epoch. */
  const publishInto = async (gateway: TestGateway, rooms: string[]): Promise<Map<string, string>> => {
    const epochs = new Map<string, string>();
    for (let start = 0; start < rooms.length; start += 100) {
      const response = await httpPublish(gateway.url, { rooms: rooms.slice(start, start + 100), event: 'n', data: 1 });
      for (const result of response.body.results as Array<{ room: string; epoch: string }>) epochs.set(result.room, result.epoch);
    }
    return epochs;
  };

  it('a connection rejoining MAX_ROOMS_PER_SOCKET rooms at once, each with since, gets every one recovered (default limits)', async () => {
    const gateway = await start();
    const rooms = Array.from({ length: 128 }, (_, index) => `rj:room${index}`);
    const epochs = await publishInto(gateway, rooms);
    const socket = await open(gateway, 'reconnecting');
    // What the SDK sends on reconnect: every room, with its position, in the same tick.
    const acks = await Promise.all(rooms.map((room) => request(socket, 'room:join', { room, since: { epoch: epochs.get(room) as string, offset: 0 } })));
    const refused = acks.flatMap((ack, index) => (ack.ok ? [] : [`${rooms[index]}: ${ack.error.code}`]));
    expect(refused).to.deep.equal([]);
    for (const ack of acks) expect(assertOk(ack)).to.deep.include({ recovered: true, offset: 1 });
  });

  it('past MAX_ROOMS_PER_SOCKET rejoins, a rejoin takes from the rate-limit bucket like any request', async () => {
    const gateway = await start({ MAX_ROOMS_PER_SOCKET: '4', RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_S: '1' });
    const rooms = ['rj:a', 'rj:b', 'rj:c', 'rj:d'];
    const epochs = await publishInto(gateway, rooms);
    const socket = await open(gateway, 'flooder');
    const rejoin = (room: string) => request(socket, 'room:join', { room, since: { epoch: epochs.get(room) as string, offset: 1 } });
    for (const ack of await Promise.all(rooms.map(rejoin))) assertOk(ack);
    const more = await Promise.all(['rj:a', 'rj:b', 'rj:c'].map(rejoin));
    expect(more.map((ack) => (ack.ok ? 'ok' : ack.error.code))).to.deep.equal(['ok', 'ok', 'RATE_LIMITED']);
  });

  it('reads beyond the two in flight wait their turn, up to MAX_ROOMS_PER_SOCKET; one more is refused RATE_LIMITED', async () => {
    const gateway = await start({ MAX_ROOMS_PER_SOCKET: '3' });
    const epochs = await publishInto(gateway, ['rj:slow']);
    const socket = await open(gateway, 'reader');
    // Redis holds every write (the read script refreshes the TTL) for a while: the reads pile up.
    await admin.sendCommand(['CLIENT', 'PAUSE', '800', 'WRITE']);
    const reads = await Promise.all(
      Array.from({ length: 6 }, () => request(socket, 'room:history', { room: 'rj:slow', since: { epoch: epochs.get('rj:slow') as string, offset: 0 } })),
    );
    expect(reads.map((ack) => (ack.ok ? 'ok' : ack.error.code)).sort()).to.deep.equal(['RATE_LIMITED', 'ok', 'ok', 'ok', 'ok', 'ok']);
    for (const ack of reads) if (ack.ok) expect(ack.messages.map((m) => m.offset)).to.deep.equal([1]);
  });
});

