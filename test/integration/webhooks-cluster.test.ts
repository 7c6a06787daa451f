/**
 * Webhooks of many nodes, on one Redis and on a Redis Cluster: the queue in
 * Redis outlives a node killed with SIGKILL (another node delivers every event
 * it had queued or was retrying), room.occupied / room.vacated come once per
 * transition with members on two nodes, and the liveness sweeper's removals
 * of a dead node's members are member.left (node-lost) and one room.vacated.
 * Real redis-server processes, real gateways (processes where one is killed),
 * a real receiver.
 */
import { expect } from 'chai';
import type { WebhookEvent } from '../../shared/index.js';
import { webhookKeys } from '../../server/backends/redis/webhook-queue.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, request, type TestSocket } from '../support/sockets.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { freePort } from '../../tools/processes/free-port.js';
import { connectTestRedis, connectTestRedisCluster, type TestRedisClient } from '../../tools/processes/redis-client.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const WEBHOOK_SECRET = 'webhook-secret-of-at-least-32-characters!';
// The counts below are of the rooms each test uses: the auto-joined user:<sub> rooms (whose events webhooks.test.ts
// covers) would add theirs.
const NO_USER_ROOM = { AUTO_JOIN_USER_ROOM: 'false' };

const ofRoom = (events: WebhookEvent[], room: string): WebhookEvent[] => events.filter((event) => event.room === room);
const count = (events: WebhookEvent[], room: string, type: WebhookEvent['type']): number => ofRoom(events, room).filter((event) => event.type === type).length;
const indexOf = (events: WebhookEvent[], predicate: (event: WebhookEvent) => boolean): number => events.findIndex(predicate);

/** The connection of a member event (joined, left). */
const connectionOf = (event: WebhookEvent): string | undefined => ('connectionId' in event ? event.connectionId : undefined);

/** For each member: its room's occupied comes before its joined, its left before the vacated that followed. */
function expectMemberOrder(events: WebhookEvent[], room: string, connectionId: string): void {
  const joined = indexOf(events, (event) => event.room === room && event.type === 'member.joined' && connectionOf(event) === connectionId);
  const left = indexOf(events, (event) => event.room === room && event.type === 'member.left' && connectionOf(event) === connectionId);
  expect(joined, `${connectionId} joined ${room}`).to.be.greaterThan(-1);
  expect(indexOf(events, (event) => event.room === room && event.type === 'room.occupied')).to.be.below(joined);
  if (left >= 0) expect(indexOf(events, (event) => event.room === room && event.type === 'room.vacated')).to.be.greaterThan(left);
}

const token = (sub: string): Promise<string> => signToken(TEST_JWT_SECRET, { sub, rooms: ['wh:*'] });

