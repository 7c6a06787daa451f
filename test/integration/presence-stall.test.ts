/**
 * Presence when a process stops for a while and goes on, in every topology,
 * with real gateway and redis-server processes stopped by SIGSTOP:
 * - A node (starved of CPU, or stopped) heartbeats late rather than never. Past
 *   NODE_TTL_MS the other nodes take it for dead and remove its members
 *   (presence:leave); once it runs again its members are still connected, so
 *   presence lists and announces them again (presence:join), on every node. On
 *   one node in memory nothing can take the node for dead, and a stall must not
 *   lose a member either. On Redis, the stall is longer than the canary's window:
 *   the node keeps its subscriber (late probes are not lost probes).
 * - Redis stalls longer than a Redis call's deadline (3 s) and longer than
 *   NODE_TTL_MS: the calls that timed out still run when it resumes. A removal
 *   Redis made late is a member that left: it is announced then. A join that was
 *   answered UNAVAILABLE leaves no member behind, even if Redis wrote it late,
 *   and one asked again meanwhile is kept and announced once. And
 *   no node takes another for dead on the heartbeats Redis held up. (Redis
 *   topologies only: in memory no presence call can time out.)
 */
import { expect } from 'chai';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { assertOk, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const NODE_TTL_MS = 1000;
/** Longer than NODE_TTL_MS plus a sweep interval: the other node would sweep the stopped one by then. */
const STALL_MS = 2 * NODE_TTL_MS;
/** Past the canary's window (3.5 s) as well: a node stopped that long must not take its late probes for lost ones. */
const CANARY_STALL_MS = 4500;
const ROOM = 'f:stall';

const topologies = [
  { name: 'one node, memory', nodes: 1, redis: undefined },
  { name: 'two nodes, single Redis', nodes: 2, redis: 'single' },
  { name: 'two nodes, Redis Cluster', nodes: 2, redis: 'cluster' },
] as const;

async function listed(socket: TestSocket, room = ROOM): Promise<string[]> {
  const ack = await request(socket, 'presence:list', { room });
  return ack.ok ? ack.members.map((member) => member.userId).sort() : [];
}

describe('presence across stalled processes', function () {
  this.timeout(60_000);

  for (const topology of topologies) {
    describe(topology.name, () => {
      let cluster: TestCluster;
      const sockets: TestSocket[] = [];
      before(async () => {
        cluster = await startCluster({ nodes: topology.nodes, ...(topology.redis ? { redis: topology.redis } : {}), env: { NODE_TTL_MS: String(NODE_TTL_MS) } });
      });
      after(async () => {
        for (const socket of sockets.splice(0)) socket.close();
        await cluster.stop();
      });

      const open = async (url: string, sub: string): Promise<TestSocket> => {
        const socket = await connect(url, await signToken(TEST_JWT_SECRET, { sub, rooms: ['f:*'] }));
        sockets.push(socket);
        return socket;
      };

      it('a node stalled past NODE_TTL_MS: its members, still connected, are listed and announced again once it runs', async () => {
        const first = cluster.nodes[0] as TestCluster['nodes'][number];
        const stalled = cluster.nodes[cluster.nodes.length - 1] as TestCluster['nodes'][number];
        const watcher = await open(first.url, 'watcher');
        const sleeper = await open(stalled.url, 'sleeper');
        const seen: string[] = [];
        watcher.on('presence:leave', ({ member }) => seen.push(`leave ${member.userId}`));
        watcher.on('presence:join', ({ member }) => seen.push(`join ${member.userId}`));
        assertOk(await request(watcher, 'room:join', { room: ROOM }));
        assertOk(await request(sleeper, 'room:join', { room: ROOM }));
        await waitFor(() => seen.includes('join sleeper'), 5000, 'the join announced');
        seen.length = 0;
        expect(await listed(watcher)).to.deep.equal(['sleeper', 'watcher']);

        const stoppedAt = Date.now();
        process.kill(stalled.pid, 'SIGSTOP');
        try {
          if (topology.nodes > 1) {
            // The other node sweeps the stopped one: its member is gone meanwhile, as for a dead node.
            await waitFor(async () => (await listed(watcher)).join() === 'watcher', STALL_MS + 5000, 'the sweep of the stopped node');
          }
          // Longer than the canary's window too (Redis topologies): the probes sent before the stop come back
          // meanwhile and wait in the socket; late probes are not lost probes.
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, (topology.redis ? CANARY_STALL_MS : STALL_MS) - (Date.now() - stoppedAt))));
        } finally {
          process.kill(stalled.pid, 'SIGCONT');
        }

        // Written back by the node itself once it runs, and still there after the sweeper's purge could have
        // raced with it (a NODE_TTL_MS later, the node writes its members back once more).
        await waitFor(async () => (await listed(watcher)).join() === 'sleeper,watcher', 10_000, 'the stalled node writing its members back');
        if (topology.nodes > 1) await new Promise((resolve) => setTimeout(resolve, 2 * NODE_TTL_MS));
        expect(await listed(watcher)).to.deep.equal(['sleeper', 'watcher']);
        expect(await listed(sleeper)).to.deep.equal(['sleeper', 'watcher']);
        expect(seen).to.deep.equal(topology.nodes > 1 ? ['leave sleeper', 'join sleeper'] : []);
        expect(sleeper.connected).to.equal(true);
        if (topology.redis) {
          // The stalled node kept its subscriber (no canary reset) and serves again.
          const ready = await fetch(`${stalled.url}/readyz`);
          expect(ready.status).to.equal(200);
          expect(((await ready.json()) as { canary?: { resets: number } }).canary).to.include({ resets: 0 });
        }
      });

      if (topology.redis !== undefined) {
        it('Redis stalled past the call deadline and NODE_TTL_MS: a late removal is announced, a refused join leaves no member, a retried one is kept and announced, no node is taken for dead', async () => {
          const [first, second] = cluster.nodes as [TestCluster['nodes'][number], TestCluster['nodes'][number]];
          const room = 'f:redis-stall';
          const observer = await open(first.url, 'observer');
          const leaver = await open(second.url, 'leaver');
          const joiner = await open(second.url, 'joiner');
          const retrier = await open(second.url, 'retrier');
          const leaves: string[] = [];
          const joins: string[] = [];
          observer.on('presence:leave', ({ member }) => leaves.push(member.userId));
          observer.on('presence:join', ({ member }) => joins.push(member.userId));
          for (const socket of [observer, leaver]) assertOk(await request(socket, 'room:join', { room }));
          assertOk(await request(observer, 'room:join', { room: 'f:late-join' }));
          expect(await listed(observer, room)).to.deep.equal(['leaver', 'observer']);
          joins.length = 0;

          const redisPids = cluster.redis ? [cluster.redis.pid] : (cluster.redisCluster?.nodes ?? []).map((node) => node.pid);
          for (const pid of redisPids) process.kill(pid, 'SIGSTOP');
          let refused: Awaited<ReturnType<typeof request<'room:join'>>>[];
          let retried: Promise<Awaited<ReturnType<typeof request<'room:join'>>>>;
          try {
            leaver.close();
            refused = await Promise.all([joiner, retrier].map((socket) => request(socket, 'room:join', { room: 'f:late-join' })));
            // Asked again while the first add still waits in the stalled Redis: it must not be undone by it.
            retried = request(retrier, 'room:join', { room: 'f:late-join' });
            // The removal's deadline passes too (it was written before the joins).
            await new Promise((resolve) => setTimeout(resolve, 500));
          } finally {
            for (const pid of redisPids) process.kill(pid, 'SIGCONT');
          }
          for (const answer of refused) {
            expect(answer.ok).to.equal(false);
            if (!answer.ok) expect(answer.error.code).to.equal('UNAVAILABLE');
          }
          assertOk(await retried);

          await waitFor(() => leaves.includes('leaver') && joins.includes('retrier'), 10_000, 'the late removal and the retried join announced');
          // Two TTLs after Redis resumed: a node swept on the heartbeats Redis held up would have been by now.
          await new Promise((resolve) => setTimeout(resolve, 2 * NODE_TTL_MS));
          expect(leaves).to.deep.equal(['leaver']);
          expect(joins).to.deep.equal(['retrier']);
          expect(await listed(observer, room)).to.deep.equal(['observer']);
          expect(await listed(observer, 'f:late-join')).to.deep.equal(['observer', 'retrier']);
          expect(await listed(observer)).to.deep.equal(['sleeper', 'watcher']);
        });
      }
    });
  }
});

