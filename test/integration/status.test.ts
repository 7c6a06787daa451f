/**
 * The status page's data path (issue 6): the `/admin` namespace and its token,
 * `status:node` figures from every node through the adapter, and the page's
 * HTTP route, on or off with ADMIN_TOKEN.
 */
import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import type { AdminClientToServerEvents, AdminServerToClientEvents, ErrorPayload, NodeStatus } from '../../shared/index.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { assertOk, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const ADMIN_TOKEN = 'status-admin-token-0123456789';

type AdminSocket = Socket<AdminServerToClientEvents, AdminClientToServerEvents>;

function adminSocket(url: string, auth: Record<string, unknown>): AdminSocket {
  return io(`${url}/admin`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
}

/** Connects to /admin; resolves with the socket and every status:node it receives, by node. */
function connectAdmin(url: string, adminToken: string): Promise<{ socket: AdminSocket; byNode: Map<string, NodeStatus[]> }> {
  const socket = adminSocket(url, { adminToken });
  const byNode = new Map<string, NodeStatus[]>();
  socket.on('status:node', (status) => byNode.set(status.nodeId, [...(byNode.get(status.nodeId) ?? []), status]));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, byNode }));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

function adminRefused(url: string, auth: Record<string, unknown>): Promise<{ message: string; data: ErrorPayload | undefined }> {
  const socket = adminSocket(url, auth);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.close();
      reject(new Error('expected /admin to refuse the handshake'));
    });
    socket.once('connect_error', (error: Error & { data?: ErrorPayload }) => {
      socket.close();
      resolve({ message: error.message, data: error.data });
    });
  });
}

const latest = (byNode: Map<string, NodeStatus[]>, nodeId: string): NodeStatus | undefined => byNode.get(nodeId)?.at(-1);

