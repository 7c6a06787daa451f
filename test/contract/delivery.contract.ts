/**
 * The delivery contract seen from clients, run against every topology: one
 * node in memory, several nodes over a single Redis (classic adapter), and
 * several nodes over a Redis Cluster (sharded adapter). Clients are spread
 * over the nodes, so "reaches every member" means across nodes.
 */
import { expect } from 'chai';
import { RoomcastClient } from '../../client/index.js';
import type { Message } from '../../shared/index.js';
import { httpPublish, TEST_API_KEY } from '../support/gateway.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';

export interface Topology {
  /** One URL per gateway node. */
  urls: string[];
  close(): Promise<void>;
}

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, index) => index + 1);

export function deliveryContract(name: string, startTopology: () => Promise<Topology>): void {
  describe(`delivery contract: ${name}`, function () {
    this.timeout(30_000);
    let topology: Topology;
    const sockets: TestSocket[] = [];
    const clients: RoomcastClient[] = [];
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
    afterEach(() => {
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
