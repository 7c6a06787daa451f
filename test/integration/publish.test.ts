/** Publishing over HTTP and from clients: who receives what, namespace rules, the API's errors, batches and idempotency. */
import { expect } from 'chai';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('publishing', () => {
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  const open = async (sub: string, rooms: string[], namespace = '/'): Promise<TestSocket> => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub, rooms }), { namespace });
    sockets.push(socket);
    return socket;
  };
  before(async () => {
    gw = await startGateway({ MAX_PAYLOAD_BYTES: '1024' });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  it('an HTTP publish reaches exactly the room members, once, and no one else', async () => {
    const a1 = await open('a1', ['room:a']);
    const a2 = await open('a2', ['room:a', 'room:b']);
    const b1 = await open('b1', ['room:b']);
    const idle = await open('idle', ['room:a']);
    assertOk(await request(a1, 'room:join', { room: 'room:a' }));
    assertOk(await request(a2, 'room:join', { room: 'room:a' }));
    assertOk(await request(a2, 'room:join', { room: 'room:b' }));
    assertOk(await request(b1, 'room:join', { room: 'room:b' }));
    const [m1, m2, m3, m4] = [a1, a2, b1, idle].map(collectMessages) as [ReturnType<typeof collectMessages>, ReturnType<typeof collectMessages>, ReturnType<typeof collectMessages>, ReturnType<typeof collectMessages>];
    const response = await httpPublish(gw.url, { room: 'room:a', event: 'news', data: { headline: 'hi' } });
    expect(response.status).to.equal(200);
    expect(response.body).to.deep.include({ ok: true });
    const [result] = response.body.results as Array<{ room: string; offset: number; epoch: string }>;
    expect(result).to.include({ room: 'room:a', offset: 1 });
    await waitFor(() => m1.length === 1 && m2.length === 1, 3000, 'deliveries');
    // A second publish into room:b acts as a barrier: once it arrives, any stray room:a delivery would have too.
    assertOk(await request(b1, 'room:publish', { room: 'room:b', event: 'ping', data: null }));
    await waitFor(() => m3.length === 1 && m2.length === 2, 3000, 'barrier');
    expect(m1).to.have.length(1);
    expect(m1[0]).to.deep.include({ room: 'room:a', event: 'news', data: { headline: 'hi' }, offset: 1, epoch: result?.epoch });
    expect(m1[0]?.from).to.equal(undefined);
    expect(m2.filter((m) => m.room === 'room:a')).to.have.length(1);
    expect(m3.every((m) => m.room === 'room:b')).to.equal(true);
    expect(m4).to.deep.equal([]);
  });

  it('a client publish reaches every member, the publisher included, with from = its user', async () => {
    const alice = await open('alice', ['chat:1']);
    const bob = await open('bob', ['chat:1']);
    assertOk(await request(alice, 'room:join', { room: 'chat:1' }));
    assertOk(await request(bob, 'room:join', { room: 'chat:1' }));
    const [ma, mb] = [collectMessages(alice), collectMessages(bob)];
    const ack = assertOk(await request(alice, 'room:publish', { room: 'chat:1', event: 'chat', data: { text: 'hello' } }));
    expect(ack).to.include({ room: 'chat:1', offset: 1 });
    await waitFor(() => ma.length === 1 && mb.length === 1);
    expect(mb[0]).to.deep.include({ event: 'chat', data: { text: 'hello' }, offset: 1, from: 'alice' });
  });

  it('a client may publish only into rooms it has joined', async () => {
    const alice = await open('alice', ['chat:2']);
    const ack = await request(alice, 'room:publish', { room: 'chat:2', event: 'chat', data: 1 });
    if (ack.ok) throw new Error('published without joining');
    expect(ack.error.code).to.equal('PUBLISH_FORBIDDEN');
  });

  it('/live: clients may not publish, the HTTP API may, and the same room name in / stays separate', async () => {
    const viewer = await open('viewer', ['match:7'], '/live');
    const chatter = await open('chatter', ['match:7'], '/');
    assertOk(await request(viewer, 'room:join', { room: 'match:7' }));
    assertOk(await request(chatter, 'room:join', { room: 'match:7' }));
    const [live, chat] = [collectMessages(viewer), collectMessages(chatter)];
    const refused = await request(viewer, 'room:publish', { room: 'match:7', event: 'goal', data: 1 });
    if (refused.ok) throw new Error('a client published into /live');
    expect(refused.error.code).to.equal('PUBLISH_FORBIDDEN');
    const response = await httpPublish(gw.url, { namespace: '/live', room: 'match:7', event: 'goal', data: { minute: 12 } });
    expect(response.status).to.equal(200);
    await waitFor(() => live.length === 1);
    assertOk(await request(chatter, 'room:publish', { room: 'match:7', event: 'chat', data: 'barrier' }));
    await waitFor(() => chat.length === 1);
    expect(chat[0]?.event).to.equal('chat');
    expect(live[0]).to.deep.include({ event: 'goal', offset: 1 });
  });

  it('a batch publish stores and delivers into each room with its own offsets', async () => {
    const member = await open('m', ['batch:*']);
    for (const room of ['batch:1', 'batch:2', 'batch:3']) assertOk(await request(member, 'room:join', { room }));
    const messages = collectMessages(member);
    const response = await httpPublish(gw.url, { rooms: ['batch:1', 'batch:2', 'batch:3'], event: 'tick', data: 42 });
    expect(response.status).to.equal(200);
    expect((response.body.results as Array<{ room: string }>).map((r) => r.room)).to.deep.equal(['batch:1', 'batch:2', 'batch:3']);
    await waitFor(() => messages.length === 3);
    expect(messages.map((m) => [m.room, m.offset])).to.have.deep.members([
      ['batch:1', 1],
      ['batch:2', 1],
      ['batch:3', 1],
    ]);
  });

  it('a retried publish with the same idempotencyKey returns the original offset and is stored once', async () => {
    const member = await open('m', ['idem:1']);
    assertOk(await request(member, 'room:join', { room: 'idem:1' }));
    const body = { room: 'idem:1', event: 'order', data: { id: 9 }, idempotencyKey: 'order-9' };
    const first = await httpPublish(gw.url, body);
    const retry = await httpPublish(gw.url, body);
    expect(retry.body.results).to.deep.equal(first.body.results);
    await httpPublish(gw.url, { ...body, idempotencyKey: 'order-10' });
    const history = assertOk(await request(member, 'room:history', { room: 'idem:1', since: { epoch: (first.body.results as Array<{ epoch: string }>)[0]?.epoch ?? '', offset: 0 } }));
    expect(history.messages.map((m) => m.offset)).to.deep.equal([1, 2]);
    // The same key from a client in the same room is the same publication.
    const again = assertOk(await request(member, 'room:publish', { room: 'idem:1', event: 'order', data: { id: 9 }, idempotencyKey: 'order-9' }));
    expect(again.offset).to.equal(1);
  });

  describe('HTTP API errors', () => {
    it('401 without a key, 403 with a wrong one', async () => {
      const missing = await httpPublish(gw.url, { room: 'r', event: 'e', data: 1 }, {});
      expect(missing.status).to.equal(401);
      expect(missing.body.error).to.deep.include({ code: 'UNAUTHENTICATED' });
      const wrong = await httpPublish(gw.url, { room: 'r', event: 'e', data: 1 }, { authorization: 'Bearer wrong-key-0123456789abcd' });
      expect(wrong.status).to.equal(403);
      expect(wrong.body.error).to.deep.include({ code: 'PUBLISH_FORBIDDEN' });
    });

    it('400 with the zod issues for an invalid body', async () => {
      const cases: unknown[] = [
        { event: 'e', data: 1 },
        { room: 'r', rooms: ['r'], event: 'e', data: 1 },
        { room: 'bad room', event: 'e', data: 1 },
        { room: 'r', data: 1 },
        { room: 'r', event: 'e', data: 1, extra: true },
        { rooms: [], event: 'e', data: 1 },
        { room: 'r', event: 'e', data: 1, namespace: '/nope' },
        '{not json',
      ];
      for (const body of cases) {
        const response = await httpPublish(gw.url, body);
        expect(response.status, JSON.stringify(body)).to.equal(400);
        expect(response.body.error).to.deep.include({ code: 'INVALID_PAYLOAD', retryable: false });
      }
      const withIssues = await httpPublish(gw.url, { room: 'bad room', event: 'e', data: 1 });
      expect(withIssues.body.issues).to.be.an('array').with.length.greaterThan(0);
    });

    it('413 for data over MAX_PAYLOAD_BYTES, and for a body over the parser limit; nothing stored', async () => {
      const member = await open('m', ['big:1']);
      const joined = assertOk(await request(member, 'room:join', { room: 'big:1' }));
      const tooBig = await httpPublish(gw.url, { room: 'big:1', event: 'e', data: 'x'.repeat(1100) });
      expect(tooBig.status).to.equal(413);
      expect(tooBig.body.error).to.deep.include({ code: 'PAYLOAD_TOO_LARGE' });
      const hugeBody = await httpPublish(gw.url, { room: 'big:1', event: 'e', data: 'x'.repeat(200 * 1024) });
      expect(hugeBody.status).to.equal(413);
      const justFits = await httpPublish(gw.url, { room: 'big:1', event: 'e', data: 'x'.repeat(1000) });
      expect(justFits.status).to.equal(200);
      const history = assertOk(await request(member, 'room:history', { room: 'big:1', since: { epoch: joined.epoch, offset: 0 } }));
      expect(history.messages).to.have.length(1);
    });

    it('the API is off (403) when no API_KEYS are configured', async () => {
      const closed = await startGateway({ API_KEYS: '' });
      try {
        const response = await httpPublish(closed.url, { room: 'r', event: 'e', data: 1 });
        expect(response.status).to.equal(403);
        expect((response.body.error as { message: string }).message).to.match(/API_KEYS/);
      } finally {
        await closed.close();
      }
    });
  });
});
