/** The HTTP side: health, readiness, the demo page and its bundle, and the development token route. */
import { expect } from 'chai';
import { loadConfig } from '../../server/config/load.js';
import { startGateway as startGatewayNode } from '../../server/gateway.js';
import { createLogger } from '../../server/ops/logger.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, request } from '../support/sockets.js';
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
  it('mints demo tokens at POST /dev/token that the gateway accepts for demo rooms only', async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    const gateway = await startGatewayNode({ config, logger: createLogger(config) });
    try {
      const refused = await fetch(`${gateway.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"no spaces"}' });
      expect(refused.status).to.equal(400);
      const response = await fetch(`${gateway.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"alice"}' });
      expect(response.status).to.equal(200);
      const { token, rooms } = (await response.json()) as { token: string; rooms: string[] };
      expect(rooms).to.deep.equal(['demo:*']);
      const socket = await connect(gateway.url, token);
      try {
        assertOk(await request(socket, 'room:join', { room: 'demo:lobby' }));
        const forbidden = await request(socket, 'room:join', { room: 'project:1' });
        expect(forbidden.ok).to.equal(false);
      } finally {
        socket.close();
      }
    } finally {
      await gateway.close();
    }
  });
});
