/**
 * @roomcast/server-api's REST client against a real local HTTP server that plays the
 * gateway: what it retries (no answer, UNAVAILABLE, RATE_LIMITED, 5xx) and what it
 * never retries (a non-retryable refusal), that a publication keeps the one
 * idempotency key made for it across every retry (per item in a batch), typed
 * errors, per-item results returned as given, and pages followed by cursor.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RoomcastApi, type RoomcastApiOptions } from '../../server-api/roomcast-api.js';
import { RoomcastApiError } from '../../server-api/errors.js';
import { retryDelayMs, parseRetryAfter } from '../../server-api/retry-policy.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown> | null;
}

/** What the fake gateway does with one request: answer, cut the connection (no answer), or never answer. */
type Reply = { status: number; body?: unknown; raw?: string; headers?: Record<string, string> } | 'cut' | 'hold';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const unavailable = { status: 503, body: { ok: false, error: { code: 'UNAVAILABLE', message: 'redis down', retryable: true } } };
const stored = (room = 'r', offset = 1) => ({ status: 200, body: { ok: true, results: [{ room, offset, epoch: 'e1' }] } });

describe('server-api: the REST client (retries, idempotency keys, errors)', () => {
  let server: Server;
  let url: string;
  let seen: Seen[];
  let replies: Reply[];
  /** Used when the scripted replies run out. */
  let fallback: Reply;
  const held: ServerResponse[] = [];

  const api = (options: Partial<RoomcastApiOptions> = {}): RoomcastApi =>
    new RoomcastApi({ url, apiKey: 'key-1', retries: 3, retryDelayMs: 5, retryMaxDelayMs: 20, timeoutMs: 2000, ...options });

  const caught = async (promise: Promise<unknown>): Promise<RoomcastApiError> => {
    try {
      await promise;
    } catch (error) {
      expect(error).to.be.instanceOf(RoomcastApiError);
      return error as RoomcastApiError;
    }
    throw new Error('expected a RoomcastApiError');
  };

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) });
        const reply = replies.shift() ?? fallback;
        if (reply === 'cut') {
          req.socket.destroy();
          return;
        }
        if (reply === 'hold') {
          held.push(res);
          return;
        }
        const payload = reply.raw ?? JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': reply.raw === undefined ? 'application/json' : 'text/html', ...reply.headers });
        res.end(payload);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    seen = [];
    replies = [];
    fallback = stored();
  });
  afterEach(() => {
    for (const res of held.splice(0)) res.destroy();
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('retries a publish that got no answer, with the same idempotency key made once, and returns that key', async () => {
    replies = ['cut', 'cut', stored('room:a', 4)];
    const outcome = await api().publish({ room: 'room:a', event: 'news', data: { n: 1 } });
    expect(seen).to.have.length(3);
    const keys = seen.map((request) => request.body?.idempotencyKey);
    expect(keys[0]).to.match(UUID);
    expect(new Set(keys).size).to.equal(1);
    expect(outcome).to.deep.equal({ results: [{ room: 'room:a', offset: 4, epoch: 'e1' }], idempotencyKey: keys[0] });
    expect(seen[0]).to.deep.include({ method: 'POST', url: '/api/v1/publish', authorization: 'Bearer key-1' });
    expect(seen[0]?.body).to.deep.include({ room: 'room:a', event: 'news', data: { n: 1 } });
  });

  it('retries UNAVAILABLE, RATE_LIMITED (honouring Retry-After) and a 5xx without the gateway\'s body, keeping the caller\'s key', async () => {
    replies = [
      unavailable,
      { status: 429, headers: { 'retry-after': '0' }, body: { ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryable: true } } },
      { status: 502, raw: '<html>bad gateway</html>' },
    ];
    const outcome = await api().publish({ room: 'r', event: 'e', data: null, idempotencyKey: 'my-key-7' });
    expect(seen.map((request) => request.body?.idempotencyKey)).to.deep.equal(['my-key-7', 'my-key-7', 'my-key-7', 'my-key-7']);
    expect(outcome.idempotencyKey).to.equal('my-key-7');
  });

  it('retries an attempt that gets no answer within timeoutMs, with the same key', async () => {
    replies = ['hold', stored()];
    const outcome = await api({ timeoutMs: 300 }).publish({ room: 'r', event: 'e', data: 1 });
    expect(seen).to.have.length(2);
    expect(seen[1]?.body?.idempotencyKey).to.equal(seen[0]?.body?.idempotencyKey).and.equal(outcome.idempotencyKey);
  });

  it('never retries a non-retryable refusal: one request, a typed error with code, status and retryable', async () => {
    replies = [{ status: 400, body: { ok: false, error: { code: 'INVALID_PAYLOAD', message: 'event: bad name', retryable: false } } }];
    const error = await caught(api().publish({ room: 'r', event: 'bad name', data: 1 }));
    expect(seen).to.have.length(1);
    expect(error).to.deep.include({ code: 'INVALID_PAYLOAD', message: 'event: bad name', retryable: false, status: 400, attempts: 1, unknown: false });
    expect(error.idempotencyKeys).to.deep.equal([seen[0]?.body?.idempotencyKey]);

    replies = [{ status: 401, body: { ok: false, error: { code: 'UNAUTHENTICATED', message: 'bad key', retryable: false } } }];
    const refused = await caught(api().presence({ room: 'r' }));
    expect(refused).to.deep.include({ code: 'UNAUTHENTICATED', status: 401, attempts: 1 });
    expect(seen).to.have.length(2);
  });

  it('does not retry a 5xx the gateway marks non-retryable', async () => {
    replies = [{ status: 500, body: { ok: false, error: { code: 'INTERNAL', message: 'no', retryable: false } } }];
    const error = await caught(api().publish({ room: 'r', event: 'e', data: 1 }));
    expect(seen).to.have.length(1);
    expect(error).to.deep.include({ code: 'INTERNAL', retryable: false, attempts: 1 });
  });

  it('gives up after `retries` retries: the last refusal, or UNAVAILABLE unknown (status 0) when nothing answered', async () => {
    fallback = unavailable;
    const refused = await caught(api({ retries: 2 }).publish({ room: 'r', event: 'e', data: 1 }));
    expect(seen).to.have.length(3);
    expect(refused).to.deep.include({ code: 'UNAVAILABLE', status: 503, attempts: 3, retryable: true, unknown: false });

    seen = [];
    fallback = 'cut';
    const lost = await caught(api({ retries: 1 }).publish({ room: 'r', event: 'e', data: 1, idempotencyKey: 'k-lost' }));
    expect(seen).to.have.length(2);
    expect(lost).to.deep.include({ code: 'UNAVAILABLE', status: 0, attempts: 2, retryable: true, unknown: true });
    expect(lost.idempotencyKeys).to.deep.equal(['k-lost']);

    seen = [];
    const once = await caught(api({ retries: 0 }).history({ room: 'r' }));
    expect(seen).to.have.length(1);
    expect(once).to.deep.include({ code: 'UNAVAILABLE', attempts: 1, unknown: true });
  });

  it('returns the per-room results of rooms[] as given, refused and unknown items included, without retrying them', async () => {
    const results = [
      { room: 'a', offset: 1, epoch: 'e' },
      { room: 'b', error: { code: 'FORBIDDEN_ROOM', message: 'no', retryable: false } },
      { room: 'c', error: { code: 'UNAVAILABLE', message: 'maybe', retryable: true }, unknown: true },
    ];
    replies = [{ status: 200, body: { ok: true, results } }];
    const outcome = await api().publish({ rooms: ['a', 'b', 'c'], event: 'e', data: { x: 1 } });
    expect(seen).to.have.length(1);
    expect(seen[0]?.body).to.deep.include({ rooms: ['a', 'b', 'c'] });
    expect(outcome.results).to.deep.equal(results);
    expect(outcome.idempotencyKey).to.equal(seen[0]?.body?.idempotencyKey);
  });

  it('batch: one key per publication (the caller\'s kept), the same keys on every retry, results[i] for publications[i]', async () => {
    const results = [
      { room: 'a', offset: 3, epoch: 'e' },
      { room: 'b', error: { code: 'INVALID_PAYLOAD', message: 'bad', retryable: false } },
      { room: 'c', offset: 9, epoch: 'e' },
    ];
    replies = ['cut', unavailable, { status: 200, body: { ok: true, results } }];
    const outcome = await api().batch([
      { room: 'a', event: 'e', data: 1 },
      { room: 'b', event: 'e', data: 2, idempotencyKey: 'mine' },
      { room: 'c', event: 'e', data: 3, namespace: '/live' },
    ]);
    expect(seen.map((request) => request.url)).to.deep.equal(['/api/v1/batch', '/api/v1/batch', '/api/v1/batch']);
    const keysOf = (request: Seen | undefined) => (request?.body?.publications as Array<{ idempotencyKey: string }>).map((item) => item.idempotencyKey);
    const keys = keysOf(seen[0]);
    expect(keys[0]).to.match(UUID);
    expect(keys[1]).to.equal('mine');
    expect(keys[2]).to.match(UUID).and.not.equal(keys[0]);
    expect(keysOf(seen[1])).to.deep.equal(keys);
    expect(keysOf(seen[2])).to.deep.equal(keys);
    expect(outcome.results).to.deep.equal(results);
    expect(outcome.publications.map((item) => item.idempotencyKey)).to.deep.equal(keys);
    expect(outcome.publications[2]).to.deep.include({ room: 'c', namespace: '/live', data: 3 });
  });

  it('follows the rooms cursor page by page (allRooms and roomPages), sending the query', async () => {
    replies = [
      { status: 200, body: { ok: true, rooms: [{ room: 'chat:1', members: 2 }, { room: 'chat:2', members: 1 }], cursor: 'c1' } },
      { status: 200, body: { ok: true, rooms: [{ room: 'chat:3', members: 5 }], cursor: 'c2' } },
      { status: 200, body: { ok: true, rooms: [], cursor: null } },
    ];
    const rooms = [];
    for await (const entry of api().allRooms({ prefix: 'chat:', limit: 2, namespace: '/live' })) rooms.push(entry);
    expect(rooms.map((entry) => entry.room)).to.deep.equal(['chat:1', 'chat:2', 'chat:3']);
    const queries = seen.map((request) => new URL(request.url, url));
    expect(queries.map((query) => query.pathname)).to.deep.equal(['/api/v1/rooms', '/api/v1/rooms', '/api/v1/rooms']);
    expect(queries.map((query) => query.searchParams.get('cursor'))).to.deep.equal([null, 'c1', 'c2']);
    expect(queries.every((query) => query.searchParams.get('prefix') === 'chat:' && query.searchParams.get('limit') === '2' && query.searchParams.get('namespace') === '/live')).to.equal(true);

    // A gateway that repeats the cursor it was given ends the iteration instead of looping.
    seen = [];
    replies = [
      { status: 200, body: { ok: true, rooms: [{ room: 'x', members: 1 }], cursor: 'same' } },
      { status: 200, body: { ok: true, rooms: [], cursor: 'same' } },
    ];
    const pages = [];
    for await (const page of api().roomPages()) pages.push(page);
    expect(pages).to.have.length(2);
  });

  it('history, presence, counts, disconnect and leave call their routes with the room and user encoded', async () => {
    const client = api();
    replies = [{ status: 200, body: { ok: true, room: 'org:1:chat', epoch: 'e1', offset: 7, recovered: true, messages: [] } }];
    expect(await client.history({ room: 'org:1:chat', since: { epoch: 'ep:x', offset: 3 }, limit: 2 })).to.deep.equal({ room: 'org:1:chat', epoch: 'e1', offset: 7, recovered: true, messages: [] });
    replies = [{ status: 200, body: { ok: true, room: 'a b', namespace: '/', members: [] } }];
    expect(await client.presence({ room: 'a b' })).to.deep.equal({ room: 'a b', namespace: '/', members: [] });
    replies = [{ status: 200, body: { ok: true, members: 3, users: 2 } }];
    expect(await client.presenceCounts({ room: 'r', namespace: '/live' })).to.deep.equal({ members: 3, users: 2 });
    replies = [{ status: 200, body: { ok: true } }, { status: 200, body: { ok: true } }];
    await client.disconnectUser({ user: 'u/1', code: 'FORBIDDEN_ROOM' });
    await client.leaveRoom({ user: 'alice', room: 'chat:1', namespace: '/live' });
    expect(seen.map((request) => `${request.method} ${request.url}`)).to.deep.equal([
      'GET /api/v1/rooms/org%3A1%3Achat/history?since=ep%3Ax%3A3&limit=2',
      'GET /api/v1/rooms/a%20b/presence',
      'GET /api/v1/rooms/r/presence?namespace=%2Flive&counts=1',
      'POST /api/v1/users/u%2F1/disconnect',
      'POST /api/v1/users/alice/rooms/chat%3A1/leave?namespace=%2Flive',
    ]);
    expect(seen[3]?.body).to.deep.equal({ code: 'FORBIDDEN_ROOM' });
    expect(seen[4]?.body).to.deep.equal({});
  });

  it('refuses bad options at construction', () => {
    expect(() => new RoomcastApi({ url: 'ftp://x', apiKey: 'k' })).to.throw(TypeError, /url/);
    expect(() => new RoomcastApi({ url, apiKey: '' })).to.throw(TypeError, /apiKey/);
    expect(() => new RoomcastApi({ url, apiKey: 'k', retries: -1 })).to.throw(RangeError, /retries/);
    expect(() => new RoomcastApi({ url, apiKey: 'k', timeoutMs: 0 })).to.throw(RangeError, /timeoutMs/);
  });

  it('backoff: exponential with jitter between half and all of the ceiling, capped, never under Retry-After', () => {
    const options = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(retryDelayMs(1, options, undefined, () => 0)).to.equal(50);
    expect(retryDelayMs(1, options, undefined, () => 0.999999)).to.equal(100);
    expect(retryDelayMs(3, options, undefined, () => 0)).to.equal(200);
    expect(retryDelayMs(10, options, undefined, () => 1)).to.equal(1000);
    expect(retryDelayMs(1, options, 700, () => 0)).to.equal(700);
    expect(parseRetryAfter('2', 1000)).to.equal(1000);
    expect(parseRetryAfter('0.5', 1000)).to.equal(500);
    expect(parseRetryAfter('soon', 1000)).to.equal(undefined);
    expect(parseRetryAfter(null, 1000)).to.equal(undefined);
  });
});