describe('status page: /admin and status:node', function () {
  this.timeout(60_000);

  describe('one node', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ ADMIN_TOKEN });
    });
    after(() => gw?.close());

    it('refuses a missing or wrong admin token with a typed UNAUTHENTICATED, accepts the right one', async () => {
      for (const auth of [{}, { adminToken: '' }, { adminToken: 'wrong-token-0123456789' }, { adminToken: `${ADMIN_TOKEN}x` }, { adminToken: 42 }, { token: ADMIN_TOKEN }]) {
        const refusal = await adminRefused(gw.url, auth);
        expect(refusal.data, JSON.stringify(auth)).to.deep.include({ code: 'UNAUTHENTICATED', retryable: false });
      }
      const { socket, byNode } = await connectAdmin(gw.url, ADMIN_TOKEN);
      try {
        // Its own node's latest figures at once, then one a second.
        await waitFor(() => (byNode.get('test-node')?.length ?? 0) >= 2, 5000, 'two status:node from test-node');
        const status = latest(byNode, 'test-node') as NodeStatus;
        expect(status).to.include({ nodeId: 'test-node', ready: true, draining: false, notReadyReason: null, pubsubLagP99Ms: null });
        expect(status.connections).to.be.at.least(1);
        expect(status.heapUsedBytes).to.be.greaterThan(0);
        expect(status.rssBytes).to.be.greaterThan(status.heapUsedBytes);
        expect(status.messagesInPerSecond).to.be.at.least(0);
        expect(status.uptimeSeconds).to.be.at.least(0);
      } finally {
        socket.close();
      }
    });

    it('an admin token does not open the protocol namespaces, nor a JWT /admin', async () => {
      const user = await signToken(gw.secret, { sub: 'alice' });
      expect((await adminRefused(gw.url, { token: user, adminToken: user })).data?.code).to.equal('UNAUTHENTICATED');
      const refused = await new Promise<ErrorPayload | undefined>((resolve) => {
        const socket = io(gw.url, { auth: { adminToken: ADMIN_TOKEN }, transports: ['websocket'], reconnection: false, forceNew: true });
        socket.once('connect_error', (error: Error & { data?: ErrorPayload }) => {
          socket.close();
          resolve(error.data);
        });
        socket.once('connect', () => {
          socket.close();
          resolve(undefined);
        });
      });
      expect(refused?.code).to.equal('UNAUTHENTICATED');
    });

    it('GET /status serves the page shell, which holds no figures; its script is served beside it', async () => {
      const page = await fetch(`${gw.url}/status`);
      expect(page.status).to.equal(200);
      expect(page.headers.get('content-type')).to.match(/^text\/html/);
      expect(page.headers.get('content-security-policy')).to.contain("script-src 'self'");
      const html = await page.text();
      expect(html).to.contain('Roomcast status');
      expect(html).to.not.contain('test-node');
      const script = await fetch(`${gw.url}/status/app.js`);
      expect(script.status).to.equal(200);
      expect(script.headers.get('content-type')).to.match(/javascript/);
    });
  });

  it('ADMIN_TOKEN unset: GET /status is a NOT_FOUND 404 and /admin is refused', async () => {
    const gw = await startGateway();
    try {
      for (const path of ['/status', '/status/', '/status/app.js', '/status/index.html']) {
        const response = await fetch(`${gw.url}${path}`);
        expect(response.status, path).to.equal(404);
        expect(((await response.json()) as { error: { code: string } }).error.code, path).to.equal('NOT_FOUND');
      }
      const refusal = await adminRefused(gw.url, { adminToken: ADMIN_TOKEN });
      expect(refusal.message).to.equal('Invalid namespace');
    } finally {
      await gw.close();
    }
  });

  describe('two nodes on one Redis', () => {
    let redis: RedisProcess;
    let a: TestGateway;
    let b: TestGateway;
    before(async () => {
      redis = await startRedis();
      a = await startGateway({ REDIS_URL: redis.url, ADMIN_TOKEN, NODE_ID: 'node-a' });
      b = await startGateway({ REDIS_URL: redis.url, ADMIN_TOKEN, NODE_ID: 'node-b', DRAIN_TIMEOUT_MS: '1000' });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await redis?.stop();
    });

    it('a page on node A gets every node\'s figures; B\'s connections and messages out follow its clients; B draining shows', async () => {
      const { socket, byNode } = await connectAdmin(a.url, ADMIN_TOKEN);
      const clients: TestSocket[] = [];
      try {
        await waitFor(() => byNode.has('node-a') && byNode.has('node-b'), 5000, 'status:node from node-a and node-b');
        const before = latest(byNode, 'node-b') as NodeStatus;
        expect(before).to.include({ ready: true, draining: false });
        // The canary's lag, once it has a sample.
        await waitFor(() => latest(byNode, 'node-b')?.pubsubLagP99Ms !== null, 5000, 'a pub/sub lag on node-b');
        expect(latest(byNode, 'node-b')?.pubsubLagP99Ms).to.be.a('number').and.at.least(0);

        for (let i = 0; i < 4; i += 1) clients.push(await connect(b.url, await signToken(b.secret, { sub: `u${i}`, rooms: ['status:*'] })));
        await waitFor(() => (latest(byNode, 'node-b')?.connections ?? 0) >= before.connections + 4, 5000, "node-b's connections to rise by 4");
        expect(latest(byNode, 'node-a')?.connections).to.equal(1);

        // Published on A, delivered by B to its 4 members: B's "out" counts recipients; the joins count as B's "in".
        for (const client of clients) assertOk(await request(client, 'room:join', { room: 'status:room' }));
        const published = Date.now();
        for (let i = 0; i < 10; i += 1) expect((await httpPublish(a.url, { room: 'status:room', event: 'tick', data: i })).status).to.equal(200);
        await waitFor(() => byNode.get('node-b')?.some((status) => status.at > published && status.messagesOutPerSecond > 0) ?? false, 5000, "node-b's messages out");
        expect(byNode.get('node-b')?.some((status) => status.messagesInPerSecond > 0)).to.equal(true);

        for (const client of clients) client.close();
        await waitFor(() => latest(byNode, 'node-b')?.connections === before.connections, 5000, "node-b's connections back down");

        await b.gateway.drain();
        await waitFor(() => latest(byNode, 'node-b')?.draining === true, 5000, 'node-b reported draining');
        expect(latest(byNode, 'node-b')).to.include({ ready: false, notReadyReason: 'draining' });
        expect(latest(byNode, 'node-a')).to.include({ ready: true, draining: false });
      } finally {
        for (const client of clients) client.close();
        socket.close();
      }
    });
  });
});
