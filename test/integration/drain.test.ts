/**
 * Graceful drain: readiness first, no new connections, paced `server:draining`
 * advice, stragglers closed, exit 0 within DRAIN_TIMEOUT_MS; a second signal
 * exits at once. Through NGINX, clients move to another node and lose nothing.
 */
import { expect } from 'chai';
import { RoomcastClient } from '../../client/index.js';
import type { Message } from '../../shared/index.js';
import { planDrain } from '../../server/core/drain-plan.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { httpPublish, startGateway } from '../support/gateway.js';
import { startGatewayProcess } from '../../tools/processes/gateway-process.js';
import { startRedis, startRedisCluster } from '../../tools/processes/redis-server.js';
import { assertOk, connect, connectRefused, request, waitFor, type TestSocket } from '../support/sockets.js';
import { openAccepted } from '../support/sse.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

describe('graceful drain', function () {
  this.timeout(60_000);

  it('spreads reconnections evenly over 60% of the window, in 250 ms slots', () => {
    const plan = planDrain(1000, 10_000);
    expect(plan.delays[0]).to.equal(0);
    expect(Math.max(...plan.delays)).to.be.at.most(6000);
    expect(new Set(plan.delays).size).to.equal(24);
    const perSlot = new Map<number, number>();
    for (const delay of plan.delays) perSlot.set(delay, (perSlot.get(delay) ?? 0) + 1);
    expect(Math.max(...perSlot.values()) - Math.min(...perSlot.values())).to.be.at.most(1);
    expect(plan.graceMs).to.equal(2000);
  });

  it('drain(): not ready at once, handshakes refused with UNAVAILABLE, every client advised, stragglers closed', async () => {
    const gw = await startGateway({ DRAIN_TIMEOUT_MS: '3000' });
    const sockets: TestSocket[] = [];
    try {
      for (let i = 0; i < 12; i += 1) sockets.push(await connect(gw.url, await signToken(gw.secret, { sub: `u${i}` })));
      const advice: number[] = [];
      for (const socket of sockets) socket.on('server:draining', ({ reconnectInMs }) => advice.push(reconnectInMs));
      const drained = gw.gateway.drain();

      const readiness = await fetch(`${gw.url}/readyz`);
      expect(readiness.status).to.equal(503);
      expect(await readiness.json()).to.deep.include({ reason: 'draining' });
      const handshake = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`);
      expect(handshake.status).to.equal(503);
      expect(await handshake.json()).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
      await connectRefused(gw.url, await signToken(gw.secret, { sub: 'late' }));

      await waitFor(() => advice.length === 12, 2000, 'server:draining to every client');
      expect(Math.min(...advice)).to.equal(0);
      expect(Math.max(...advice)).to.be.at.most(1800);
      expect(new Set(advice).size).to.be.greaterThan(3);
      // These clients ignore the advice: the gateway disconnects them after their turn.
      await drained;
      expect(gw.gateway.io.engine.clientsCount).to.equal(0);
      expect(sockets.every((socket) => !socket.connected)).to.equal(true);
    } finally {
      for (const socket of sockets) socket.close();
      await gw.close();
    }
  });

  it('SIGTERM: the process drains and exits 0; a second signal exits at once', async () => {
    const node = await startGatewayProcess({ JWT_SECRET: TEST_JWT_SECRET, DRAIN_TIMEOUT_MS: '20000' });
    const socket = await connect(node.url, await signToken(TEST_JWT_SECRET, { sub: 'stays' }));
    try {
      node.process.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await fetch(`${node.url}/readyz`)).status).to.equal(503);
      node.process.kill('SIGTERM');
      const finished = await node.exited;
      // The drain path exits 0; only the second-signal path exits 1.
      expect(finished.code).to.equal(1);
    } finally {
      socket.close();
      await node.kill();
    }

    const clean = await startGatewayProcess({ JWT_SECRET: TEST_JWT_SECRET, DRAIN_TIMEOUT_MS: '3000' });
    const client = await connect(clean.url, await signToken(TEST_JWT_SECRET, { sub: 'leaves' }));
    const startedAt = Date.now();
    clean.process.kill('SIGTERM');
    const finished = await clean.exited;
    client.close();
    expect(finished.code).to.equal(0);
    expect(Date.now() - startedAt).to.be.below(3000 + 5000);
  });

  for (const topology of ['memory', 'single Redis', 'Redis Cluster'] as const) {
    it(`SIGTERM on ${topology}: a node serving rooms to sockets and SSE streams exits 0 (found by the chaos suite on the Cluster)`, async () => {
      const redis = topology === 'single Redis' ? await startRedis() : null;
      const redisCluster = topology === 'Redis Cluster' ? await startRedisCluster({ masters: 3 }) : null;
      const env: Record<string, string> = { JWT_SECRET: TEST_JWT_SECRET, DRAIN_TIMEOUT_MS: '1000' };
      if (redis !== null) env.REDIS_URL = redis.url;
      if (redisCluster !== null) env.REDIS_CLUSTER_NODES = redisCluster.envValue;
      const node = await startGatewayProcess(env);
      try {
        const token = await signToken(TEST_JWT_SECRET, { sub: 'member', rooms: ['d:*'] });
        const socket = await connect(node.url, token);
        // Many rooms: at close the sharded adapter unsubscribes each room's channel as the connections go.
        for (let index = 0; index < 20; index += 1) assertOk(await request(socket, 'room:join', { room: `d:room${index}` }));
        const stream = await openAccepted(`${node.url}/sse?room=d:streamed&token=${token}`);
        await stream.next((event) => event.event === 'position');
        node.process.kill('SIGTERM');
        const finished = await node.exited;
        socket.close();
        stream.close();
        expect(finished, `${topology}: the process ends by its drain, not by an error`).to.deep.include({ code: 0 });
      } finally {
        await node.kill();
        await redis?.stop();
        await redisCluster?.stop();
      }
    });
  }

  it('exits 0 within the window while backends keep publishing over keep-alive connections (found by the chaos suite)', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const node = await startGatewayProcess({ JWT_SECRET: TEST_JWT_SECRET, API_KEYS: TEST_API_KEY, DRAIN_TIMEOUT_MS: '1000', RATE_LIMIT_PER_S: '10000' });
      let publishing = true;
      // fetch keeps its connections alive: four loops keep four connections busy at all times.
      const loops = Array.from({ length: 4 }, async () => {
        while (publishing) await httpPublish(node.url, { room: 'k:1', event: 'n', data: 1 }).catch(() => undefined);
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const startedAt = Date.now();
      node.process.kill('SIGTERM');
      const finished = await node.exited;
      publishing = false;
      await Promise.all(loops);
      expect(finished.code, `attempt ${attempt}`).to.equal(0);
      expect(Date.now() - startedAt).to.be.below(1000 + 5000);
    }
  });

  describe('through NGINX, with Redis', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await startCluster({ nodes: 2, redis: 'single', nginx: true, env: { DRAIN_TIMEOUT_MS: '4000' } });
    });
    after(() => cluster.stop());

    it('clients of a draining node reconnect to the other one, rejoin with their offsets and lose nothing', async () => {
      const clients: RoomcastClient[] = [];
      const inboxes: Message[][] = [];
      const drainingSeen: number[] = [];
      try {
        for (let i = 0; i < 8; i += 1) {
          const client = new RoomcastClient(cluster.url, {
            token: await signToken(TEST_JWT_SECRET, { sub: `c${i}`, rooms: ['d:*'] }),
            transports: i % 2 === 0 ? ['websocket'] : ['polling', 'websocket'],
            reconnectionDelay: 100,
            reconnectionDelayMax: 500,
          });
          clients.push(client);
          const inbox: Message[] = [];
          inboxes.push(inbox);
          client.on('draining', ({ reconnectInMs }) => drainingSeen.push(reconnectInMs));
          await client.connect();
          await client.join('d:room', (message) => inbox.push(message));
        }
        const node1 = cluster.nodes[0];
        const node2 = cluster.nodes[1];
        if (node1 === undefined || node2 === undefined) throw new Error('two nodes expected');
        const onNode1 = clients.filter((client) => client.socket.io.engine.id.startsWith(`${node1.nodeId}.`)).length;
        expect(onNode1, 'some clients on the node to drain').to.be.greaterThan(0);

        let published = 0;
        const publishing = (async () => {
          for (let i = 0; i < 60; i += 1) {
            const response = await httpPublish(node2.url, { room: 'd:room', event: 'n', data: i });
            if (response.status === 200) published += 1;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 300));
        const stopped = node1.stop(15_000);
        const finished = await stopped;
        expect(finished.code).to.equal(0);
        await publishing;
        expect(drainingSeen.length).to.equal(onNode1);
        await waitFor(() => inboxes.every((inbox) => inbox.length === published), 15_000, 'every publication at every client');
        for (const inbox of inboxes) expect(inbox.map((m) => m.offset)).to.deep.equal(Array.from({ length: published }, (_, i) => i + 1));
        expect(clients.every((client) => client.socket.io.engine.id.startsWith(`${node2.nodeId}.`))).to.equal(true);
      } finally {
        for (const client of clients) client.close();
      }
    });
  });
});
