/** Replay: a client that was away gets exactly the offsets it missed, once and in order, or an explicit recovered: false. */
import { expect } from 'chai';
import type { Message } from '../../shared/index.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

async function publishMany(gw: TestGateway, room: string, count: number, from = 0): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const response = await httpPublish(gw.url, { room, event: 'n', data: { n: from + i } });
    expect(response.status).to.equal(200);
  }
}

describe('replay after a disconnect', () => {
  let gw: TestGateway;
  let token: string;
  const sockets: TestSocket[] = [];
  const open = async (): Promise<TestSocket> => {
    const socket = await connect(gw.url, token);
    sockets.push(socket);
    return socket;
  };
  before(async () => {
    gw = await startGateway({ HISTORY_SIZE: '20' });
    token = await signToken(gw.secret, { sub: 'reader', rooms: ['feed:*'] });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  it('delivers exactly the missed offsets, once, in order, then live ones', async () => {
    const first = await open();
    const join = assertOk(await request(first, 'room:join', { room: 'feed:1' }));
    const seen = collectMessages(first);
    await publishMany(gw, 'feed:1', 3);
    await waitFor(() => seen.length === 3);
    const last = seen[seen.length - 1] as Message;
    // The client's transport dies (network cut), not a polite leave.
    first.io.engine.close();
    await waitFor(() => !first.connected);
    await publishMany(gw, 'feed:1', 5, 3);

    const second = await open();
    const live = collectMessages(second);
    const rejoin = assertOk(await request(second, 'room:join', { room: 'feed:1', since: { epoch: last.epoch, offset: last.offset } }));
    expect(rejoin).to.include({ epoch: join.epoch, offset: 8, recovered: true });
    expect(rejoin.missed.map((m) => m.offset)).to.deep.equal([4, 5, 6, 7, 8]);
    expect(rejoin.missed.map((m) => (m.data as { n: number }).n)).to.deep.equal([3, 4, 5, 6, 7]);
    await publishMany(gw, 'feed:1', 1, 8);
    await waitFor(() => live.length === 1);
    expect(live.map((m) => m.offset)).to.deep.equal([9]);
  });

  it('a client that missed nothing gets an empty missed list and recovered: true', async () => {
    const socket = await open();
    const join = assertOk(await request(socket, 'room:join', { room: 'feed:2' }));
    await publishMany(gw, 'feed:2', 2);
    const again = assertOk(await request(socket, 'room:join', { room: 'feed:2', since: { epoch: join.epoch, offset: 2 } }));
    expect(again).to.include({ recovered: true, offset: 2 });
    expect(again.missed).to.deep.equal([]);
  });

  it('reports recovered: false when history no longer holds the gap (HISTORY_SIZE exceeded)', async () => {
    const socket = await open();
    const join = assertOk(await request(socket, 'room:join', { room: 'feed:3' }));
    await publishMany(gw, 'feed:3', 25);
    const rejoin = assertOk(await request(socket, 'room:join', { room: 'feed:3', since: { epoch: join.epoch, offset: 2 } }));
    expect(rejoin).to.include({ recovered: false, offset: 25 });
    // HISTORY_SIZE is 20: offsets 3..5 are gone, 6..25 come with the ack after the gap.
    expect(rejoin.missed.map((m) => m.offset)).to.deep.equal(Array.from({ length: 20 }, (_, index) => index + 6));
    // The part still in history is readable, and says where it starts.
    const page = assertOk(await request(socket, 'room:history', { room: 'feed:3', since: { epoch: join.epoch, offset: 5 }, limit: 10 }));
    expect(page.recovered).to.equal(true);
    expect(page.messages.map((m) => m.offset)).to.deep.equal([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const lost = assertOk(await request(socket, 'room:history', { room: 'feed:3', since: { epoch: join.epoch, offset: 4 } }));
    expect(lost.recovered).to.equal(false);
    expect(lost.messages[0]?.offset, 'what history still holds follows the gap').to.equal(6);
  });

  it('reports recovered: false for a position of another epoch (history lost)', async () => {
    const socket = await open();
    await publishMany(gw, 'feed:4', 2);
    const rejoin = assertOk(await request(socket, 'room:join', { room: 'feed:4', since: { epoch: 'gone-epoch', offset: 1 } }));
    expect(rejoin).to.include({ recovered: false, offset: 2 });
  });

  it('reports recovered: false for an offset ahead of the room', async () => {
    const socket = await open();
    const join = assertOk(await request(socket, 'room:join', { room: 'feed:5' }));
    const rejoin = assertOk(await request(socket, 'room:join', { room: 'feed:5', since: { epoch: join.epoch, offset: 99 } }));
    expect(rejoin.recovered).to.equal(false);
  });

  it('room:history pages through a room in order', async () => {
    const socket = await open();
    const join = assertOk(await request(socket, 'room:join', { room: 'feed:6' }));
    await publishMany(gw, 'feed:6', 7);
    const offsets: number[] = [];
    let since = { epoch: join.epoch, offset: 0 };
    for (;;) {
      const page = assertOk(await request(socket, 'room:history', { room: 'feed:6', since, limit: 3 }));
      if (page.messages.length === 0) break;
      offsets.push(...page.messages.map((m) => m.offset));
      since = { epoch: page.epoch, offset: page.messages[page.messages.length - 1]?.offset ?? 0 };
    }
    expect(offsets).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
  });

  it('room:history refuses rooms the token does not allow', async () => {
    const socket = await open();
    const ack = await request(socket, 'room:history', { room: 'secret:1' });
    if (ack.ok) throw new Error('read a forbidden room');
    expect(ack.error.code).to.equal('FORBIDDEN_ROOM');
  });
});

describe('history TTL', () => {
  it('drops entries older than HISTORY_TTL_S, so a late rejoin is recovered: false', async () => {
    const gw = await startGateway({ HISTORY_TTL_S: '1' });
    const socket = await connect(gw.url, await signToken(gw.secret, { sub: 'late', rooms: ['ttl:1'] }));
    try {
      const join = assertOk(await request(socket, 'room:join', { room: 'ttl:1' }));
      await publishMany(gw, 'ttl:1', 2);
      const fresh = assertOk(await request(socket, 'room:join', { room: 'ttl:1', since: { epoch: join.epoch, offset: 0 } }));
      expect(fresh.missed).to.have.length(2);
      await new Promise((resolve) => setTimeout(resolve, 1300));
      const late = assertOk(await request(socket, 'room:join', { room: 'ttl:1', since: { epoch: join.epoch, offset: 0 } }));
      expect(late).to.include({ recovered: false, offset: 2 });
    } finally {
      socket.close();
      await gw.close();
    }
  });
});
