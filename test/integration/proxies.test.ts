/**
 * The backend's proxies (CONNECT_PROXY_URL, JOIN_PROXY_URL, PUBLISH_PROXY_URL and
 * the namespace rule publishProxy) against a real backend on a free port that
 * verifies every request's signature: allow, deny (the default code and a given
 * one), rewrite, and every way the backend can fail (slow past PROXY_TIMEOUT_MS,
 * down, non-2xx, an answer that is not one), each of which must answer the client
 * UNAVAILABLE, retryable, with nothing connected, joined or stored.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RoomcastClient } from '../../client/index.js';
import { GRANT_MAX_ENTRIES, type ErrorPayload, type Message, type SessionEvent } from '../../shared/index.js';
import { startGateway, TEST_SDK_PARSER, type TestGateway } from '../support/gateway.js';
import { scrape } from '../support/metrics.js';
import { downUrl, startProxyBackend, type ProxyBackend, type Reply } from '../support/proxy-backend.js';
import { openAccepted, openRefused } from '../support/sse.js';
import { connectWithSession } from '../support/session-socket.js';
import { assertOk, collectMessages, connect, connectRefused, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const SECRET = 'proxy-test-secret-0123456789abcdef-xyz';
const TIMEOUT_MS = 300;
/** Answers past PROXY_TIMEOUT_MS: the gateway must have given up by then. */
const SLOW: Reply = { delayMs: TIMEOUT_MS * 5, body: { result: 'allow' } };

/** The ways a backend fails to decide; each must be UNAVAILABLE. */
const FAILURES: Array<[string, Reply]> = [
  ['answers after PROXY_TIMEOUT_MS', SLOW],
  ['answers 500', { status: 500, body: { result: 'allow' } }],
  ['answers 302 with an allow', { status: 302, body: { result: 'allow' } }],
  ['answers something that is not an answer', { body: { result: 'maybe' } }],
  ['answers a 2xx that is not JSON', { body: 'allow' }],
];

