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
import { signToken } from '../support/tokens.js';

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
