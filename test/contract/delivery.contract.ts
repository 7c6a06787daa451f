/**
 * The delivery contract seen from clients, run against every topology: one
 * node in memory, several nodes over a single Redis (classic adapter), and
 * several nodes over a Redis Cluster (sharded adapter). Clients are spread
 * over the nodes, so "reaches every member" means across nodes.
 */
import { expect } from 'chai';
import { RoomcastClient } from '../../client/index.js';
import type { Message } from '../../shared/index.js';
import { httpPublish } from '../support/gateway.js';
import { connectTestRedis } from '../../tools/processes/redis-client.js';
import { redisCommand } from '../../tools/processes/redis-command.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { openAccepted, type SseStream } from '../support/sse.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

export interface Topology {
  /** One URL per gateway node. */
  urls: string[];
  /** Every redis-server the nodes use (a single one, or each Cluster master); empty in memory. */
  redis: Array<{ host: string; port: number }>;
  close(): Promise<void>;
}

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, index) => index + 1);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Rooms tried at once by the interleaving tests: each race is lost only now and then, so many rooms make a loss near certain. */
const RACE_ROOMS = 40;

export function deliveryContract(name: string, startTopology: () => Promise<Topology>): void {
  describe(`delivery contract: ${name}`, function () {
    this.timeout(30_000);
    let topology: Topology;
    const sockets: TestSocket[] = [];
    const clients: RoomcastClient[] = [];
    const streams: SseStream[] = [];
    const nodeUrl = (index: number): string => topology.urls[index % topology.urls.length] as string;
    const open = async (index: number, sub: string): Promise<TestSocket> => {
      const socket = await connect(nodeUrl(index), await signToken(TEST_JWT_SECRET, { sub, rooms: ['c:*'] }));
      sockets.push(socket);
      return socket;
    };
    const sdkClient = async (index: number, sub: string): Promise<RoomcastClient> => {
      const client = new RoomcastClient(nodeUrl(index), {
        token: await signToken(TEST_JWT_SECRET, { sub, rooms: ['c:*'] }),
        transports: ['websocket'],
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
      });
      clients.push(client);
      await client.connect();
      return client;
    };

    before(async () => {
      topology = await startTopology();
    });
    /** Redis answers nothing for `ms` (as a slow network would delay every reply), on every server. */
    const pauseRedis = async (ms: number): Promise<void> => {
      await Promise.all(topology.redis.map(({ host, port }) => redisCommand(host, port, ['CLIENT', 'PAUSE', String(ms), 'ALL'])));
    };
    /**
     * Every pub/sub connection to Redis is cut, and Redis takes no new connection for `holdMs` (its command
     * connections stay up): the nodes' subscribers are away for that long, then reconnect and resubscribe by
     * themselves. Resolves once they are cut; `restored` once Redis takes connections again.
     */
    const dropSubscribers = async (holdMs: number): Promise<{ restored: Promise<void> }> => {
      const admins = await Promise.all(topology.redis.map(({ host, port }) => connectTestRedis(`redis://${host}:${port}`)));
      for (const admin of admins) {
        await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '1']);
        await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      }
      const restored = sleep(holdMs).then(async () => {
        for (const admin of admins) {
          await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '10000']);
          await admin.close();
        }
      });
      return { restored };
    };
    const openStream = async (index: number, room: string): Promise<SseStream> => {
      const token = await signToken(TEST_JWT_SECRET, { sub: `sse-${room}`, rooms: ['c:*'] });
      const stream = await openAccepted(`${nodeUrl(index)}/sse?room=${encodeURIComponent(room)}`, { authorization: `Bearer ${token}` });
      streams.push(stream);
      return stream;
    };

    afterEach(() => {
      for (const stream of streams.splice(0)) stream.close();
      for (const socket of sockets.splice(0)) socket.close();
      for (const client of clients.splice(0)) client.close();
    });
    after(() => topology.close());

    it('an HTTP publish into one node reaches the members on every node exactly once, and no one else', async () => {
      const members = await Promise.all([0, 1, 2].map((index) => open(index, `m${index}`)));
      const outsider = await open(1, 'outsider');
      for (const socket of members) assertOk(await request(socket, 'room:join', { room: 'c:once' }));
      assertOk(await request(outsider, 'room:join', { room: 'c:elsewhere' }));
      const inboxes = members.map(collectMessages);
      const outsiderInbox = collectMessages(outsider);
      for (let i = 0; i < 5; i += 1) {
        const response = await httpPublish(nodeUrl(i), { room: 'c:once', event: 'n', data: i });
        expect(response.status).to.equal(200);
      }
      await waitFor(() => inboxes.every((inbox) => inbox.length >= 5), 5000, 'deliveries on every node');
      // A later publication into the outsider's room is the barrier: anything stray would have arrived before it.
      expect((await httpPublish(nodeUrl(0), { room: 'c:elsewhere', event: 'barrier', data: null })).status).to.equal(200);
      await waitFor(() => outsiderInbox.length === 1, 5000, 'barrier');
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const inbox of inboxes) expect(inbox.map((m) => m.offset).sort((a, b) => a - b)).to.deep.equal(oneTo(5));
      expect(outsiderInbox.map((m) => m.room)).to.deep.equal(['c:elsewhere']);
    });

    it('concurrent publishers on different nodes: every client delivers the same contiguous offsets in order', async () => {
      const receivers = await Promise.all([0, 1, 2].map((index) => sdkClient(index, `r${index}`)));
      const inboxes: Message[][] = receivers.map(() => []);
      await Promise.all(receivers.map((client, index) => client.join('c:race', (message) => inboxes[index]?.push(message))));
      const publishers = await Promise.all([0, 1].map((index) => open(index, `p${index}`)));
      for (const socket of publishers) assertOk(await request(socket, 'room:join', { room: 'c:race' }));
      const perSource = 40;
      await Promise.all([
        ...publishers.map(async (socket, index) => {
          for (let i = 0; i < perSource; i += 1) assertOk(await request(socket, 'room:publish', { room: 'c:race', event: 'n', data: { source: `s${index}`, i } }));
        }),
        ...[0, 1].map(async (index) => {
          for (let i = 0; i < perSource; i += 1) expect((await httpPublish(nodeUrl(index + 1), { room: 'c:race', event: 'n', data: { source: `h${index}`, i } })).status).to.equal(200);
        }),
      ]);
      const total = 4 * perSource;
      await waitFor(() => inboxes.every((inbox) => inbox.length >= total), 10_000, 'all deliveries');
      const reference = inboxes[0] as Message[];
      expect(reference.map((m) => m.offset)).to.deep.equal(oneTo(total));
      for (const inbox of inboxes) expect(inbox.map((m) => [m.offset, JSON.stringify(m.data)])).to.deep.equal(reference.map((m) => [m.offset, JSON.stringify(m.data)]));
      // Each source's publications keep their own order too.
      for (const source of ['s0', 's1', 'h0', 'h1']) {
        const sequence = reference.filter((m) => (m.data as { source: string }).source === source).map((m) => (m.data as { i: number }).i);
        expect(sequence, source).to.deep.equal(Array.from({ length: perSource }, (_, i) => i));
      }
    });

    it('a client that reconnects to another node gets exactly what it missed, once, in order', async () => {
      const first = await open(0, 'mover');
      const join = assertOk(await request(first, 'room:join', { room: 'c:replay' }));
      await httpPublish(nodeUrl(1), { room: 'c:replay', event: 'n', data: 1 });
      await waitFor(() => true);
      first.io.engine.close();
      for (let i = 2; i <= 6; i += 1) expect((await httpPublish(nodeUrl(i), { room: 'c:replay', event: 'n', data: i })).status).to.equal(200);
      const second = await open(topology.urls.length - 1, 'mover');
      const rejoin = assertOk(await request(second, 'room:join', { room: 'c:replay', since: { epoch: join.epoch, offset: 1 } }));
      expect(rejoin).to.include({ epoch: join.epoch, offset: 6, recovered: true });
      expect(rejoin.missed.map((m) => m.data)).to.deep.equal([2, 3, 4, 5, 6]);
    });

    it('a retried idempotent publish on another node returns the original offset', async () => {
      const body = { room: 'c:idem', event: 'order', data: { id: 1 }, idempotencyKey: 'order-1' };
      const first = await httpPublish(nodeUrl(0), body);
      const retry = await httpPublish(nodeUrl(1), body);
      expect(first.status).to.equal(200);
      expect(retry.body.results).to.deep.equal(first.body.results);
    });

    it("a room handed over on one node (its last member leaves as another joins) still gets other nodes' publications", async () => {
      const rooms = Array.from({ length: RACE_ROOMS }, (_, index) => `c:handover${index}`);
      const leavers = await Promise.all(rooms.map((_, index) => open(0, `leaver${index}`)));
      const joiners = await Promise.all(rooms.map((_, index) => open(0, `joiner${index}`)));
      await Promise.all(rooms.map(async (room, index) => assertOk(await request(leavers[index] as TestSocket, 'room:join', { room }))));
      const inboxes = joiners.map(collectMessages);
      // Both requests leave in the same tick: the node sees its last member go and a new one come at once,
      // while Redis holds its answers back (a slow network), so the unsubscribe is still in flight as the member comes.
      await pauseRedis(300);
      await Promise.all(
        rooms.map(async (room, index) => {
          const [left, joined] = await Promise.all([
            request(leavers[index] as TestSocket, 'room:leave', { room }),
            request(joiners[index] as TestSocket, 'room:join', { room }),
          ]);
          assertOk(left);
          assertOk(joined);
        }),
      );
      for (const room of rooms) expect((await httpPublish(nodeUrl(1), { room, event: 'n', data: 1 })).status).to.equal(200);
      await waitFor(() => inboxes.every((inbox) => inbox.length >= 1), 5000, 'every handed-over room to get the publication').catch(() => undefined);
      const deaf = rooms.filter((_, index) => (inboxes[index] as unknown[]).length === 0);
      expect(deaf, 'rooms whose new member got nothing').to.deep.equal([]);
    });

    it("an SSE stream reopened on the same node gets other nodes' publications", async () => {
      const rooms = Array.from({ length: RACE_ROOMS }, (_, index) => `c:reopen${index}`);
      const first = await Promise.all(rooms.map((room) => openStream(0, room)));
      await Promise.all(first.map((stream) => stream.next((event) => event.event === 'position')));
      // Closed and opened again while Redis holds its answers back: the node's only listener of the room goes
      // (its unsubscribe in flight) and a new one comes.
      await pauseRedis(300);
      for (const stream of first) stream.close();
      await sleep(50);
      const second = await Promise.all(rooms.map((room) => openStream(0, room)));
      await Promise.all(second.map((stream) => stream.next((event) => event.event === 'position')));
      // Past any catch-up read a stream may make after it starts: what follows must come live.
      await sleep(1500);
      for (const room of rooms) expect((await httpPublish(nodeUrl(1), { room, event: 'n', data: 1 })).status).to.equal(200);
      const got = await Promise.all(second.map((stream) => stream.next((event) => event.event === 'n', 5000).then(() => true, () => false)));
      expect(rooms.filter((_, index) => !got[index]), 'rooms whose reopened stream got nothing').to.deep.equal([]);
    });

    it('a join reads its position only once it receives the room: nothing published meanwhile on another node is skipped', async () => {
      const rooms = Array.from({ length: RACE_ROOMS }, (_, index) => `c:joinrace${index}`);
      const members = await Promise.all(rooms.map((_, index) => open(0, `racer${index}`)));
      const inboxes = members.map(collectMessages);
      let publishing = true;
      const published = rooms.map(() => 0);
      // Another node publishes into every room (one request for all of them) while the members join.
      const publisher = (async () => {
        while (publishing) {
          const response = await httpPublish(nodeUrl(1), { rooms, event: 'n', data: null });
          expect(response.status).to.equal(200);
          for (const result of response.body.results as Array<{ room: string; offset: number }>) published[rooms.indexOf(result.room)] = result.offset;
        }
      })();
      await sleep(50);
      // The subscriber connections drop just as the members join: they come back (and resubscribe) a moment later.
      const { restored } = await dropSubscribers(300);
      const acks = await Promise.all(rooms.map(async (room, index) => assertOk(await request(members[index] as TestSocket, 'room:join', { room }))));
      await restored;
      await sleep(500);
      publishing = false;
      await publisher;
      await waitFor(() => inboxes.every((inbox, index) => inbox.some((message) => message.offset === published[index])), 5000, 'the last publication of every room').catch(() => undefined);
      const skipped = rooms.flatMap((room, index) => {
        const got = new Set((inboxes[index] as Message[]).map((message) => message.offset));
        const missing = [];
        for (let offset = (acks[index] as { offset: number }).offset + 1; offset <= (published[index] as number); offset += 1) if (!got.has(offset)) missing.push(offset);
        return missing.length === 0 ? [] : [`${room}: ${missing.join(',')}`];
      });
      expect(skipped, 'offsets after the join ack that never arrived live').to.deep.equal([]);
    });

    it('a quiet room gets what was published while its node was not receiving, without waiting for another publication', async () => {
      const members = await Promise.all([0, 1].map((index) => open(0, `quiet${index}`)));
      const streamed = await openStream(0, 'c:quiet-sse');
      await streamed.next((event) => event.event === 'position');
      assertOk(await request(members[0] as TestSocket, 'room:join', { room: 'c:quiet' }));
      assertOk(await request(members[1] as TestSocket, 'room:join', { room: 'c:quiet-2' }));
      const inboxes = members.map(collectMessages);
      // The member's node loses its subscriber connections for a moment; meanwhile another node publishes once.
      const { restored } = await dropSubscribers(400);
      for (const room of ['c:quiet', 'c:quiet-2', 'c:quiet-sse']) expect((await httpPublish(nodeUrl(1), { room, event: 'n', data: 'while deaf' })).status).to.equal(200);
      await restored;
      // Nothing else is published: the rooms stay quiet, yet the publication must come.
      await waitFor(() => inboxes.every((inbox) => inbox.some((message) => message.data === 'while deaf')), 8000, 'the publication made while the node was deaf');
      await streamed.next((event) => event.event === 'n', 8000);
    });

    it('presence is the same from every node, over sockets and HTTP', async () => {
      const members = await Promise.all([0, 1, 2].map((index) => open(index, `p${index}`)));
      for (const socket of members) assertOk(await request(socket, 'room:join', { room: 'c:presence' }));
      const expected = members.map((socket) => socket.id).sort();
      for (const socket of members) {
        const list = assertOk(await request(socket, 'presence:list', { room: 'c:presence' }));
        expect(list.members.map((m) => m.connectionId).sort()).to.deep.equal(expected);
      }
      for (const url of topology.urls) {
        const response = await fetch(`${url}/api/v1/rooms/c:presence/presence`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
        const body = (await response.json()) as { members: Array<{ connectionId: string }> };
        expect(body.members.map((m) => m.connectionId).sort()).to.deep.equal(expected);
      }
    });
  });
}