function expectUnavailable(error: ErrorPayload | undefined): void {
  expect(error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
}

describe('proxies', function () {
  this.timeout(30_000);
  let backend: ProxyBackend;
  let gw: TestGateway;
  let dir: string;
  const sockets: TestSocket[] = [];
  const track = (socket: TestSocket): TestSocket => {
    sockets.push(socket);
    return socket;
  };
  const open = async (sub: string, rooms: string[], namespace = '/'): Promise<TestSocket> =>
    track(await connect(gw.url, await signToken(gw.secret, { sub, rooms }), { namespace }));
  /** Whether the gateway holds the socket in the room (Socket.IO's own room set, which membership follows). */
  const joinedOnServer = (socket: TestSocket, room: string): boolean => gw.gateway.io.of('/').sockets.get(socket.id ?? '')?.rooms.has(room) ?? false;
  const cookieSocket = async (cookie: string): Promise<TestSocket> => track(await connect(gw.url, undefined, { extraHeaders: { cookie } }));

  before(async () => {
    backend = await startProxyBackend(SECRET);
    dir = mkdtempSync(join(tmpdir(), 'roomcast-proxies-'));
    const file = join(dir, 'namespaces.json');
    writeFileSync(
      file,
      JSON.stringify({
        namespaces: [
          { name: '/', clientPublish: true, presence: true },
          { name: '/open', clientPublish: true, presence: true, publishProxy: false },
          { name: '/moderated', clientPublish: true, presence: true, publishProxy: `${backend.url}/moderate` },
        ],
      }),
    );
    gw = await startGateway({
      NAMESPACES_FILE: file,
      WEBHOOK_SECRET: SECRET,
      CONNECT_PROXY_URL: `${backend.url}/connect`,
      JOIN_PROXY_URL: `${backend.url}/join`,
      PUBLISH_PROXY_URL: `${backend.url}/publish`,
      PROXY_TIMEOUT_MS: String(TIMEOUT_MS),
      MAX_PAYLOAD_BYTES: '16384',
      CORS_ORIGINS: 'http://app.example',
      TOKEN_MAX_TTL_S: '7200',
    });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    backend.reset();
  });
  after(async () => {
    await gw.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('connect proxy (cookie sessions)', () => {
    it('admits a handshake without a token as the user it names, with its rooms, subscribe and the user room; the backend gets the signed cookie, user agent, origin, ip and transport', async () => {
      backend.on('/connect', () => ({ body: { result: 'allow', user: 'carol', rooms: ['team:*'], subscribe: ['team:news'] } }));
      const opened = await connectWithSession(gw.url, undefined, { extraHeaders: { cookie: 'sid=abc123', 'user-agent': 'proxy-test', origin: 'http://app.example' } });
      const socket = track(opened.socket);
      const session = await opened.session;
      expect(session.user).to.equal('carol');
      expect(session.rooms.map((entry) => entry.room).sort()).to.deep.equal(['team:news', 'user:carol']);
      const [asked] = backend.at('/connect');
      expect(asked?.signatureProblem).to.equal(null);
      expect(asked?.body).to.deep.equal({ headers: { cookie: 'sid=abc123', 'user-agent': 'proxy-test', origin: 'http://app.example' }, ip: '127.0.0.1', transport: 'socketio' });
      // Its grant is the answer's rooms: team:* is joined without asking the join proxy.
      assertOk(await request(socket, 'room:join', { room: 'team:2' }));
      expect(backend.at('/join')).to.have.length(0);
    });

    it('the SDK with an empty token connects as a cookie session and tracks the rooms of its session', async () => {
      backend.on('/connect', (body) => ({
        body: (body as { headers: { cookie?: string } }).headers.cookie === 'sid=sdk' ? { result: 'allow', user: 'sdk-user', rooms: ['desk:*'], subscribe: ['desk:1'] } : { result: 'deny' },
      }));
      const client = new RoomcastClient(gw.url, { token: '', extraHeaders: { cookie: 'sid=sdk' }, transports: ['websocket'], parser: TEST_SDK_PARSER, autoConnect: false });
      try {
        const sessions: SessionEvent[] = [];
        client.on('session', (event) => sessions.push(event));
        await client.connect();
        await waitFor(() => sessions.length === 1, 5000, 'session');
        expect(sessions[0]?.user).to.equal('sdk-user');
        expect(client.joinedRooms.sort()).to.deep.equal(['desk:1', 'user:sdk-user']);
      } finally {
        client.close();
      }
    });

    it('a token handshake never asks the connect proxy', async () => {
      await open('dave', ['x']);
      expect(backend.at('/connect')).to.have.length(0);
    });

    it('deny refuses the handshake with UNAUTHENTICATED by default, or the code and message given; an unknown code is the default', async () => {
      backend.on('/connect', () => ({ body: { result: 'deny' } }));
      expect((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data).to.deep.include({ code: 'UNAUTHENTICATED', retryable: false });
      backend.on('/connect', () => ({ body: { result: 'deny', code: 'TOO_MANY_CONNECTIONS', message: 'one tab only' } }));
      expect((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data).to.deep.equal({ code: 'TOO_MANY_CONNECTIONS', message: 'one tab only', retryable: false });
      backend.on('/connect', () => ({ body: { result: 'deny', code: 'NOT_A_CODE' } }));
      expect((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data).to.deep.include({ code: 'UNAUTHENTICATED' });
    });

    for (const [what, reply] of FAILURES) {
      it(`a backend that ${what}: UNAVAILABLE, retryable, and no connection`, async () => {
        backend.on('/connect', () => reply);
        expectUnavailable((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data);
        expect(gw.gateway.io.of('/').sockets.size).to.equal(0);
      });
    }

    it('an allow whose user is not a valid id is not an answer: UNAVAILABLE', async () => {
      backend.on('/connect', () => ({ body: { result: 'allow', user: 'has spaces' } }));
      expectUnavailable((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data);
    });

    it(`an allow past the limits of an answer (more than ${GRANT_MAX_ENTRIES} subscribe rooms, a deny message past 500 characters) is not an answer: UNAVAILABLE`, async () => {
      const rooms = Array.from({ length: GRANT_MAX_ENTRIES + 1 }, (_, i) => `many:${i}`);
      backend.on('/connect', () => ({ body: { result: 'allow', user: 'many', rooms: ['many:*'], subscribe: rooms } }));
      expectUnavailable((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data);
      backend.on('/connect', () => ({ body: { result: 'deny', message: 'x'.repeat(501) } }));
      expectUnavailable((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data);
      // At the limits it is an answer.
      backend.on('/connect', () => ({ body: { result: 'deny', message: 'x'.repeat(500) } }));
      expect((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=x' } })).data).to.deep.include({ code: 'UNAUTHENTICATED', message: 'x'.repeat(500) });
    });

    it('the session lasts until expiresAt, capped by TOKEN_MAX_TTL_S (an expiresAt already past is refused)', async () => {
      backend.on('/connect', () => ({ body: { result: 'allow', user: 'erin', expiresAt: Date.now() + 10 * 86_400_000 } }));
      const socket = await cookieSocket('sid=erin');
      expect(gw.gateway.io.of('/').sockets.get(socket.id ?? '')?.data.expiresAt).to.be.at.most(Date.now() + 7_200_000);
      backend.on('/connect', () => ({ body: { result: 'allow', user: 'erin', expiresAt: Date.now() - 1000 } }));
      expect((await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=erin' } })).data).to.deep.include({ code: 'UNAUTHENTICATED' });
    });

    it('SSE: a stream without a token is admitted by the connect proxy (transport sse), and refused with its code', async () => {
      backend.on('/connect', () => ({ body: { result: 'allow', user: 'sse-user', rooms: ['feed:*'] } }));
      const stream = await openAccepted(`${gw.url}/sse?room=feed:1`, { cookie: 'sid=sse' });
      stream.close();
      const asked = backend.at('/connect')[0];
      expect(asked?.signatureProblem).to.equal(null);
      expect(asked?.body).to.deep.include({ transport: 'sse', ip: '127.0.0.1' });
      expect((asked?.body as { headers: Record<string, string> }).headers.cookie).to.equal('sid=sse');
      backend.on('/connect', () => ({ body: { result: 'deny', code: 'FORBIDDEN_ROOM' } }));
      const refused = await openRefused(`${gw.url}/sse?room=feed:1`, { cookie: 'sid=sse' });
      expect(refused.status).to.equal(403);
      expect(refused.body.error.code).to.equal('FORBIDDEN_ROOM');
      backend.on('/connect', () => SLOW);
      const unavailable = await openRefused(`${gw.url}/sse?room=feed:1`, { cookie: 'sid=sse' });
      expect(unavailable.body.error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
    });
  });

  describe('join proxy', () => {
    it('a room the token does not cover is asked about (signed: namespace, room, user, connectionId): allow joins it', async () => {
      const socket = await open('frank', ['own:*']);
      const ack = assertOk(await request(socket, 'room:join', { room: 'club:7' }));
      expect(ack.room).to.equal('club:7');
      const [asked] = backend.at('/join');
      expect(asked?.signatureProblem).to.equal(null);
      expect(asked?.body).to.deep.equal({ namespace: '/', room: 'club:7', user: 'frank', connectionId: socket.id });
      // A member now: it may publish there (the publish proxy allows).
      assertOk(await request(socket, 'room:publish', { room: 'club:7', event: 'hi', data: 1 }));
      // A room the token covers is not asked about.
      assertOk(await request(socket, 'room:join', { room: 'own:1' }));
      expect(backend.at('/join')).to.have.length(1);
    });

    it('a room the join proxy allowed stays joined through auth:refresh; a join after leaving it asks again', async () => {
      const socket = await open('fred', []);
      assertOk(await request(socket, 'room:join', { room: 'club:10' }));
      assertOk(await request(socket, 'auth:refresh', { token: await signToken(gw.secret, { sub: 'fred', rooms: [] }) }));
      expect(joinedOnServer(socket, 'club:10')).to.equal(true);
      assertOk(await request(socket, 'room:leave', { room: 'club:10' }));
      backend.on('/join', () => ({ body: { result: 'deny' } }));
      const again = await request(socket, 'room:join', { room: 'club:10' });
      expect(!again.ok && again.error.code).to.equal('FORBIDDEN_ROOM');
      expect(backend.at('/join')).to.have.length(2);
    });

    it('deny refuses with FORBIDDEN_ROOM by default, or the code given; nothing is joined', async () => {
      const socket = await open('gina', []);
      backend.on('/join', () => ({ body: { result: 'deny' } }));
      const denied = await request(socket, 'room:join', { room: 'club:8' });
      expect(denied).to.deep.include({ ok: false });
      expect(!denied.ok && denied.error).to.deep.include({ code: 'FORBIDDEN_ROOM', retryable: false });
      backend.on('/join', () => ({ body: { result: 'deny', code: 'ROOM_FULL', message: 'the club is full' } }));
      const full = await request(socket, 'room:join', { room: 'club:8' });
      expect(!full.ok && full.error).to.deep.equal({ code: 'ROOM_FULL', message: 'the club is full', retryable: true });
      expect(joinedOnServer(socket, 'club:8')).to.equal(false);
    });

    it('SSE: a stream of a room the token does not cover asks the join proxy: allow streams it (as a member), deny and a slow backend refuse it', async () => {
      const token = await signToken(gw.secret, { sub: 'sse-join', rooms: ['own:*'] });
      backend.on('/join', () => ({ body: { result: 'allow' } }));
      const stream = await openAccepted(`${gw.url}/sse?room=club:20&token=${token}`);
      const [asked] = backend.at('/join');
      expect(asked?.signatureProblem).to.equal(null);
      expect(asked?.body).to.deep.include({ namespace: '/', room: 'club:20', user: 'sse-join' });
      expect((asked?.body as { connectionId: string }).connectionId).to.match(/^sse-/);
      expect((await gw.gateway.publisher.publish({ namespace: '/', room: 'club:20', event: 'e', data: 1 })).offset).to.equal(1);
      stream.close();
      backend.on('/join', () => ({ body: { result: 'deny' } }));
      const denied = await openRefused(`${gw.url}/sse?room=club:21&token=${token}`);
      expect(denied.status).to.equal(403);
      expect(denied.body.error.code).to.equal('FORBIDDEN_ROOM');
      backend.on('/join', () => SLOW);
      const unavailable = await openRefused(`${gw.url}/sse?room=club:22&token=${token}`);
      expect(unavailable.body.error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
      // A room the token covers is not asked about.
      const before = backend.at('/join').length;
      (await openAccepted(`${gw.url}/sse?room=own:1&token=${token}`)).close();
      expect(backend.at('/join')).to.have.length(before);
    });

    for (const [what, reply] of FAILURES) {
      it(`a backend that ${what}: UNAVAILABLE, retryable, and the room is not joined`, async () => {
        const socket = await open('hank', []);
        backend.on('/join', () => reply);
        const ack = await request(socket, 'room:join', { room: 'club:9' });
        expectUnavailable(ack.ok ? undefined : ack.error);
        expect(joinedOnServer(socket, 'club:9')).to.equal(false);
        // Not a member: a publication there is refused before any proxy is asked.
        const publish = await request(socket, 'room:publish', { room: 'club:9', event: 'x', data: 1 });
        expect(!publish.ok && publish.error.code).to.equal('PUBLISH_FORBIDDEN');
        expect(backend.at('/publish')).to.have.length(0);
      });
    }
  });

  describe('publish proxy', () => {
    const history = async (socket: TestSocket, room: string): Promise<Message[]> => assertOk(await request(socket, 'room:history', { room })).messages;

    it('allow stores the publication as sent; the backend gets it signed with namespace, room, event, data, user and connectionId', async () => {
      const socket = await open('ivy', ['pub:*']);
      assertOk(await request(socket, 'room:join', { room: 'pub:1' }));
      const ack = assertOk(await request(socket, 'room:publish', { room: 'pub:1', event: 'chat', data: { text: 'hello' } }));
      expect(ack.offset).to.equal(1);
      const [asked] = backend.at('/publish');
      expect(asked?.signatureProblem).to.equal(null);
      expect(asked?.body).to.deep.equal({ namespace: '/', room: 'pub:1', event: 'chat', data: { text: 'hello' }, user: 'ivy', connectionId: socket.id });
      expect((await history(socket, 'pub:1')).map((message) => message.data)).to.deep.equal([{ text: 'hello' }]);
    });

    it('allow with data replaces the payload: what is stored and delivered is the replacement', async () => {
      const author = await open('jack', ['pub:*']);
      const reader = await open('kate', ['pub:*']);
      assertOk(await request(author, 'room:join', { room: 'pub:2' }));
      assertOk(await request(reader, 'room:join', { room: 'pub:2' }));
      const delivered = collectMessages(reader);
      backend.on('/publish', (body) => ({ body: { result: 'allow', data: { text: String((body as { data: { text: string } }).data.text).replace('darn', '****'), moderated: true } } }));
      assertOk(await request(author, 'room:publish', { room: 'pub:2', event: 'chat', data: { text: 'darn it' } }));
      await waitFor(() => delivered.length === 1, 5000, 'the delivery');
      expect(delivered[0]?.data).to.deep.equal({ text: '**** it', moderated: true });
      expect((await history(author, 'pub:2')).map((message) => message.data)).to.deep.equal([{ text: '**** it', moderated: true }]);
    });

    it('a replacement past MAX_PAYLOAD_BYTES is refused PAYLOAD_TOO_LARGE and nothing is stored', async () => {
      const socket = await open('liam', ['pub:*']);
      assertOk(await request(socket, 'room:join', { room: 'pub:3' }));
      backend.on('/publish', () => ({ body: { result: 'allow', data: 'x'.repeat(20_000) } }));
      const ack = await request(socket, 'room:publish', { room: 'pub:3', event: 'chat', data: 'small' });
      expect(!ack.ok && ack.error.code).to.equal('PAYLOAD_TOO_LARGE');
      expect(await history(socket, 'pub:3')).to.deep.equal([]);
    });

    it('deny refuses with PUBLISH_FORBIDDEN by default, or the code and message given; nothing is stored', async () => {
      const socket = await open('mia', ['pub:*']);
      assertOk(await request(socket, 'room:join', { room: 'pub:4' }));
      backend.on('/publish', () => ({ body: { result: 'deny' } }));
      const denied = await request(socket, 'room:publish', { room: 'pub:4', event: 'chat', data: 'spam' });
      expect(!denied.ok && denied.error).to.deep.include({ code: 'PUBLISH_FORBIDDEN', retryable: false });
      backend.on('/publish', () => ({ body: { result: 'deny', code: 'RATE_LIMITED', message: 'slow down, mia' } }));
      const limited = await request(socket, 'room:publish', { room: 'pub:4', event: 'chat', data: 'spam' });
      expect(!limited.ok && limited.error).to.deep.equal({ code: 'RATE_LIMITED', message: 'slow down, mia', retryable: true });
      expect(await history(socket, 'pub:4')).to.deep.equal([]);
    });

    for (const [what, reply] of FAILURES) {
      it(`a backend that ${what}: UNAVAILABLE, retryable, and nothing is stored`, async () => {
        const socket = await open('noah', ['pub:*']);
        assertOk(await request(socket, 'room:join', { room: 'pub:5' }));
        const delivered = collectMessages(socket);
        backend.on('/publish', () => reply);
        const ack = await request(socket, 'room:publish', { room: 'pub:5', event: 'chat', data: 'lost?' });
        expectUnavailable(ack.ok ? undefined : ack.error);
        expect(await history(socket, 'pub:5')).to.deep.equal([]);
        expect(delivered).to.deep.equal([]);
      });
    }

    it('publishProxy: false skips PUBLISH_PROXY_URL in that namespace; a namespace URL is asked instead of it', async () => {
      const open1 = await open('olga', ['pub:*'], '/open');
      assertOk(await request(open1, 'room:join', { room: 'pub:6' }));
      assertOk(await request(open1, 'room:publish', { room: 'pub:6', event: 'chat', data: 1 }));
      const moderated = await open('olga', ['pub:*'], '/moderated');
      assertOk(await request(moderated, 'room:join', { room: 'pub:6' }));
      backend.on('/moderate', () => ({ body: { result: 'deny', message: 'moderated here' } }));
      const denied = await request(moderated, 'room:publish', { room: 'pub:6', event: 'chat', data: 2 });
      expect(!denied.ok && denied.error).to.deep.include({ code: 'PUBLISH_FORBIDDEN', message: 'moderated here' });
      expect(backend.at('/publish')).to.have.length(0);
      expect(backend.at('/moderate').map((entry) => entry.body)).to.deep.equal([{ namespace: '/moderated', room: 'pub:6', event: 'chat', data: 2, user: 'olga', connectionId: moderated.id }]);
    });

    it('a publish proxy that is down: UNAVAILABLE (a gateway whose PUBLISH_PROXY_URL has no listener)', async () => {
      const down = await startGateway({ WEBHOOK_SECRET: SECRET, PUBLISH_PROXY_URL: `${await downUrl()}/publish`, JOIN_PROXY_URL: `${await downUrl()}/join`, CONNECT_PROXY_URL: `${await downUrl()}/connect` });
      try {
        const socket = track(await connect(down.url, await signToken(down.secret, { sub: 'pat', rooms: ['pub:*'] })));
        assertOk(await request(socket, 'room:join', { room: 'pub:7' }));
        const ack = await request(socket, 'room:publish', { room: 'pub:7', event: 'chat', data: 1 });
        expectUnavailable(ack.ok ? undefined : ack.error);
        expect(assertOk(await request(socket, 'room:history', { room: 'pub:7' })).messages).to.deep.equal([]);
        const join = await request(socket, 'room:join', { room: 'other:1' });
        expectUnavailable(join.ok ? undefined : join.error);
        expectUnavailable((await connectRefused(down.url, undefined, { extraHeaders: { cookie: 'sid=1' } })).data);
      } finally {
        await down.close();
      }
    });
  });

  it('metrics: roomcast_proxy_requests_total by proxy and result, roomcast_proxy_duration_seconds by proxy', async () => {
    const before = await scrape(gw.url);
    const socket = await open('quinn', ['pub:*']);
    assertOk(await request(socket, 'room:join', { room: 'pub:8' }));
    assertOk(await request(socket, 'room:publish', { room: 'pub:8', event: 'e', data: 1 }));
    backend.on('/publish', () => ({ body: { result: 'deny' } }));
    await request(socket, 'room:publish', { room: 'pub:8', event: 'e', data: 2 });
    backend.on('/publish', () => ({ status: 503 }));
    await request(socket, 'room:publish', { room: 'pub:8', event: 'e', data: 3 });
    const after = await scrape(gw.url);
    for (const result of ['allow', 'deny', 'unavailable']) {
      expect(after.value('roomcast_proxy_requests_total', { proxy: 'publish', result }) - before.value('roomcast_proxy_requests_total', { proxy: 'publish', result })).to.equal(1, result);
    }
    expect(after.histogram('roomcast_proxy_duration_seconds', { proxy: 'publish' }).count - before.histogram('roomcast_proxy_duration_seconds', { proxy: 'publish' }).count).to.equal(3);
  });
});
