/**
 * Many nodes when things fail: a node killed with SIGKILL, Redis going away
 * and coming back, a subscriber that silently stops receiving. Real
 * redis-server and gateway processes.
 */
import { expect } from 'chai';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { startGatewayProcess } from '../../tools/processes/gateway-process.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { assertOk, collectMessages, connect, nextEvent, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const tokenFor = (sub: string): Promise<string> => signToken(TEST_JWT_SECRET, { sub, rooms: ['f:*'] });

async function readiness(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitForReadiness(url: string, status: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await readiness(url);
    if (state.status === status) return state.body;
    if (Date.now() > deadline) throw new Error(`${url}/readyz stayed ${state.status} (wanted ${status}): ${JSON.stringify(state.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Two in-process nodes sharing one Redis. */
async function twoNodes(redis: RedisProcess, env: Record<string, string> = {}): Promise<TestGateway[]> {
  return [await startGateway({ REDIS_URL: redis.url, ...env, NODE_ID: 'node1' }), await startGateway({ REDIS_URL: redis.url, ...env, NODE_ID: 'node2' })];
}

describe('cluster failures', function () {
  this.timeout(60_000);
  const sockets: TestSocket[] = [];
  const open = async (url: string, sub: string): Promise<TestSocket> => {
    const socket = await connect(url, await tokenFor(sub));
    sockets.push(socket);
    return socket;
  };
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  describe('a node killed with SIGKILL', () => {
    let cluster: TestCluster;
    const nodeTtlMs = 2000;
    before(async () => {
      cluster = await startCluster({ nodes: 3, redis: 'single', env: { NODE_TTL_MS: String(nodeTtlMs) } });
    });
    after(() => cluster.stop());

    it("its members disappear from presence on every other node, with presence:leave, within NODE_TTL_MS and a sweep", async () => {
      const [node1, node2, node3] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
      const watcher = await open(node1.url, 'watcher');
      const doomed = await open(node3.url, 'doomed');
      const survivor = await open(node2.url, 'survivor');
      for (const socket of [watcher, doomed, survivor]) assertOk(await request(socket, 'room:join', { room: 'f:presence' }));
      const before = assertOk(await request(watcher, 'presence:list', { room: 'f:presence' }));
      expect(before.members.map((m) => m.nodeId).sort()).to.deep.equal(['node1', 'node2', 'node3']);

      const left = nextEvent(watcher, 'presence:leave', nodeTtlMs * 4);
      const killedAt = Date.now();
      await node3.kill();
      const event = await left;
      const took = Date.now() - killedAt;
      expect(event.member).to.include({ userId: 'doomed', nodeId: 'node3' });
      expect(took).to.be.below(nodeTtlMs * 2 + 1000);
      for (const socket of [watcher, survivor]) {
        const after = assertOk(await request(socket, 'presence:list', { room: 'f:presence' }));
        expect(after.members.map((m) => m.userId).sort()).to.deep.equal(['survivor', 'watcher']);
      }
    });

    it('a node restarted under the same id clears what its previous process left at once', async () => {
      const node2 = cluster.nodes[1] as (typeof cluster.nodes)[0];
      const watcher = await open((cluster.nodes[0] as (typeof cluster.nodes)[0]).url, 'watcher2');
      const ghost = await open(node2.url, 'ghost');
      assertOk(await request(watcher, 'room:join', { room: 'f:restart' }));
      assertOk(await request(ghost, 'room:join', { room: 'f:restart' }));
      await node2.kill();
      const restarted = await startGatewayProcess({
        JWT_SECRET: TEST_JWT_SECRET,
        REDIS_URL: (cluster.redis as RedisProcess).url,
        NODE_TTL_MS: '600000',
        NODE_ID: node2.nodeId,
        PORT: String(node2.port),
      });
      cluster.nodes[1] = restarted;
      // With a TTL of ten minutes only the restart's own cleanup can have removed the ghost.
      const after = assertOk(await request(watcher, 'presence:list', { room: 'f:restart' }));
      expect(after.members.map((m) => m.userId)).to.deep.equal(['watcher2']);
    });
  });

  describe('Redis stopped and started again', () => {
    let redis: RedisProcess;
    let nodes: TestGateway[];
    before(async () => {
      redis = await startRedis();
      nodes = await twoNodes(redis);
    });
    after(async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await redis.stop();
    });

    it('readiness 503 and UNAVAILABLE while it is down (nothing claimed stored), then everything resumes without a restart', async () => {
      const [node1, node2] = nodes as [TestGateway, TestGateway];
      const reader = await open(node2.url, 'reader');
      const writer = await open(node1.url, 'writer');
      assertOk(await request(reader, 'room:join', { room: 'f:outage' }));
      assertOk(await request(writer, 'room:join', { room: 'f:outage' }));
      const inbox = collectMessages(reader);
      expect((await httpPublish(node1.url, { room: 'f:outage', event: 'n', data: 'before' })).status).to.equal(200);
      await waitFor(() => inbox.length === 1);

      await redis.kill();
      for (const node of nodes) expect((await waitForReadiness(node.url, 503, 5000)).reason).to.match(/redis/);
      const refused = await httpPublish(node1.url, { room: 'f:outage', event: 'n', data: 'during' });
      expect(refused.status).to.equal(503);
      expect(refused.body.error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
      const clientRefused = await request(writer, 'room:publish', { room: 'f:outage', event: 'n', data: 'during' });
      if (clientRefused.ok) throw new Error('a client publish was accepted without Redis');
      expect(clientRefused.error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });

      await redis.restart();
      for (const node of nodes) await waitForReadiness(node.url, 200, 15_000);
      const resumed = await httpPublish(node1.url, { room: 'f:outage', event: 'n', data: 'after' });
      expect(resumed.status).to.equal(200);
      // Redis came back empty: the room's history is a new epoch, from offset 1.
      expect((resumed.body.results as Array<{ offset: number }>)[0]?.offset).to.equal(1);
      await waitFor(() => inbox.length === 2, 5000, 'delivery across nodes after the outage');
      expect(inbox.map((m) => m.data)).to.deep.equal(['before', 'after']);
      expect(inbox[1]?.epoch).to.not.equal(inbox[0]?.epoch);
    });
  });

  describe('presence across a Redis outage longer than NODE_TTL_MS', () => {
    for (const persistent of [true, false]) {
      it(`keeps every live member (${persistent ? 'Redis keeps its data' : 'Redis comes back empty'}) and announces no false leave`, async () => {
        const redis = await startRedis(persistent ? { extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] } : {});
        const nodes = await twoNodes(redis, { NODE_TTL_MS: '1000' });
        try {
          const [node1, node2] = nodes as [TestGateway, TestGateway];
          const watcher = await open(node1.url, 'watcher');
          const other = await open(node2.url, 'other');
          assertOk(await request(watcher, 'room:join', { room: 'f:outage-presence' }));
          assertOk(await request(other, 'room:join', { room: 'f:outage-presence' }));
          const leaves: string[] = [];
          watcher.on('presence:leave', ({ member }) => leaves.push(member.userId));

          await redis.kill();
          await new Promise((resolve) => setTimeout(resolve, 2500));
          await redis.restart();
          for (const node of nodes) await waitForReadiness(node.url, 200, 15_000);
          const expected = ['other', 'watcher'];
          const listed = async (socket: TestSocket): Promise<string[]> => {
            const ack = await request(socket, 'presence:list', { room: 'f:outage-presence' });
            return ack.ok ? ack.members.map((m) => m.userId).sort() : [];
          };
          const deadline = Date.now() + 8000;
          while ((await listed(watcher)).join() !== expected.join() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
          // Two sweeps' worth of time after recovery: a false purge would have happened by now.
          await new Promise((resolve) => setTimeout(resolve, 2500));
          expect(await listed(watcher)).to.deep.equal(expected);
          expect(await listed(other)).to.deep.equal(expected);
          if (persistent) expect(leaves).to.deep.equal([]);
        } finally {
          for (const socket of sockets.splice(0)) socket.close();
          await Promise.all(nodes.map((node) => node.close()));
          await redis.stop();
        }
      });
    }
  });

  describe('the canary', () => {
    let redis: RedisProcess;
    let nodes: TestGateway[];
    before(async () => {
      redis = await startRedis();
      nodes = await twoNodes(redis);
    });
    after(async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await redis.stop();
    });

    it('measures pub/sub lag and reports it on /readyz', async () => {
      const node1 = nodes[0] as TestGateway;
      await waitFor(() => (node1.gateway.backends.canary?.status().samples ?? 0) >= 2, 5000, 'canary samples');
      const body = await waitForReadiness(node1.url, 200, 1000);
      expect(body.canary).to.include({ healthy: true });
      expect((body.canary as { p99Ms: number }).p99Ms).to.be.a('number').and.at.least(0);
    });

    it('a node whose event loop stalls past the canary window keeps its subscriber: late probes are not lost probes', async () => {
      const [node1, node2] = nodes as [TestGateway, TestGateway];
      await waitFor(() => (node1.gateway.backends.canary?.status().samples ?? 0) >= 2, 5000, 'canary samples');
      const resetsBefore = node1.gateway.backends.canary?.status().resets ?? -1;
      // A saturated node: 5 s without a turn of the event loop, past the canary's 3.5 s window. The probes
      // published before it come back meanwhile and wait in the socket; none is lost.
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        // busy
      }
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(node1.gateway.backends.canary?.status()).to.include({ healthy: true, resets: resetsBefore });
      expect(node2.gateway.backends.canary?.status()).to.include({ healthy: true });
      expect((await fetch(`${node1.url}/readyz`)).status).to.equal(200);
    });

    it('a subscriber that silently stops receiving makes the node not ready, and the node repairs it', async () => {
      const [node1, node2] = nodes as [TestGateway, TestGateway];
      const reader = await open(node1.url, 'reader');
      assertOk(await request(reader, 'room:join', { room: 'f:canary' }));
      const inbox = collectMessages(reader);
      // Drop every subscription of node1's subscriber connection behind node-redis's back, as a reconnect that
      // did not resubscribe would: node-redis still believes it is subscribed.
      const subscriber = node1.gateway.backends.redis?.subscriberClient as unknown as { sendCommand(args: string[]): Promise<unknown> };
      subscriber.sendCommand(['UNSUBSCRIBE']).catch(() => undefined);
      subscriber.sendCommand(['PUNSUBSCRIBE']).catch(() => undefined);
      const failing = await waitForReadiness(node1.url, 503, 8000);
      expect(failing.reason).to.match(/canary/);
      const repaired = await waitForReadiness(node1.url, 200, 15_000);
      expect((repaired.canary as { resets: number }).resets).to.be.at.least(1);
      expect((await httpPublish(node2.url, { room: 'f:canary', event: 'n', data: 'after repair' })).status).to.equal(200);
      await waitFor(() => inbox.length === 1, 5000, 'cross-node delivery after the repair');
    });
  });

  describe('MAX_ROOM_MEMBERS across nodes', () => {
    it('counts members of every node', async () => {
      const redis = await startRedis();
      const nodes = await twoNodes(redis, { MAX_ROOM_MEMBERS: '2' });
      try {
        const [node1, node2] = nodes as [TestGateway, TestGateway];
        assertOk(await request(await open(node1.url, 'a'), 'room:join', { room: 'f:full' }));
        assertOk(await request(await open(node2.url, 'b'), 'room:join', { room: 'f:full' }));
        const refused = await request(await open(node1.url, 'c'), 'room:join', { room: 'f:full' });
        if (refused.ok) throw new Error('a third member joined across nodes');
        expect(refused.error.code).to.equal('ROOM_FULL');
      } finally {
        for (const socket of sockets.splice(0)) socket.close();
        await Promise.all(nodes.map((node) => node.close()));
        await redis.stop();
      }
    });
  });
});
