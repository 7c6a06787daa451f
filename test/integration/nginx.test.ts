/**
 * Gateway nodes behind a real NGINX with the generated config. The nodes run
 * without Redis, each on its own, so most checks here are about routing: a
 * polling-first session must keep reaching the node that created it (its
 * polling requests and its WebSocket upgrade), or that node's peers answer
 * "Session ID unknown" (400). The rest are about the public listener: internal
 * routes off it, no tokens in its log, the client address it forwards, and the
 * per-address limits refusing a flood from one address (distinct 127.0.0.x
 * source addresses show the others are not refused).
 */
import { readFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { renderNginxConfig } from '../../nginx/generate-config.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { freePort } from '../../tools/processes/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { httpPublish } from '../support/gateway.js';
import { startNginx, type NginxProcess } from '../../tools/processes/nginx.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

type Transports = Array<'polling' | 'websocket'>;
const ADMIN_TOKEN = 'nginx-test-admin-token-0123456789';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request from a chosen local address (127.0.0.x), read to its end. */
function requestFrom(localAddress: string, url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A response held open (an SSE stream) from a chosen local address: its status, and a way to close it. */
function openFrom(localAddress: string, url: string): Promise<{ status: number; body: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream' }, localAddress, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, body: () => body, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** NGINX's own refusal (an HTML page), as opposed to an answer a node wrote (JSON). */
const refusedByNginx = (answer: { status: number; body: string }): boolean => answer.status === 429 && answer.body.includes('<center>nginx</center>');
const POLLING_FIRST: Transports = ['polling', 'websocket'];

/** The node that created a session: the gateway names sessions `<NODE_ID>.<random>`. */
function sessionNode(socket: TestSocket): string {
  const id = socket.io.engine.id;
  expect(id, 'Engine.IO session id').to.match(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  return id.slice(0, id.indexOf('.'));
}

/** Resolves once the session runs over WebSocket (it may have upgraded already). */
function upgraded(socket: TestSocket, timeoutMs = 5_000): Promise<void> {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`session ${engine.id} did not upgrade within ${timeoutMs} ms (transport ${engine.transport.name})`)), timeoutMs);
    engine.once('upgrade', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** /socket.io/ requests NGINX answered with an error status, from its access log. */
async function failedSocketIoRequests(nginx: NginxProcess): Promise<string[]> {
  const log = await readFile(join(nginx.dir, 'access.log'), 'utf8').catch(() => '');
  return log.split('\n').filter((line) => {
    const match = /"\w+ \/socket\.io\/\S* HTTP\/1\.1" (\d{3}) /.exec(line);
    return match !== null && Number(match[1]) >= 400;
  });
}

describe('NGINX in front of several gateway nodes', function () {
  this.timeout(30_000);

  let cluster: TestCluster;
  let nginx: NginxProcess;
  let token: string;
  let sockets: TestSocket[] = [];
  /** Disconnects nobody asked for: a broken session shows up here. */
  let unexpected: string[] = [];

  async function open(transports: Transports): Promise<TestSocket> {
    const socket = await connect(nginx.url, token, { transports });
    sockets.push(socket);
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') unexpected.push(`${socket.io.engine?.id ?? '?'}: ${reason}`);
    });
    return socket;
  }

  before(async () => {
    cluster = await startCluster({ nodes: 3, nginx: true, env: { ADMIN_TOKEN } });
    if (cluster.nginx === null) throw new Error('no nginx');
    nginx = cluster.nginx;
    token = await signToken(TEST_JWT_SECRET, { sub: 'nginx-user', rooms: ['nginx:*'] });
  });

  after(async () => {
    await cluster?.stop();
  });

  afterEach(async function () {
    for (const socket of sockets) socket.close();
    sockets = [];
    const failed = await failedSocketIoRequests(nginx);
    const errors = (await nginx.errorLog()).split('\n').filter((line) => /\[(alert|emerg|crit)\]/.test(line));
    const problems = [...unexpected.map((line) => `disconnect ${line}`), ...failed.map((line) => `access.log: ${line}`), ...errors.map((line) => `error.log: ${line}`)];
    unexpected = [];
    if (problems.length > 0 && this.currentTest?.state !== 'failed') {
      throw new Error(`routing problems during "${this.currentTest?.title}":\n${problems.join('\n')}`);
    }
  });

  it('answers /healthz from any node, and spreads it over the nodes', async () => {
    const seen = new Set<string>();
    for (let index = 0; index < 6; index += 1) {
      const response = await fetch(`${nginx.url}/healthz`);
      expect(response.status).to.equal(200);
      const body = (await response.json()) as { ok: boolean; node: string };
      expect(body.ok).to.equal(true);
      seen.add(body.node);
    }
    expect([...seen].every((node) => cluster.nodes.some((gateway) => gateway.nodeId === node))).to.equal(true);
    expect(seen.size, `healthz answered by ${[...seen].join(', ')}`).to.be.above(1);
  });

  it('a polling-first client connects, upgrades to WebSocket on the same node, joins and receives a publication', async () => {
    const socket = await open(POLLING_FIRST);
    const node = sessionNode(socket);
    const owner = cluster.nodes.find((gateway) => gateway.nodeId === node);
    expect(owner, `session of unknown node ${node}`).not.to.equal(undefined);

    const messages = collectMessages(socket);
    assertOk(await request(socket, 'room:join', { room: 'nginx:one' }));
    await upgraded(socket);
    expect(socket.io.engine.transport.name).to.equal('websocket');

    // No Redis: only the owning node knows this member, so a publication there proves the session is there.
    const published = await httpPublish(owner?.url ?? '', { room: 'nginx:one', event: 'note', data: { text: 'hello' } });
    expect(published.status).to.equal(200);
    await waitFor(() => messages.length === 1, 5_000, 'the publication');
    expect(messages[0]).to.deep.include({ room: 'nginx:one', event: 'note', data: { text: 'hello' } });

    // And requests over the upgraded transport still reach it.
    const presence = assertOk(await request(socket, 'presence:list', { room: 'nginx:one' }));
    expect(presence.members.map((member) => member.nodeId)).to.deep.equal([node]);
  });

  it('a long-polling-only client works through NGINX: every poll and every post reaches its node', async () => {
    const socket = await open(['polling']);
    const node = sessionNode(socket);
    const messages = collectMessages(socket);
    assertOk(await request(socket, 'room:join', { room: 'nginx:polling' }));
    for (let index = 1; index <= 5; index += 1) {
      assertOk(await request(socket, 'room:publish', { room: 'nginx:polling', event: 'tick', data: { index } }));
    }
    await waitFor(() => messages.length === 5, 5_000, 'five messages over long-polling');
    expect(messages.map((message) => message.data)).to.deep.equal([1, 2, 3, 4, 5].map((index) => ({ index })));
    expect(socket.io.engine.transport.name).to.equal('polling');
    expect(sessionNode(socket)).to.equal(node);
  });

  it('20 polling-first clients are spread over more than one node, and every one of them works', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => open(POLLING_FIRST)));
    const inboxes = clients.map((socket) => collectMessages(socket));
    await Promise.all(clients.map((socket) => request(socket, 'room:join', { room: 'nginx:spread' }).then(assertOk)));
    await Promise.all(clients.map((socket) => upgraded(socket)));

    const nodes = clients.map(sessionNode);
    const perNode = new Map<string, number>();
    for (const node of nodes) perNode.set(node, (perNode.get(node) ?? 0) + 1);
    expect(perNode.size, `sessions per node: ${JSON.stringify(Object.fromEntries(perNode))}`).to.be.above(1);

    // Each node lists exactly the members whose sessions it owns.
    for (const [index, socket] of clients.entries()) {
      const { members } = assertOk(await request(socket, 'presence:list', { room: 'nginx:spread' }));
      expect(members.every((member) => member.nodeId === nodes[index])).to.equal(true);
      expect(members.map((member) => member.connectionId)).to.include(socket.id);
      expect(members).to.have.length(perNode.get(nodes[index] ?? '') ?? -1);
    }

    // One publication per node: every client gets exactly the one from its own node.
    for (const gateway of cluster.nodes) {
      const published = await httpPublish(gateway.url, { room: 'nginx:spread', event: 'from', data: { node: gateway.nodeId } });
      expect(published.status).to.equal(200);
    }
    await waitFor(() => inboxes.every((inbox) => inbox.length >= 1), 5_000, 'a publication for every client');
    await new Promise((resolve) => setTimeout(resolve, 100));
    inboxes.forEach((inbox, index) => expect(inbox.map((message) => message.data)).to.deep.equal([{ node: nodes[index] }]));
  });

  it('a WebSocket-only client needs no stickiness and works', async () => {
    const socket = await open(['websocket']);
    const node = sessionNode(socket);
    const messages = collectMessages(socket);
    assertOk(await request(socket, 'room:join', { room: 'nginx:ws' }));
    assertOk(await request(socket, 'room:publish', { room: 'nginx:ws', event: 'echo', data: { via: 'websocket' } }));
    await waitFor(() => messages.length === 1, 5_000, 'the echo');
    const { members } = assertOk(await request(socket, 'presence:list', { room: 'nginx:ws' }));
    expect(members.map((member) => member.nodeId)).to.deep.equal([node]);
  });

  it('the HTTP API passes through', async () => {
    const published = await httpPublish(nginx.url, { room: 'nginx:api', event: 'e', data: {} });
    expect(published.status).to.equal(200);
    expect(published.body.ok).to.equal(true);
    expect((await fetch(`${nginx.url}/api/v1/nope`)).status).to.equal(404);
  });

  it('keeps /metrics and /readyz off the public listener in every spelling, while the nodes answer them directly; /status stays reachable', async () => {
    const node = cluster.nodes[0] as GatewayProcess;
    expect((await fetch(`${node.url}/metrics`)).status, 'the node itself serves /metrics').to.equal(200);
    expect((await fetch(`${node.url}/Metrics/`)).status, "the node's router is case-insensitive and ignores a trailing slash").to.equal(200);
    expect((await fetch(`${node.url}/readyz`)).status).to.equal(200);
    for (const path of ['/metrics', '/Metrics', '/METRICS/', '/metrics?x=1', '/%6detrics', '//metrics', '/./metrics', '/x/../metrics', '/readyz', '/ReadyZ/', '/readyz?full=1']) {
      const answer = await requestFrom('127.0.0.1', `${nginx.url}${path}`);
      expect(answer.status, `${path} through NGINX`).to.equal(404);
      expect(answer.body, path).not.to.match(/roomcast_|# HELP|"ok"/);
    }
    // The status page goes through (the node checks ADMIN_TOKEN on its /admin socket), and so does the demo.
    const status = await fetch(`${nginx.url}/status`);
    expect(status.status).to.equal(200);
    expect(await status.text()).to.match(/<html/i);
    expect((await fetch(`${nginx.url}/`)).status).to.equal(200);
  });

  it('logs no query string: an SSE token (accepted or refused) never reaches the access log', async () => {
    const sseToken = await signToken(TEST_JWT_SECRET, { sub: 'sse-logged', rooms: ['nginx:*'] });
    const stream = await openFrom('127.0.0.1', `${nginx.url}/sse?room=nginx:log&token=${encodeURIComponent(sseToken)}`);
    expect(stream.status).to.equal(200);
    await waitFor(() => stream.body().length > 0, 5_000, 'the stream to start');
    stream.close();
    const refused = await requestFrom('127.0.0.1', `${nginx.url}/sse?room=nginx:log&token=not.a.valid-token-secret`);
    expect(refused.status).to.equal(401);
    // WebSocket-only clients may carry a token in the query as well.
    await requestFrom('127.0.0.1', `${nginx.url}/socket.io/?EIO=4&transport=polling&token=query-token-secret`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const log = await readFile(join(nginx.dir, 'access.log'), 'utf8');
    expect(log).to.include('"GET /sse HTTP/1.1" 200');
    expect(log).to.include('"GET /sse HTTP/1.1" 401');
    expect(log).not.to.include(sseToken);
    expect(log).not.to.include(sseToken.split('.')[2] as string);
    expect(log).not.to.match(/token=|not\.a\.valid|query-token-secret|EIO=4/);
  });

  describe('X-Forwarded-For (to an upstream that echoes what it received)', () => {
    let echo: Server | undefined;
    let front: NginxProcess | undefined;
    after(async () => {
      await front?.stop();
      await new Promise((resolve) => (echo === undefined ? resolve(undefined) : echo.close(resolve)));
    });

    it('is the client address NGINX saw, never a list the client began', async () => {
      echo = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ xff: req.headers['x-forwarded-for'] ?? null, realIp: req.headers['x-real-ip'] ?? null }));
      });
      await new Promise<void>((resolve) => echo?.listen(0, '127.0.0.1', resolve));
      front = await startNginx({ nodes: [{ id: 'echo', host: '127.0.0.1', port: (echo.address() as AddressInfo).port }] });
      for (const path of ['/api/v1/publish', '/socket.io/?EIO=4&transport=polling', '/sse?room=a']) {
        const answer = await requestFrom('127.0.0.7', `${front.url}${path}`, { headers: { 'x-forwarded-for': '6.6.6.6, 7.7.7.7', 'x-real-ip': '6.6.6.6' } });
        expect(JSON.parse(answer.body), path).to.deep.equal({ xff: '127.0.0.7', realIp: '127.0.0.7' });
      }
    });
  });

  describe('/dev/token', () => {
    let devNode: GatewayProcess | undefined;
    const fronts: NginxProcess[] = [];
    after(async () => {
      for (const front of fronts) await front.stop();
      await devNode?.kill();
    });

    it('is not proxied by the production config, even to a development node; a development config (devToken) proxies it', async () => {
      devNode = await startGatewayProcess({ NODE_ID: 'devnode' });
      const node = { id: 'devnode', host: '127.0.0.1', port: devNode.port };
      const mint = (url: string): Promise<Answer> =>
        requestFrom('127.0.0.1', `${url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"mallory"}' });
      expect((await mint(devNode.url)).status, 'the development node mints tokens itself').to.equal(200);
      const production = await startNginx({ nodes: [node] });
      fronts.push(production);
      for (const path of ['/dev/token', '/DEV/Token', '/dev/token/', '/dev//token']) {
        const answer = await requestFrom('127.0.0.1', `${production.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"mallory"}' });
        expect(answer.status, path).to.equal(404);
        expect(answer.body, path).not.to.include('token');
      }
      const development = await startNginx({ nodes: [node], devToken: true });
      fronts.push(development);
      expect((await mint(development.url)).status).to.equal(200);
    });
  });

  describe('per-address limits (limit_req on new sessions, limit_conn on open connections)', () => {
    let limited: NginxProcess | undefined;
    after(async () => limited?.stop());

    it('a handshake flood from one address is refused with 429; other addresses, and the sessions already open, are not', async () => {
      limited = await startNginx({
        nodes: cluster.nodes.map((gateway) => ({ id: gateway.nodeId, host: '127.0.0.1', port: gateway.port })),
        handshakeRatePerSecond: 5,
        handshakeBurst: 10,
        maxConnectionsPerAddress: 5,
      });
      const handshake = (from: string): Promise<Answer> => requestFrom(from, `${limited?.url ?? ''}/socket.io/?EIO=4&transport=polling`);
      const flood = await Promise.all(Array.from({ length: 60 }, () => handshake('127.0.0.2')));
      const refused = flood.filter(refusedByNginx).length;
      expect(refused, `statuses: ${flood.map((a) => a.status).join(',')}`).to.be.at.least(40);
      const opened = flood.find((answer) => answer.status === 200);
      expect(opened, 'the burst is let through').not.to.equal(undefined);

      // Another address opens sessions as usual, right in the middle of the flood.
      const other = await Promise.all(Array.from({ length: 5 }, () => handshake('127.0.0.3')));
      expect(other.map((answer) => answer.status)).to.deep.equal([200, 200, 200, 200, 200]);

      // The flooding address's open session keeps working: requests with a sid are not handshakes.
      const sid = (JSON.parse((opened as Answer).body.slice((opened as Answer).body.indexOf('{'))) as { sid: string }).sid;
      const poll = await requestFrom('127.0.0.2', `${limited.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: '1',
      });
      expect(poll.status, poll.body).to.equal(200);
    });

    it('one address holding the most connections it may gets 429 for more; another address does not', async () => {
      const url = (limited as NginxProcess).url;
      const sseToken = await signToken(TEST_JWT_SECRET, { sub: 'holder', rooms: ['nginx:*'] });
      const streamUrl = `${url}/sse?room=nginx:held&token=${encodeURIComponent(sseToken)}`;
      const held = [];
      for (let index = 0; index < 8; index += 1) held.push(await openFrom('127.0.0.4', streamUrl));
      try {
        const statuses = held.map((stream) => stream.status);
        expect(statuses.filter((status) => status === 200), statuses.join(',')).to.have.length(5);
        expect(statuses.filter((status) => status === 429), statuses.join(',')).to.have.length(3);
        const elsewhere = await openFrom('127.0.0.5', streamUrl);
        elsewhere.close();
        expect(elsewhere.status).to.equal(200);
      } finally {
        for (const stream of held) stream.close();
      }
      // Closing them frees the address again.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const again = await openFrom('127.0.0.4', streamUrl);
      again.close();
      expect(again.status).to.equal(200);
    });
  });

  describe('control: the same NGINX without the session map', () => {
    let plain: NginxProcess | undefined;
    after(async () => plain?.stop());

    it('breaks polling-first sessions with "Session ID unknown", which is what the tests above would catch', async () => {
      const nodes = cluster.nodes.map((gateway) => ({ id: gateway.nodeId, host: '127.0.0.1', port: gateway.port }));
      // Render into a placeholder prefix, then point it at the helper's dir: the helper owns the temp dir.
      const withMap = renderNginxConfig({ nodes, listen: 1, prefixDir: '/PREFIX', workerConnections: 1024, workerRlimitNofile: 2048 });
      const withoutMap = withMap
        .split('\n')
        .filter((line) => !/^\s*~\^/.test(line))
        .join('\n')
        .replaceAll('/PREFIX/', '')
        .replace('listen 1;', 'listen 127.0.0.1:__PORT__;');
      const port = await freePort();
      plain = await startNginx(withoutMap.replace('__PORT__', String(port)), { port });

      const outcomes = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const socket = await connect(plain?.url ?? '', token, { transports: POLLING_FIRST }).catch(() => null);
          if (socket === null) return 'refused';
          sockets.push(socket);
          const ok = await request(socket, 'room:join', { room: 'nginx:control' }).then(
            () => upgraded(socket, 3_000).then(() => 'ok'),
            () => 'broken',
          ).catch(() => 'broken');
          return socket.connected ? ok : 'broken';
        }),
      );
      expect(outcomes.filter((outcome) => outcome !== 'ok').length, outcomes.join(',')).to.be.above(0);
      const log = await readFile(join(plain.dir, 'access.log'), 'utf8');
      expect(log).to.match(/"(GET|POST) \/socket\.io\/\S* HTTP\/1\.1" 400 /);
    });
  });
});
