/**
 * Gateway nodes behind a real NGINX with the generated config. The nodes run
 * without Redis, each on its own, so every check here is about routing: a
 * polling-first session must keep reaching the node that created it (its
 * polling requests and its WebSocket upgrade), or that node's peers answer
 * "Session ID unknown" (400).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { renderNginxConfig } from '../../nginx/generate-config.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { freePort } from '../support/free-port.js';
import { httpPublish } from '../support/gateway.js';
import { startNginx, type NginxProcess } from '../support/nginx.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';

type Transports = Array<'polling' | 'websocket'>;
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
    cluster = await startCluster({ nodes: 3, nginx: true });
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
    expect((await fetch(`${nginx.url}/readyz`)).status).to.equal(200);
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
