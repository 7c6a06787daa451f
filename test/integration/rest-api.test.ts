/**
 * The backend REST API on one gateway (memory stores): every /api/v1 route with
 * good and bad input, the API key, and what a user command does to a user's
 * sockets and SSE streams. Across nodes (Redis, Redis Cluster):
 * rest-api-cluster.test.ts; the OpenAPI document: rest-api-openapi.test.ts.
 */
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { api, allRoomPages, eventuallyMembers } from '../support/rest-api.js';
import { openAccepted, type SseStream } from '../support/sse.js';
import { assertOk, collectMessages, connect, nextEvent, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const token = (sub: string, rooms: string[] = ['*']): Promise<string> => signToken(TEST_JWT_SECRET, { sub, rooms });

describe('REST API (one node)', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  const sockets: TestSocket[] = [];
  const streams: SseStream[] = [];
  const connectAs = async (user: string, rooms: string[] = []): Promise<TestSocket> => {
    const socket = await connect(gw.url, await token(user));
    sockets.push(socket);
    for (const room of rooms) assertOk(await request(socket, 'room:join', { room }));
    return socket;
  };
  const sseAs = async (user: string, room: string): Promise<SseStream> => {
    const stream = await openAccepted(`${gw.url}/sse?${new URLSearchParams({ room, token: await token(user) }).toString()}`);
    streams.push(stream);
    await stream.next((event) => event.event === 'position');
    return stream;
  };

  before(async () => {
    gw = await startGateway();
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const stream of streams.splice(0)) stream.close();
  });
  after(() => gw.close());

  describe('the API key and unknown routes', () => {
    const protectedRoutes: Array<[string, 'GET' | 'POST', unknown?]> = [
      ['/api/v1/publish', 'POST', { room: 'r', event: 'e', data: 1 }],
      ['/api/v1/batch', 'POST', { publications: [{ room: 'r', event: 'e', data: 1 }] }],
      ['/api/v1/rooms', 'GET'],
      ['/api/v1/rooms/r/history', 'GET'],
      ['/api/v1/rooms/r/presence', 'GET'],
      ['/api/v1/users/u/disconnect', 'POST', {}],
      ['/api/v1/users/u/rooms/r/leave', 'POST'],
    ];

    it('answers 401 UNAUTHENTICATED without a key and 403 with a wrong one, on every route but openapi.json', async () => {
      for (const [path, method, body] of protectedRoutes) {
        const none = await api(gw.url, path, { method, body, auth: null });
        expect(none.status, `${method} ${path}`).to.equal(401);
        expect(none.body.error.code).to.equal('UNAUTHENTICATED');
        const wrong = await api(gw.url, path, { method, body, auth: 'Bearer not-the-api-key-0123456789' });
        expect(wrong.status, `${method} ${path}`).to.equal(403);
        expect(wrong.body).to.deep.include({ ok: false });
      }
      const document = await api(gw.url, '/api/v1/openapi.json', { auth: null });
      expect(document.status).to.equal(200);
      expect(document.body.openapi).to.equal('3.1.0');
    });

    it('answers an unknown /api route 404 NOT_FOUND', async () => {
      for (const [path, method] of [
        ['/api/v1/nothing', 'GET'],
        ['/api/v1/rooms/r/nothing', 'GET'],
        ['/api/v1/users/u/kick', 'POST'],
        ['/api/v1/batch', 'GET'],
      ] as const) {
        const answer = await api(gw.url, path, { method });
        expect(answer.status, `${method} ${path}`).to.equal(404);
        expect(answer.body.error).to.deep.include({ code: 'NOT_FOUND', retryable: false });
      }
    });
  });

  describe('POST /api/v1/batch', () => {
    it('stores each publication in its room, in the order given, results[i] answering publications[i]', async () => {
      const listener = await connectAs('batch-reader', ['batch:a']);
      const received = collectMessages(listener);
      const answer = await api(gw.url, '/api/v1/batch', {
        method: 'POST',
        body: {
          publications: [
            { room: 'batch:a', event: 'n', data: 1 },
            { room: 'batch:b', event: 'n', data: 'x' },
            { room: 'batch:a', event: 'n', data: 2, idempotencyKey: 'k-2' },
            { namespace: '/live', room: 'batch:a', event: 'n', data: 3 },
          ],
        },
      });
      expect(answer.status).to.equal(200);
      expect(answer.body.ok).to.equal(true);
      const results = answer.body.results as Array<{ room: string; offset: number; epoch: string }>;
      expect(results.map((result) => [result.room, result.offset])).to.deep.equal([
        ['batch:a', 1],
        ['batch:b', 1],
        ['batch:a', 2],
        ['batch:a', 1],
      ]);
      await waitFor(() => received.length === 2, 5000, 'the two publications of batch:a');
      expect(received.map((message) => message.data)).to.deep.equal([1, 2]);
      // The idempotency key holds within a batch too: the same publication again is not stored twice.
      const again = await api(gw.url, '/api/v1/batch', { method: 'POST', body: { publications: [{ room: 'batch:a', event: 'n', data: 2, idempotencyKey: 'k-2' }] } });
      expect(again.body.results).to.deep.equal([{ room: 'batch:a', offset: 2, epoch: results[0]?.epoch }]);
    });

    it('refuses invalid items on their own and stores the others', async () => {
      const answer = await api(gw.url, '/api/v1/batch', {
        method: 'POST',
        body: {
          publications: [
            { room: 'mixed:ok', event: 'e', data: 1 },
            { room: 'bad room', event: 'e', data: 1 },
            'not an object',
            { room: 'mixed:ok', event: 'e', data: 'x'.repeat(70_000) },
            { namespace: '/nowhere', room: 'mixed:ok', event: 'e', data: 1 },
            { room: 'mixed:ok', event: 'e', data: 1, extra: true },
            { room: 'mixed:ok', event: 'e' },
            { room: 'mixed:ok', event: 'e', data: 2 },
          ],
        },
      });
      expect(answer.status).to.equal(200);
      const results = answer.body.results as Array<{ room: string; offset?: number; error?: { code: string; message: string } }>;
      expect(results).to.have.length(8);
      expect(results[0]).to.include({ room: 'mixed:ok', offset: 1 });
      expect(results[7]).to.include({ room: 'mixed:ok', offset: 2 });
      const codes = results.slice(1, 7).map((result) => result.error?.code);
      expect(codes).to.deep.equal(['INVALID_PAYLOAD', 'INVALID_PAYLOAD', 'PAYLOAD_TOO_LARGE', 'INVALID_PAYLOAD', 'INVALID_PAYLOAD', 'INVALID_PAYLOAD']);
      expect(results[1]?.error?.message).to.match(/^publications\[1\]: room/);
      expect(results[2]).to.deep.include({ room: '' });
      expect(results[4]?.error?.message).to.contain('namespace /nowhere is not declared');
      expect(results[5]?.error?.message).to.contain('extra');
      // Only the two valid ones are in the room's history.
      const history = await api(gw.url, '/api/v1/rooms/mixed:ok/history');
      expect(history.body.messages.map((message: { data: unknown }) => message.data)).to.deep.equal([1, 2]);
    });

    it('refuses a body malformed as a whole with 400 INVALID_PAYLOAD: not an object, no array, empty, 1001 items', async () => {
      const item = { room: 'big', event: 'e', data: 1 };
      for (const [body, pattern] of [
        ['[1, 2]', /body: /],
        [{}, /publications/],
        [{ publications: {} }, /publications/],
        [{ publications: [] }, /at least one/],
        [{ publications: Array.from({ length: 1001 }, () => item) }, /at most 1000/],
        [{ publications: [item], more: 1 }, /more/],
        ['{"publications": [', /JSON/],
      ] as const) {
        const answer = await api(gw.url, '/api/v1/batch', { method: 'POST', body });
        expect(answer.status, JSON.stringify(body).slice(0, 60)).to.equal(400);
        expect(answer.body.error.code).to.equal('INVALID_PAYLOAD');
        expect(answer.body.error.message).to.match(pattern);
      }
      expect((await api(gw.url, '/api/v1/rooms/big/history')).body.offset, 'nothing stored').to.equal(0);
      // 1000 is the limit, not beyond it.
      const full = await api(gw.url, '/api/v1/batch', { method: 'POST', body: { publications: Array.from({ length: 1000 }, (_, i) => ({ ...item, data: i })) } });
      expect(full.status).to.equal(200);
      expect(full.body.results).to.have.length(1000);
      expect(full.body.results[999]).to.include({ room: 'big', offset: 1000 });
    });
  });

  describe('GET /api/v1/rooms/:room/history', () => {
    let epoch: string;
    before(async () => {
      const answer = await api(gw.url, '/api/v1/batch', {
        method: 'POST',
        body: { publications: [1, 2, 3, 4, 5].map((n) => ({ room: 'hist', event: 'n', data: n })) },
      });
      epoch = answer.body.results[0].epoch;
    });

    it('reads the oldest retained, a page after since, and tells a position of another epoch it was not recovered', async () => {
      const first = await api(gw.url, '/api/v1/rooms/hist/history?limit=2');
      expect(first.status).to.equal(200);
      expect(first.body).to.deep.include({ ok: true, room: 'hist', epoch, offset: 5, recovered: true });
      expect(first.body.messages.map((message: { offset: number }) => message.offset)).to.deep.equal([1, 2]);
      const after = await api(gw.url, `/api/v1/rooms/hist/history?since=${epoch}:2`);
      expect(after.body.messages.map((message: { data: number }) => message.data)).to.deep.equal([3, 4, 5]);
      expect(after.body.recovered).to.equal(true);
      const upToDate = await api(gw.url, `/api/v1/rooms/hist/history?since=${epoch}:5`);
      expect(upToDate.body).to.deep.include({ recovered: true, messages: [] });
      const otherEpoch = await api(gw.url, '/api/v1/rooms/hist/history?since=older:3');
      expect(otherEpoch.body.recovered).to.equal(false);
      expect(otherEpoch.body.messages.map((message: { offset: number }) => message.offset)).to.deep.equal([1, 2, 3, 4, 5]);
      const empty = await api(gw.url, '/api/v1/rooms/never-published/history');
      expect(empty.body).to.deep.include({ ok: true, offset: 0, recovered: true, messages: [] });
      const live = await api(gw.url, '/api/v1/rooms/hist/history?namespace=/live');
      expect(live.body.offset, 'namespaces apart').to.equal(0);
    });

    it('takes limit up to HISTORY_PAGE_MAX (1000) and refuses malformed input with 400', async () => {
      expect((await api(gw.url, '/api/v1/rooms/hist/history?limit=1000')).status).to.equal(200);
      for (const [query, pattern] of [
        ['limit=0', /limit/],
        ['limit=1001', /limit/],
        ['limit=abc', /limit/],
        ['limit=-1', /limit/],
        ['limit=2&limit=3', /limit/],
        ['since=nocolon', /since/],
        ['since=e:-1', /since/],
        ['since=e:1.5', /since/],
        [`since=${'e'.repeat(65)}:1`, /since/],
        ['since=e:99999999999999999', /since/],
        ['namespace=/nowhere', /namespace \/nowhere is not declared/],
        ['namespace=live', /namespace/],
        ['other=1', /other/],
      ] as const) {
        const answer = await api(gw.url, `/api/v1/rooms/hist/history?${query}`);
        expect(answer.status, query).to.equal(400);
        expect(answer.body.error.code, query).to.equal('INVALID_PAYLOAD');
        expect(answer.body.error.message, query).to.match(pattern);
      }
      for (const room of ['bad%20room', 'x'.repeat(201), 'abcdefghij0123456789']) {
        const answer = await api(gw.url, `/api/v1/rooms/${room}/history`);
        expect(answer.status, room).to.equal(400);
        expect(answer.body.error.message).to.match(/^path: room/);
      }
    });
  });

  describe('GET /api/v1/rooms', () => {
    it('lists occupied rooms with member counts (sockets and SSE streams), by prefix, page by page', async () => {
      const alice = await connectAs('alice', ['list:a', 'list:b']);
      await connectAs('alice', ['list:a']);
      await connectAs('bob', ['list:c', 'other:x']);
      await sseAs('carol', 'list:d');
      const all = await api(gw.url, '/api/v1/rooms?prefix=list:');
      expect(all.status).to.equal(200);
      expect(all.body).to.deep.equal({
        ok: true,
        rooms: [
          { room: 'list:a', members: 2 },
          { room: 'list:b', members: 1 },
          { room: 'list:c', members: 1 },
          ...(await sseCounted(gw.url, 'list:d')),
        ],
        cursor: null,
      });
      const pages = await allRoomPages(gw.url, 'prefix=list:&limit=1');
      expect(pages.flat().map((entry) => entry.room)).to.deep.equal(all.body.rooms.map((entry: { room: string }) => entry.room));
      // A room its last member left is no longer listed.
      assertOk(await request(alice, 'room:leave', { room: 'list:b' }));
      const after = await api(gw.url, '/api/v1/rooms?prefix=list:');
      expect(after.body.rooms.map((entry: { room: string }) => entry.room)).to.not.include('list:b');
      expect((await api(gw.url, '/api/v1/rooms?namespace=/live')).body).to.deep.equal({ ok: true, rooms: [], cursor: null });
    });

    it('takes limit up to 1000 and refuses malformed input with 400', async () => {
      expect((await api(gw.url, '/api/v1/rooms?limit=1000')).status).to.equal(200);
      for (const [query, pattern] of [
        ['limit=0', /limit/],
        ['limit=1001', /limit/],
        ['limit=x', /limit/],
        ['cursor=%21%21', /cursor/],
        ['cursor=YmFkIHJvb20', /cursor/],
        [`cursor=${'A'.repeat(401)}`, /cursor/],
        ['prefix=a%20b', /prefix/],
        ['namespace=/nowhere', /not declared/],
        ['page=2', /page/],
      ] as const) {
        const answer = await api(gw.url, `/api/v1/rooms?${query}`);
        expect(answer.status, query).to.equal(400);
        expect(answer.body.error.code).to.equal('INVALID_PAYLOAD');
        expect(answer.body.error.message, query).to.match(pattern);
      }
    });
  });

  describe('GET /api/v1/rooms/:room/presence', () => {
    it('counts connections and distinct users with counts=1, and keeps the member list without it', async () => {
      await connectAs('dora', ['count:r']);
      await connectAs('dora', ['count:r']);
      await connectAs('ed', ['count:r']);
      const counts = await api(gw.url, '/api/v1/rooms/count:r/presence?counts=1');
      expect(counts.status).to.equal(200);
      expect(counts.body).to.deep.equal({ ok: true, room: 'count:r', namespace: '/', members: 3, users: 2 });
      const list = await api(gw.url, '/api/v1/rooms/count:r/presence');
      expect(list.body.members.map((member: { userId: string }) => member.userId).sort()).to.deep.equal(['dora', 'dora', 'ed']);
      expect((await api(gw.url, '/api/v1/rooms/empty:r/presence?counts=1')).body).to.deep.include({ members: 0, users: 0 });
      // /live has presence off: no member list, but the counts.
      expect((await api(gw.url, '/api/v1/rooms/count:r/presence?namespace=/live')).status).to.equal(400);
      expect((await api(gw.url, '/api/v1/rooms/count:r/presence?namespace=/live&counts=1')).body).to.deep.include({ members: 0 });
      for (const path of ['count:r/presence?counts=yes', 'count:r/presence?namespace=/nowhere', 'count:r/presence?x=1', 'bad%20room/presence?counts=1', 'abcdefghij0123456789/presence']) {
        const answer = await api(gw.url, `/api/v1/rooms/${path}`);
        expect(answer.status, path).to.equal(400);
        expect(answer.body.error.code).to.equal('INVALID_PAYLOAD');
      }
    });
  });

  describe('POST /api/v1/users/:user/disconnect', () => {
    it('closes every socket and SSE stream of the user with protocol:error UNAUTHENTICATED, and no one else', async () => {
      const first = await connectAs('mallory', ['kick:r']);
      const second = await connectAs('mallory');
      const bystander = await connectAs('trent', ['kick:r']);
      const stream = await sseAs('mallory', 'kick:r');
      const errors = [nextEvent(first, 'protocol:error'), nextEvent(second, 'protocol:error')];
      const closed = [first, second].map((socket) => new Promise<string>((resolve) => socket.once('disconnect', resolve)));
      const answer = await api(gw.url, '/api/v1/users/mallory/disconnect', { method: 'POST' });
      expect(answer.status).to.equal(200);
      expect(answer.body).to.deep.equal({ ok: true, user: 'mallory', code: 'UNAUTHENTICATED' });
      for (const error of await Promise.all(errors)) expect(error).to.deep.include({ code: 'UNAUTHENTICATED', retryable: false });
      expect(await Promise.all(closed)).to.deep.equal(['io server disconnect', 'io server disconnect']);
      const streamError = await stream.next((event) => event.event === 'protocol:error');
      expect(JSON.parse(streamError.data)).to.deep.include({ code: 'UNAUTHENTICATED' });
      await stream.waitEnded();
      expect(bystander.connected).to.equal(true);
      await eventuallyMembers(gw.url, 'kick:r', ['trent']);
    });

    it('uses the code given, and refuses a code outside the catalog or a bad user with 400', async () => {
      const socket = await connectAs('oscar');
      const error = nextEvent(socket, 'protocol:error');
      expect((await api(gw.url, '/api/v1/users/oscar/disconnect', { method: 'POST', body: { code: 'TOKEN_EXPIRED' } })).body.code).to.equal('TOKEN_EXPIRED');
      expect(await error).to.deep.include({ code: 'TOKEN_EXPIRED', retryable: true });
      for (const [path, body] of [
        ['/api/v1/users/oscar/disconnect', { code: 'GONE' }],
        ['/api/v1/users/oscar/disconnect', { code: 'UNAUTHENTICATED', why: 'x' }],
        ['/api/v1/users/oscar/disconnect', '"text"'],
        ['/api/v1/users/bad%20user/disconnect', {}],
        [`/api/v1/users/${'u'.repeat(201)}/disconnect`, {}],
      ] as const) {
        const answer = await api(gw.url, path, { method: 'POST', body });
        expect(answer.status, `${path} ${JSON.stringify(body)}`).to.equal(400);
        expect(answer.body.error.code).to.equal('INVALID_PAYLOAD');
      }
      // A user with no connection: nothing to close, still answered.
      expect((await api(gw.url, '/api/v1/users/nobody/disconnect', { method: 'POST' })).status).to.equal(200);
    });
  });

  describe('POST /api/v1/users/:user/rooms/:room/leave', () => {
    it('takes each socket of the user out of the room (room:left, no more messages, presence) and closes its SSE streams of it', async () => {
      const first = await connectAs('peggy', ['leave:r', 'leave:other']);
      const second = await connectAs('peggy', ['leave:r']);
      const bystander = await connectAs('victor', ['leave:r']);
      const otherRoomStream = await sseAs('peggy', 'leave:other');
      const stream = await sseAs('peggy', 'leave:r');
      const firstMessages = collectMessages(first);
      const bystanderMessages = collectMessages(bystander);
      const lefts = [nextEvent(first, 'room:left'), nextEvent(second, 'room:left')];
      const answer = await api(gw.url, '/api/v1/users/peggy/rooms/leave:r/leave', { method: 'POST' });
      expect(answer.body).to.deep.equal({ ok: true, user: 'peggy', room: 'leave:r', namespace: '/' });
      expect(await Promise.all(lefts)).to.deep.equal([
        { room: 'leave:r', reason: 'api' },
        { room: 'leave:r', reason: 'api' },
      ]);
      const left = await stream.next((event) => event.event === 'room:left');
      expect(JSON.parse(left.data)).to.deep.equal({ room: 'leave:r', reason: 'api' });
      await stream.waitEnded();
      await eventuallyMembers(gw.url, 'leave:r', ['victor']);
      await api(gw.url, '/api/v1/publish', { method: 'POST', body: { room: 'leave:r', event: 'after', data: 1 } });
      await waitFor(() => bystanderMessages.length === 1, 5000, 'the bystander to get the publication');
      expect(firstMessages, 'no message of a room left').to.deep.equal([]);
      // The rest stays: the other room, the connections.
      expect(first.connected && second.connected).to.equal(true);
      expect(otherRoomStream.ended).to.equal(false);
      const other = await api(gw.url, '/api/v1/rooms/leave:other/presence');
      expect(other.body.members.map((member: { connectionId: string }) => member.connectionId)).to.include(first.id);
    });

    it('refuses an undeclared namespace, a bad room or user with 400', async () => {
      for (const path of ['/api/v1/users/u/rooms/r/leave?namespace=/nowhere', '/api/v1/users/u/rooms/bad%20room/leave', '/api/v1/users/bad%20user/rooms/r/leave', '/api/v1/users/u/rooms/r/leave?x=1']) {
        const answer = await api(gw.url, path, { method: 'POST' });
        expect(answer.status, path).to.equal(400);
        expect(answer.body.error.code).to.equal('INVALID_PAYLOAD');
      }
    });
  });
});

/**
 * How an SSE stream of `room` shows in the listing: as a member when SSE streams join the room's
 * membership (webhooks, issue 14), not before. Either way the listing must not fail on it.
 */
async function sseCounted(url: string, room: string): Promise<Array<{ room: string; members: number }>> {
  const counts = await api(url, `/api/v1/rooms/${room}/presence?counts=1`);
  return counts.body.members > 0 ? [{ room, members: counts.body.members }] : [];
}
