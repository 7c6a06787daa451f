/** The HTTP side: health, readiness, the demo page and its bundle, and the development token route. */
import { expect } from 'chai';
import { loadConfig } from '../../server/config/load.js';
import { startGateway as startGatewayNode, type Gateway } from '../../server/gateway.js';
import { createLogger } from '../../server/ops/logger.js';
import { startGateway, TEST_PARSER, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, request, type TestSocket } from '../support/sockets.js';
import { decodeJwt } from 'jose';
import { io } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';
import { DEV_TOKEN_MAX_GRANTS } from '../../server/http/dev-token-route.js';
import type { SessionEvent } from '../../shared/index.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('HTTP routes', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  it('GET /healthz and /readyz answer 200 with the node id', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${gw.url}${path}`);
      expect(response.status, path).to.equal(200);
      expect(await response.json()).to.deep.include({ ok: true, node: 'test-node' });
    }
  });

  it('serves the demo page and the browser bundle at /', async () => {
    const page = await fetch(`${gw.url}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/text\/html/);
    const html = await page.text();
    expect(html).to.contain('Roomcast');
    for (const script of ['/roomcast.js', '/demo.js']) {
      const response = await fetch(`${gw.url}${script}`);
      expect(response.status, script).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/javascript/);
    }
    expect(await (await fetch(`${gw.url}/roomcast.js`)).text()).to.contain('RoomcastClient');
  });

  it('sets security headers (helmet) and answers unknown API routes with a typed 404', async () => {
    const response = await fetch(`${gw.url}/api/v1/nothing`);
    expect(response.status).to.equal(404);
    expect(response.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(response.headers.get('x-powered-by')).to.equal(null);
    expect(((await response.json()) as { error: { code: string } }).error.code).to.equal('NOT_FOUND');
  });

  it('issues Engine.IO session ids that start with the node id, for sticky routing', async () => {
    const socket = await connect(gw.url, await signToken(gw.secret, { sub: 'sticky' }), { transports: ['polling'] });
    try {
      expect(socket.io.engine.id).to.match(/^test-node\.[A-Za-z0-9_-]{20}$/);
    } finally {
      socket.close();
    }
  });

  it('has no /dev/token route when a real key is configured', async () => {
    const response = await fetch(`${gw.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"x"}' });
    expect(response.status).to.equal(404);
  });
});

