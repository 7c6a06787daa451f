/**
 * Sliced fan-out (server/transports/socketio/sliced-fanout.ts) with a tiny threshold and
 * slice: LARGE_ROOM_MEMBERS=20, FANOUT_SLICE_SIZE=5, 60 members. Publications
 * in quick succession are queued behind each other's slices; every member must
 * still get each of them once, in offset order, on one node (memory adapter)
 * and across nodes (classic and sharded Redis adapters).
 */
import { expect } from 'chai';
import type { Message } from '../../shared/index.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, startRedisCluster } from '../../tools/processes/redis-server.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const SLICED = { LARGE_ROOM_MEMBERS: '20', FANOUT_SLICE_SIZE: '5' };
const MEMBERS = 60;
const PUBLICATIONS = 50;
const ROOM = 'big:1';

interface Members {
  sockets: TestSocket[];
  received: Message[][];
}

async function joinMembers(gateways: TestGateway[]): Promise<Members> {
  const sockets: TestSocket[] = [];
  const received: Message[][] = [];
  for (let index = 0; index < MEMBERS; index += 1) {
    const gateway = gateways[index % gateways.length] as TestGateway;
    const socket = await connect(gateway.url, await signToken(gateway.secret, { sub: `m${index}`, rooms: ['big:*', 'small:*'] }));
    sockets.push(socket);
    received.push(collectMessages(socket));
    assertOk(await request(socket, 'room:join', { room: ROOM }));
  }
  return { sockets, received };
}

async function publishAndCheck(publishTo: TestGateway, { received }: Members): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: PUBLICATIONS }, (_, index) => httpPublish(publishTo.url, { room: ROOM, event: 'tick', data: { index } })),
  );
  for (const answer of answers) expect(answer.status).to.equal(200);
  await waitFor(() => received.every((messages) => messages.length >= PUBLICATIONS), 15_000, 'every member to receive every publication');
  // Anything extra (a duplicate) would arrive right behind the rest.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const expected = Array.from({ length: PUBLICATIONS }, (_, index) => index + 1);
  received.forEach((messages, member) => {
    expect(
      messages.map((message) => message.offset),
      `member ${member}`,
    ).to.deep.equal(expected);
  });
}

function closeAll({ sockets }: Members): void {
  for (const socket of sockets) socket.close();
}

describe('sliced fan-out (LARGE_ROOM_MEMBERS=20, FANOUT_SLICE_SIZE=5)', () => {
  describe('one node, memory adapter', () => {
    let gw: TestGateway;
    let members: Members;
    before(async () => {
      gw = await startGateway(SLICED);
      members = await joinMembers([gw]);
    });
    after(async () => {
      closeAll(members);
      await gw.close();
    });

    it('delivers 50 quick publications to 60 members, each once and in offset order', async () => {
      await publishAndCheck(gw, members);
    });

    it('writes a large broadcast a slice at a time, skips a socket that disconnects meanwhile, and lets small rooms through', async () => {
      const namespace = gw.gateway.io.of('/');
      const written = new Set<string>();
      let smallWritten = false;
      for (const socket of namespace.sockets.values()) {
        socket.onAnyOutgoing((event: string, message: Message) => {
          if (event === 'message' && message.data === 'sliced') written.add(socket.id);
          if (event === 'message' && message.data === 'small') smallWritten = true;
        });
      }
      const small = members.sockets[0] as TestSocket;
      assertOk(await request(small, 'room:join', { room: 'small:1' }));
      const before = members.received[0]?.length ?? 0;

      await gw.gateway.publisher.publish({ namespace: '/', room: ROOM, event: 'tick', data: 'sliced' });
      // The broadcast ran its first slice only; the rest waits for later turns of the event loop.
      expect(written.size).to.equal(5);
      const skipped = [...namespace.sockets.values()].find((socket) => !written.has(socket.id) && socket.id !== small.id);
      if (skipped === undefined) throw new Error('no socket left to disconnect');
      skipped.disconnect(true);
      // A small room is not queued behind the large one (they share no room): written before the next slice.
      await gw.gateway.publisher.publish({ namespace: '/', room: 'small:1', event: 'tick', data: 'small' });
      expect(smallWritten).to.equal(true);
      expect(written.size).to.equal(5);

      await waitFor(() => written.size === MEMBERS - 1, 5000, 'the rest of the slices');
      expect(written.has(skipped.id)).to.equal(false);
      await waitFor(() => (members.received[0]?.length ?? 0) === before + 2, 5000, 'the small room message');
    });
  });

  describe('two nodes, single Redis, classic adapter', () => {
    let stop: () => Promise<void>;
    let gateways: TestGateway[];
    let members: Members;
    before(async () => {
      const redis = await startRedis();
      gateways = [await startGateway({ ...SLICED, REDIS_URL: redis.url, NODE_ID: 'node1' }), await startGateway({ ...SLICED, REDIS_URL: redis.url, NODE_ID: 'node2' })];
      stop = async () => {
        await Promise.all(gateways.map((gateway) => gateway.close()));
        await redis.stop();
      };
      members = await joinMembers(gateways);
    });
    after(async () => {
      closeAll(members);
      await stop();
    });

    it('delivers 50 quick publications to 60 members on both nodes, each once and in offset order', async () => {
      await publishAndCheck(gateways[0] as TestGateway, members);
    });
  });

  describe('two nodes, Redis Cluster, sharded adapter', () => {
    let stop: () => Promise<void>;
    let gateways: TestGateway[];
    let members: Members;
    before(async function () {
      this.timeout(60_000);
      const cluster = await startRedisCluster({ masters: 3 });
      gateways = [
        await startGateway({ ...SLICED, REDIS_CLUSTER_NODES: cluster.envValue, NODE_ID: 'node1' }),
        await startGateway({ ...SLICED, REDIS_CLUSTER_NODES: cluster.envValue, NODE_ID: 'node2' }),
      ];
      stop = async () => {
        await Promise.all(gateways.map((gateway) => gateway.close()));
        await cluster.stop();
      };
      members = await joinMembers(gateways);
    });
    after(async () => {
      closeAll(members);
      await stop();
    });

    it('delivers 50 quick publications to 60 members on both nodes, each once and in offset order', async () => {
      await publishAndCheck(gateways[1] as TestGateway, members);
    });
  });
});