for (const mode of ['single', 'cluster'] as const) {
  describe(`webhooks on ${mode === 'single' ? 'one Redis' : 'a Redis Cluster'}`, function () {
    this.timeout(120_000);
    const sockets: TestSocket[] = [];
    const open = async (url: string, sub: string): Promise<TestSocket> => {
      const socket = await connect(url, await token(sub));
      sockets.push(socket);
      return socket;
    };
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });

    describe('members of one room on two nodes', () => {
      let redis: RedisProcess | null = null;
      let redisCluster: RedisCluster | null = null;
      let receiver: WebhookReceiver;
      let nodes: TestGateway[] = [];
      before(async () => {
        receiver = await startWebhookReceiver();
        let redisEnv: Record<string, string>;
        if (mode === 'single') {
          redis = await startRedis();
          redisEnv = { REDIS_URL: redis.url };
        } else {
          redisCluster = await startRedisCluster({ masters: 3 });
          redisEnv = { REDIS_CLUSTER_NODES: redisCluster.envValue };
        }
        const env = { ...redisEnv, ...NO_USER_ROOM, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET };
        nodes = [await startGateway({ ...env, NODE_ID: 'wh-a' }), await startGateway({ ...env, NODE_ID: 'wh-b' })];
      });
      after(async () => {
        await Promise.all(nodes.map((node) => node.close()));
        await receiver.close();
        await redis?.stop();
        await redisCluster?.stop();
      });

      it('room.occupied and room.vacated once per transition, a member.joined and member.left for each member', async () => {
        const room = 'wh:shared';
        const members = await Promise.all(Array.from({ length: 6 }, (_, index) => open((nodes[index % 2] as TestGateway).url, `user${index}`)));
        for (let round = 0; round < 2; round += 1) {
          // Joins and leaves race across the two nodes: one of them sees 0 -> 1, one sees 1 -> 0.
          await Promise.all(members.map(async (socket) => assertOk(await request(socket, 'room:join', { room }))));
          await Promise.all(members.map(async (socket) => assertOk(await request(socket, 'room:leave', { room }))));
          const events = await receiver.waitFor((all) => count(all, room, 'room.vacated') === round + 1, 20_000, `vacated ${round + 1} times`);
          expect(count(events, room, 'room.occupied')).to.equal(round + 1);
          expect(count(events, room, 'member.joined')).to.equal(6 * (round + 1));
          expect(count(events, room, 'member.left')).to.equal(6 * (round + 1));
          expect(ofRoom(events, room).filter((event) => event.type === 'member.joined').map((event) => (event as { nodeId: string }).nodeId).sort()).to.include.members(['wh-a', 'wh-b']);
        }
        const events = receiver.accepted();
        // Both nodes produced events; whichever holds the lease delivered all of them, each once.
        expect(new Set(events.map((event) => event.id)).size).to.equal(events.length);
        const firstRound = events.slice(0, events.findIndex((event) => event.room === room && event.type === 'room.vacated') + 1);
        for (const socket of members) expectMemberOrder(firstRound, room, socket.id as string);
      });

      it('a node closed gracefully: its members leave (disconnect), and the other node delivers that and the vacated room', async () => {
        const [closing, staying] = nodes as [TestGateway, TestGateway];
        const member = await open(closing.url, 'closing-member');
        const connectionId = member.id as string;
        assertOk(await request(member, 'room:join', { room: 'wh:closing' }));
        await receiver.waitFor((all) => count(all, 'wh:closing', 'member.joined') === 1);
        await closing.close();
        const events = await receiver.waitFor((all) => count(all, 'wh:closing', 'room.vacated') === 1, 20_000, 'the room vacated');
        expect(ofRoom(events, 'wh:closing').map((event) => event.type)).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
        expect(ofRoom(events, 'wh:closing')[2]).to.include({ reason: 'disconnect', connectionId, nodeId: 'wh-a' });
        expect((await fetch(`${staying.url}/healthz`)).status).to.equal(200);
      });
    });

    describe('a node killed with SIGKILL', () => {
      const nodeTtlMs = 1_000;
      let cluster: TestCluster;
      let receiverPort: number;
      let receiver: WebhookReceiver | null = null;
      let client: TestRedisClient;
      before(async () => {
        receiverPort = await freePort();
        cluster = await startCluster({
          nodes: 2,
          redis: mode,
          env: { ...NO_USER_ROOM, WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/hook`, WEBHOOK_SECRET, NODE_TTL_MS: String(nodeTtlMs) },
        });
        client = mode === 'single' ? await connectTestRedis((cluster.redis as RedisProcess).url) : await connectTestRedisCluster((cluster.redisCluster as RedisCluster).nodes);
      });
      after(async () => {
        await client.close();
        await receiver?.close();
        await cluster.stop();
      });

      it('with the receiver down, loses nothing it queued or was retrying: another node delivers every event, then the removals of its members (node-lost) and one room.vacated per room', async () => {
        // The node that delivers (holds the lease) is the one killed, so its batch in retry must be taken over.
        let holder: string | null = null;
        const leaseDeadline = Date.now() + 10_000;
        while (holder === null) {
          holder = (await client.sendCommand(['GET', webhookKeys.lease])) as string | null;
          if (holder === null) {
            if (Date.now() > leaseDeadline) throw new Error('no node took the webhook lease');
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        const doomed = cluster.nodes.find((node) => node.nodeId === holder);
        const survivor = cluster.nodes.find((node) => node.nodeId !== holder);
        if (doomed === undefined || survivor === undefined) throw new Error(`the lease holder ${holder} is not one of the nodes`);

        const rooms = ['wh:k1', 'wh:k2', 'wh:k3', 'wh:k4'];
        const doomedMembers: TestSocket[] = [];
        for (const [index, room] of rooms.entries()) {
          const socket = await open(doomed.url, `doomed${index}`);
          assertOk(await request(socket, 'room:join', { room }));
          doomedMembers.push(socket);
        }
        // The survivor's own events go into the same queue, between the doomed node's.
        const visitor = await open(survivor.url, 'visitor');
        assertOk(await request(visitor, 'room:join', { room: 'wh:k1' }));
        assertOk(await request(visitor, 'room:leave', { room: 'wh:k1' }));

        // Queued: 4 x (occupied, joined) + the visitor's joined and left; the doomed node has read a batch and retries it.
        const stream = webhookKeys.stream;
        const deadline = Date.now() + 10_000;
        let queued: string[];
        for (;;) {
          const entries = (await client.sendCommand(['XRANGE', stream, '-', '+'])) as Array<[string, string[]]>;
          queued = entries.map(([, fields]) => (JSON.parse(fields[1] as string) as WebhookEvent).id);
          const pending = Number(((await client.sendCommand(['XPENDING', stream, 'roomcast'])) as [number])[0]);
          if (queued.length === 10 && pending > 0) break;
          if (Date.now() > deadline) throw new Error(`expected 10 queued events with some pending, got ${queued.length} queued, ${pending} pending`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }

        // A closed socket forgets its id: keep them to find its member.left.
        const doomedIds = doomedMembers.map((socket) => socket.id as string);
        await doomed.kill();
        for (const socket of doomedMembers) socket.close();
        receiver = await startWebhookReceiver({ port: receiverPort });
        const events = await receiver.waitFor(
          (all) => rooms.every((room) => count(all, room, 'room.vacated') === 1),
          nodeTtlMs * 20,
          'every room vacated after the node died',
        );
        // None lost: every event queued before the kill arrived.
        const arrived = new Set(events.map((event) => event.id));
        expect(queued.filter((id) => !arrived.has(id))).to.deep.equal([]);
        for (const [index, room] of rooms.entries()) {
          expect(count(events, room, 'room.occupied'), room).to.equal(1);
          expect(count(events, room, 'room.vacated'), room).to.equal(1);
          const left = ofRoom(events, room).filter((event) => event.type === 'member.left' && event.user === `doomed${index}`);
          expect(left).to.have.length(1);
          expect(left[0]).to.include({ reason: 'node-lost', nodeId: doomed.nodeId, connectionId: doomedIds[index] });
          expectMemberOrder(events, room, doomedIds[index] as string);
        }
        expect(ofRoom(events, 'wh:k1').filter((event) => event.type === 'member.left' && event.user === 'visitor')).to.have.length(1);
        // The survivor delivered, and the queue is empty once all is acknowledged.
        const drained = Date.now() + 5_000;
        while (Number(await client.sendCommand(['XLEN', stream])) > 0) {
          if (Date.now() > drained) throw new Error('the queue was not emptied');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(await client.sendCommand(['GET', webhookKeys.lease])).to.equal(survivor.nodeId);
      });
    });
  });
}

describe('webhooks: a slow receiver on one Redis', function () {
  this.timeout(60_000);
  let redis: RedisProcess;
  let receiver: WebhookReceiver;
  let nodes: TestGateway[] = [];
  let socket: TestSocket | null = null;
  before(async () => {
    redis = await startRedis();
    receiver = await startWebhookReceiver({ delayMs: 3_000 });
    // A lease of 1 s: a node that did not renew it while its POST took 3 s would lose it to the other one.
    const env = { REDIS_URL: redis.url, ...NO_USER_ROOM, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, NODE_TTL_MS: '1000' };
    nodes = [await startGateway({ ...env, NODE_ID: 'slow-a' }), await startGateway({ ...env, NODE_ID: 'slow-b' })];
  });
  after(async () => {
    socket?.close();
    await Promise.all(nodes.map((node) => node.close()));
    await receiver.close();
    await redis.stop();
  });

  it('the delivering node keeps its lease while a POST takes longer than the lease: each event is sent once', async () => {
    socket = await connect((nodes[0] as TestGateway).url, await token('patient'));
    assertOk(await request(socket, 'room:join', { room: 'wh:slow' }));
    await receiver.waitFor((all) => count(all, 'wh:slow', 'member.joined') === 1, 20_000);
    assertOk(await request(socket, 'room:leave', { room: 'wh:slow' }));
    await receiver.waitFor((all) => count(all, 'wh:slow', 'room.vacated') === 1, 20_000);
    const sent = receiver.deliveries.flatMap((delivery) => delivery.body.events.map((event) => event.id));
    expect(sent).to.have.length(4);
    expect(new Set(sent).size).to.equal(4);
  });
});

