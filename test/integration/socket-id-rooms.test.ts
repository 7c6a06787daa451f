/**
 * A connection's socket id is not a room (issue 12, item 8). Socket.IO puts each
 * socket in a room named by its id, so `socket.rooms` held it from the start:
 * publish, history and signal on one's own id passed the membership check with no
 * grant, and where public rooms are open (`*`) another user could join someone
 * else's id (which presence:list hands out as `connectionId`) and publish into it.
 * Names of that shape are refused by the shared room-name rules everywhere (socket
 * events, the SDK, SSE, the HTTP API), and membership never counts Socket.IO's own room.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RoomcastClient } from '../../client/index.js';
import { startGateway, TEST_SDK_PARSER, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, rawRequest, request, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const SOCKET_ID_SHAPE = /^[A-Za-z0-9_-]{20}$/;

function expectInvalidRoom(ack: { ok: boolean; error?: { code: string; message: string } }, what: string): void {
  if (ack.ok) throw new Error(`${what} succeeded`);
  expect(ack.error?.code, what).to.equal('INVALID_PAYLOAD');
  expect(ack.error?.message, what).to.match(/socket id/);
}

describe('socket ids are not rooms', () => {
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-ns-'));
    const file = join(dir, 'namespaces.json');
    // `/open`: any room is public, the setting under which someone else's id could be joined.
    writeFileSync(file, JSON.stringify({ namespaces: [{ name: '/' }, { name: '/open', publicRooms: ['*'] }] }));
    gw = await startGateway({ NAMESPACES_FILE: file });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  async function user(sub: string, namespace = '/'): Promise<TestSocket> {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub }), { namespace });
    sockets.push(socket);
    return socket;
  }

  it('socket ids have the refused shape', async () => {
    const socket = await user('mallory');
    expect(socket.id).to.match(SOCKET_ID_SHAPE);
  });

  it('refuses room:publish on the connection own id (no grant)', async () => {
    const socket = await user('mallory');
    expectInvalidRoom(await request(socket, 'room:publish', { room: socket.id as string, event: 'x', data: 1 }), 'publish on own id');
  });

  it('refuses room:history on the connection own id', async () => {
    const socket = await user('mallory');
    expectInvalidRoom(await request(socket, 'room:history', { room: socket.id as string }), 'history of own id');
  });

  it('refuses room:signal on the connection own id', async () => {
    const socket = await user('mallory');
    expectInvalidRoom(await request(socket, 'room:signal', { room: socket.id as string, event: 'typing', data: true }), 'signal on own id');
  });

  it('refuses presence:list and room:leave on the connection own id', async () => {
    const socket = await user('mallory');
    expectInvalidRoom(await request(socket, 'presence:list', { room: socket.id as string }), 'presence of own id');
    expectInvalidRoom(await request(socket, 'room:leave', { room: socket.id as string }), 'leave of own id');
    // Still a working connection.
    assertOk(await request(socket, 'room:join', { room: 'user:mallory' }));
  });

  it('with public rooms open, refuses joining and publishing into another user connection id', async () => {
    const alice = await user('alice', '/open');
    const mallory = await user('mallory', '/open');
    assertOk(await request(alice, 'room:join', { room: 'lobby' }));
    assertOk(await request(mallory, 'room:join', { room: 'lobby' }));
    // presence hands out connection ids: that is how an attacker learns them.
    const members = assertOk(await request(mallory, 'presence:list', { room: 'lobby' })).members;
    const victim = members.find((member) => member.userId === 'alice')?.connectionId as string;
    expect(victim).to.equal(alice.id);
    let intruded = 0;
    alice.on('message', (message) => {
      if (message.room === victim) intruded += 1;
    });
    expectInvalidRoom(await request(mallory, 'room:join', { room: victim }), "join of alice's id");
    expectInvalidRoom(await request(mallory, 'room:publish', { room: victim, event: 'x', data: 'hi' }), "publish into alice's id");
    expectInvalidRoom(await request(mallory, 'room:history', { room: victim }), "history of alice's id");
    // A publication in a real room still reaches alice, so the silence above is not a dead socket.
    const seen = new Promise((resolve) => alice.once('message', resolve));
    assertOk(await request(mallory, 'room:publish', { room: 'lobby', event: 'x', data: 'hello' }));
    await seen;
    expect(intruded).to.equal(0);
  });

  it('refuses a socket-id-shaped room on the HTTP publish API and on SSE', async () => {
    const victim = await user('alice');
    const publish = await fetch(`${gw.url}/api/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.apiKey}` },
      body: JSON.stringify({ room: victim.id, event: 'x', data: 1 }),
    });
    expect(publish.status).to.equal(400);
    expect(((await publish.json()) as { error: { code: string } }).error.code).to.equal('INVALID_PAYLOAD');
    const token = await signToken(gw.secret, { sub: 'mallory', rooms: ['*'] });
    const sse = await fetch(`${gw.url}/sse?room=${victim.id as string}&token=${token}`);
    expect(sse.status).to.equal(400);
    expect(((await sse.json()) as { error: { code: string } }).error.code).to.equal('INVALID_PAYLOAD');
  });

  it('the SDK refuses such a name before sending anything', async () => {
    const client = new RoomcastClient(gw.url, { token: await signToken(gw.secret, { sub: 'mallory' }), transports: ['websocket'], parser: TEST_SDK_PARSER, autoConnect: false });
    try {
      const error = await client.join('abcdefghij_-ABCDEF12').catch((reason: unknown) => reason);
      expect(error).to.include({ code: 'INVALID_PAYLOAD' });
    } finally {
      client.close();
    }
  });

  it('names one character shorter or longer, or with a colon, stay valid', async () => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub: 'mallory', rooms: ['*'] }));
    sockets.push(socket);
    for (const room of ['abcdefghij_-ABCDEF1', 'abcdefghij_-ABCDEF123', 'abcdefghij:-ABCDEF12']) {
      assertOk(await request(socket, 'room:join', { room }));
    }
    const raw = await rawRequest(socket, 'room:join', { room: 'ABCDEFGHIJKLMNOPQRST' });
    expect(raw.ok).to.equal(false);
  });
});
