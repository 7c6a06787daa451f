/**
 * The REST API across nodes: two gateways on one Redis, then on a three-master
 * Redis Cluster. The room listing and presence counts see every node's members
 * (read from Redis, whichever node is asked; pages complete), and a user
 * command given to one node reaches the user's sockets and SSE streams on both.
 */
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { allRoomPages, api, eventuallyMembers } from '../support/rest-api.js';
import { openAccepted, type SseStream } from '../support/sse.js';
import { assertOk, collectMessages, connect, nextEvent, request, waitFor, type TestSocket } from '../support/sockets.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const token = (sub: string): Promise<string> => signToken(TEST_JWT_SECRET, { sub, rooms: ['*'] });

function acrossNodes(topology: 'one Redis' | 'a Redis Cluster', redisEnv: () => Record<string, string>): void {
  describe(`across two nodes on ${topology}`, function () {
    this.timeout(60_000);
    let a: TestGateway;
    let b: TestGateway;
    const sockets: TestSocket[] = [];
    const streams: SseStream[] = [];
    const connectAs = async (node: TestGateway, user: string, rooms: string[] = []): Promise<TestSocket> => {
      const socket = await connect(node.url, await token(user));
      sockets.push(socket);
      for (const room of rooms) assertOk(await request(socket, 'room:join', { room }));
      return socket;
    };
    const sseAs = async (node: TestGateway, user: string, room: string): Promise<SseStream> => {
      const stream = await openAccepted(`${node.url}/sse?${new URLSearchParams({ room, token: await token(user) }).toString()}`);
      streams.push(stream);
      await stream.next((event) => event.event === 'position');
      return stream;
    };

    before(async () => {
      a = await startGateway({ ...redisEnv(), NODE_ID: 'node-a' });
      b = await startGateway({ ...redisEnv(), NODE_ID: 'node-b' });
    });
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
      for (const stream of streams.splice(0)) stream.close();
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('lists every occupied room of both nodes exactly once across pages, with counts summed over the nodes', async () => {
      const names = Array.from({ length: 23 }, (_, index) => `many:${String(index).padStart(2, '0')}`);
      // Even rooms on node a, rooms divisible by 3 on node b too: some rooms on one node, some on both.
      await connectAs(a, 'lister-a', names.filter((_, index) => index % 2 === 0));
      await connectAs(b, 'lister-b', names.filter((_, index) => index % 3 === 0 || index % 2 === 1));
      const expected = names.map((room, index) => ({ room, members: (index % 2 === 0 ? 1 : 0) + (index % 3 === 0 || index % 2 === 1 ? 1 : 0) }));
      for (const node of [a, b]) {
        for (const limit of [1, 5, 100]) {
          const pages = await allRoomPages(node.url, `prefix=many:&limit=${limit}`);
          expect(pages.flat(), `from ${node === a ? 'a' : 'b'}, limit ${limit}`).to.deep.equal(expected);
          for (const page of pages) expect(page.length).to.be.at.most(limit);
        }
      }
    });

    it('counts connections and distinct users of a room over both nodes', async () => {
      await connectAs(a, 'wendy', ['both:r']);
      await connectAs(b, 'wendy', ['both:r']);
      await connectAs(b, 'xavier', ['both:r']);
      for (const node of [a, b]) {
        expect((await api(node.url, '/api/v1/rooms/both:r/presence?counts=1')).body).to.deep.equal({ ok: true, room: 'both:r', namespace: '/', members: 3, users: 2 });
      }
      expect((await api(a.url, '/api/v1/rooms?prefix=both:')).body.rooms).to.deep.equal([{ room: 'both:r', members: 3 }]);
    });

    it('disconnects a user on both nodes, sockets and SSE streams, asked on one', async () => {
      const onA = await connectAs(a, 'yolanda', ['gone:r']);
      const onB = await connectAs(b, 'yolanda', ['gone:r']);
      const stream = await sseAs(b, 'yolanda', 'gone:r');
      const bystander = await connectAs(b, 'zed', ['gone:r']);
      const errors = [nextEvent(onA, 'protocol:error', 10_000), nextEvent(onB, 'protocol:error', 10_000)];
      const answer = await api(a.url, '/api/v1/users/yolanda/disconnect', { method: 'POST', body: { code: 'FORBIDDEN_ROOM' } });
      expect(answer.body).to.deep.equal({ ok: true, user: 'yolanda', code: 'FORBIDDEN_ROOM' });
      for (const error of await Promise.all(errors)) expect(error.code).to.equal('FORBIDDEN_ROOM');
      await waitFor(() => !onA.connected && !onB.connected, 10_000, 'both sockets closed');
      expect(JSON.parse((await stream.next((event) => event.event === 'protocol:error', 10_000)).data).code).to.equal('FORBIDDEN_ROOM');
      await stream.waitEnded(10_000);
      expect(bystander.connected).to.equal(true);
      await eventuallyMembers(a.url, 'gone:r', ['zed']);
    });

    it('makes a user leave a room on both nodes, asked on one', async () => {
      const onA = await connectAs(a, 'ursula', ['out:r', 'out:kept']);
      const onB = await connectAs(b, 'ursula', ['out:r']);
      const stream = await sseAs(a, 'ursula', 'out:r');
      const bystander = await connectAs(a, 'vera', ['out:r']);
      const lefts = [nextEvent(onA, 'room:left', 10_000), nextEvent(onB, 'room:left', 10_000)];
      const answer = await api(b.url, '/api/v1/users/ursula/rooms/out:r/leave', { method: 'POST' });
      expect(answer.status).to.equal(200);
      expect(await Promise.all(lefts)).to.deep.equal([
        { room: 'out:r', reason: 'api' },
        { room: 'out:r', reason: 'api' },
      ]);
      expect(JSON.parse((await stream.next((event) => event.event === 'room:left', 10_000)).data)).to.deep.equal({ room: 'out:r', reason: 'api' });
      await eventuallyMembers(b.url, 'out:r', ['vera']);
      const seenByA = collectMessages(onA);
      const seenByB = collectMessages(onB);
      const seenByBystander = collectMessages(bystander);
      expect((await api(b.url, '/api/v1/publish', { method: 'POST', body: { room: 'out:r', event: 'after', data: 1 } })).status).to.equal(200);
      await waitFor(() => seenByBystander.length === 1, 10_000, 'the bystander to get the publication');
      expect([...seenByA, ...seenByB]).to.deep.equal([]);
      expect(onA.connected && onB.connected).to.equal(true);
      await eventuallyMembers(a.url, 'out:kept', ['ursula']);
    });
  });
}

describe('REST API across nodes', () => {
  describe('one Redis', function () {
    this.timeout(60_000);
    let redis: RedisProcess;
    before(async () => {
      redis = await startRedis();
    });
    after(() => redis?.stop());
    acrossNodes('one Redis', () => ({ REDIS_URL: redis.url }));
  });

  describe('a Redis Cluster', function () {
    this.timeout(60_000);
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    });
    after(() => cluster?.stop());
    acrossNodes('a Redis Cluster', () => ({ REDIS_CLUSTER_NODES: cluster.envValue }));
  });
});
