/**
 * room:signal on the wire: relayed to the room's other members as `signal`,
 * never stored (no offset, not in history, not in a rejoin's missed[]), and under
 * the same rules as room:publish: a joined room, clientPublish, MAX_PAYLOAD_BYTES,
 * the connection's rate limit. Runs under ROOMCAST_TEST_PARSER=msgpack too.
 */
import { expect } from 'chai';
import type { Signal } from '../../shared/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, nextEvent, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('room:signal', () => {
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  const open = async (sub: string, namespace = '/'): Promise<TestSocket> => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub, rooms: ['s:*'] }), { namespace });
    sockets.push(socket);
    return socket;
  };
  before(async () => {
    gw = await startGateway({ MAX_PAYLOAD_BYTES: '1024', RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '20' });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  it('reaches the other members with from and ts, not the sender, and leaves no offset or history', async () => {
    const [alice, bob, carol] = [await open('alice'), await open('bob'), await open('carol')];
    const join = assertOk(await request(alice, 'room:join', { room: 's:1' }));
    assertOk(await request(bob, 'room:join', { room: 's:1' }));
    const atAlice: Signal[] = [];
    const atCarol: Signal[] = [];
    alice.on('signal', (signal) => atAlice.push(signal));
    carol.on('signal', (signal) => atCarol.push(signal)); // not a member
    const received = nextEvent(bob, 'signal');
    const ack = assertOk(await request(alice, 'room:signal', { room: 's:1', event: 'cursor', data: { x: 1, y: 2 } }));
    expect(ack).to.deep.equal({ ok: true, room: 's:1' });
    const signal = await received;
    expect(signal).to.deep.include({ room: 's:1', event: 'cursor', data: { x: 1, y: 2 }, from: 'alice' });
    expect(signal.ts).to.be.a('number');
    expect(signal).to.not.have.property('offset');

    const history = assertOk(await request(bob, 'room:history', { room: 's:1' }));
    expect(history.offset).to.equal(join.offset);
    expect(history.messages).to.deep.equal([]);
    const rejoin = assertOk(await request(bob, 'room:join', { room: 's:1', since: { epoch: join.epoch, offset: 0 } }));
    expect(rejoin.missed).to.deep.equal([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(atAlice).to.deep.equal([]);
    expect(atCarol).to.deep.equal([]);
  });

  it('is refused like a publish: room not joined, server-only namespace, oversized data, bad names', async () => {
    const alice = await open('alice');
    const live = await open('alice', '/live');
    assertOk(await request(alice, 'room:join', { room: 's:2' }));
    assertOk(await request(live, 'room:join', { room: 's:2' }));
    const cases: Array<[TestSocket, Record<string, unknown>, string]> = [
      [alice, { room: 's:other', event: 'typing', data: true }, 'PUBLISH_FORBIDDEN'],
      [live, { room: 's:2', event: 'typing', data: true }, 'PUBLISH_FORBIDDEN'],
      [alice, { room: 's:2', event: 'typing', data: 'x'.repeat(1100) }, 'PAYLOAD_TOO_LARGE'],
      [alice, { room: 's:2', event: 'with space', data: true }, 'INVALID_PAYLOAD'],
      [alice, { room: 's:2', event: 'typing' }, 'INVALID_PAYLOAD'],
      [alice, { room: 's:2', event: 'typing', data: 1, idempotencyKey: 'k' }, 'INVALID_PAYLOAD'],
    ];
    for (const [socket, payload, code] of cases) {
      const ack = await request(socket, 'room:signal', payload as never);
      if (ack.ok) throw new Error(`accepted ${JSON.stringify(payload)}`);
      expect(ack.error.code, JSON.stringify(payload).slice(0, 80)).to.equal(code);
    }
  });

  it('counts against the connection rate limit (RATE_LIMITED beyond the burst)', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    assertOk(await request(alice, 'room:join', { room: 's:3' }));
    assertOk(await request(bob, 'room:join', { room: 's:3' }));
    let relayed = 0;
    bob.on('signal', () => (relayed += 1));
    const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => request(alice, 'room:signal', { room: 's:3', event: 'cursor', data: { i } })));
    const refused = acks.filter((ack) => !ack.ok);
    expect(refused.length).to.be.greaterThan(0);
    for (const ack of refused) if (!ack.ok) expect(ack.error.code).to.equal('RATE_LIMITED');
    const accepted = acks.length - refused.length;
    expect(accepted).to.be.at.most(21);
    // Volatile: a burst may skip a recipient whose transport is still writing, never more than was accepted.
    await waitFor(() => relayed > 0, 5000, 'a relayed signal');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(relayed).to.be.within(1, accepted);
  });
});