describe('development mode', () => {
  let gateway: Gateway;
  before(async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', PARSER: TEST_PARSER });
    gateway = await startGatewayNode({ config, logger: createLogger(config) });
  });
  after(() => gateway.close());

  function devToken(body: unknown): Promise<Response> {
    return fetch(`${gateway.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  it('mints demo tokens at POST /dev/token that the gateway accepts for demo rooms only', async () => {
    const refused = await devToken({ user: 'no spaces' });
    expect(refused.status).to.equal(400);
    const response = await devToken({ user: 'alice' });
    expect(response.status).to.equal(200);
    const { token, rooms } = (await response.json()) as { token: string; rooms: string[] };
    expect(rooms).to.deep.equal(['demo:*']);
    expect(decodeJwt(token)).to.deep.include({ sub: 'alice', rooms: ['demo:*'] }).and.not.have.property('subscribe');
    const socket = await connect(gateway.url, token);
    try {
      assertOk(await request(socket, 'room:join', { room: 'demo:lobby' }));
      const forbidden = await request(socket, 'room:join', { room: 'project:1' });
      expect(forbidden.ok).to.equal(false);
    } finally {
      socket.close();
    }
  });

  it('grants the rooms asked for, and joins the connection to `subscribe` at connect', async () => {
    const response = await devToken({ user: 'bob', rooms: ['chat:*', 'org:7:*'], subscribe: ['chat:lobby'] });
    expect(response.status).to.equal(200);
    const body = (await response.json()) as { token: string; rooms: string[]; subscribe: string[]; expiresAt: number };
    expect(body).to.deep.include({ rooms: ['chat:*', 'org:7:*'], subscribe: ['chat:lobby'] });
    expect(body.expiresAt).to.be.within(Date.now() + 3590_000, Date.now() + 3600_000);
    expect(decodeJwt(body.token)).to.deep.include({ sub: 'bob', rooms: ['chat:*', 'org:7:*'], subscribe: ['chat:lobby'] });

    const socket: TestSocket = io(gateway.url, {
      auth: { token: body.token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(TEST_PARSER === 'msgpack' ? { parser: msgpackParser } : {}),
    });
    try {
      const session = await new Promise<SessionEvent>((resolve) => socket.once('session', resolve));
      expect(session.rooms.map((entry) => entry.room)).to.include('chat:lobby');
      assertOk(await request(socket, 'room:join', { room: 'org:7:general' }));
      const forbidden = await request(socket, 'room:join', { room: 'demo:lobby' });
      expect(forbidden).to.deep.include({ ok: false });
      expect((forbidden as { error: { code: string } }).error.code).to.equal('FORBIDDEN_ROOM');
    } finally {
      socket.close();
    }
  });

  it('accepts `rooms: []` (the personal room only) and up to the cap of patterns', async () => {
    expect((await devToken({ user: 'carol', rooms: [] })).status).to.equal(200);
    const many = Array.from({ length: DEV_TOKEN_MAX_GRANTS }, (_, index) => `room${index}:*`);
    const response = await devToken({ user: 'carol', rooms: many, subscribe: many.map((pattern) => pattern.replace('*', 'x')) });
    expect(response.status).to.equal(200);
    expect(decodeJwt(((await response.json()) as { token: string }).token).rooms).to.deep.equal(many);
  });

  const cap = Array.from({ length: DEV_TOKEN_MAX_GRANTS + 1 }, (_, index) => `room${index}:*`);
  const refusals: Array<[string, unknown, RegExp]> = [
    ['a user with a space', { user: 'no spaces' }, /^user: /],
    ['no user', { rooms: ['chat:*'] }, /^user: /],
    ['rooms that is not a list', { user: 'dave', rooms: 'chat:*' }, /^rooms: /],
    ['an empty room pattern', { user: 'dave', rooms: ['chat:*', ''] }, /^rooms\.1: /],
    ['a room pattern that is not a string', { user: 'dave', rooms: [7] }, /^rooms\.0: /],
    ['a room pattern longer than a token allows (200)', { user: 'dave', rooms: [`${'x'.repeat(200)}*`] }, /^rooms\.0: /],
    [`more than ${DEV_TOKEN_MAX_GRANTS} room patterns`, { user: 'dave', rooms: cap }, new RegExp(`^rooms: at most ${DEV_TOKEN_MAX_GRANTS} room patterns`)],
    [`more than ${DEV_TOKEN_MAX_GRANTS} rooms to subscribe`, { user: 'dave', rooms: ['r:*'], subscribe: cap.map((pattern) => pattern.replace('*', 'x')) }, new RegExp(`^subscribe: at most ${DEV_TOKEN_MAX_GRANTS} rooms`)],
    ['a pattern in subscribe (exact room names only)', { user: 'dave', rooms: ['chat:*'], subscribe: ['chat:*'] }, /^subscribe\.0: room may contain only/],
    ['a subscribe room shaped like a socket id', { user: 'dave', subscribe: ['abcdefghij0123456789'] }, /^subscribe\.0: room must not be shaped like a socket id/],
    ['an unknown field', { user: 'dave', room: 'chat:*' }, /./],
    ['a body that is not an object', ['dave'], /./],
  ];
  for (const [what, body, message] of refusals) {
    it(`answers 400 INVALID_PAYLOAD, naming the field, for ${what}`, async () => {
      const response = await devToken(body);
      expect(response.status).to.equal(400);
      const answer = (await response.json()) as { ok: boolean; error: { code: string; message: string; retryable: boolean } };
      expect(answer).to.deep.include({ ok: false });
      expect(answer.error).to.include({ code: 'INVALID_PAYLOAD', retryable: false });
      expect(answer.error.message).to.match(message);
    });
  }
});
