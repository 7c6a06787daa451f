/**
 * GET /sse against real gateways: auth and policy refusals, delivery with
 * `<epoch>:<offset>` ids, keep-alive comments, resume from Last-Event-ID,
 * recovered:false, limits, token expiry, drain, two Redis-backed nodes (classic
 * and sharded adapters) and NGINX in front (no buffering).
 */
import { expect } from 'chai';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { connectTestRedis as openRedisAdmin } from '../../tools/processes/redis-client.js';
import { openAccepted, openRefused, type SseEvent, type SseStream } from '../support/sse.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

interface Publication {
  room: string;
  event: string;
  data: unknown;
  offset: number;
  epoch: string;
}

const token = (sub = 'sse-user', rooms = ['sse:*'], expiresIn: number = 3600): Promise<string> => signToken(TEST_JWT_SECRET, { sub, rooms }, { expiresIn });

function sseUrl(base: string, room: string, query: Record<string, string> = {}): string {
  const params = new URLSearchParams({ room, ...query });
  return `${base}/sse?${params.toString()}`;
}

async function publish(url: string, room: string, event: string, data: unknown): Promise<{ offset: number; epoch: string }> {
  const answer = await httpPublish(url, { room, event, data });
  expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
  return (answer.body.results as Array<{ offset: number; epoch: string }>)[0] as { offset: number; epoch: string };
}

const isPublication = (event: SseEvent): boolean => !['position', 'recovered', 'server:draining', 'protocol:error'].includes(event.event);
const parse = (event: SseEvent): Publication => JSON.parse(event.data) as Publication;

/** Reads `count` publications off the stream, in arrival order. */
async function publications(stream: SseStream, count: number, timeoutMs = 5000): Promise<SseEvent[]> {
  const received: SseEvent[] = [];
  for (let index = 0; index < count; index += 1) received.push(await stream.next(isPublication, timeoutMs));
  return received;
}

describe('Server-Sent Events (GET /sse)', function () {
  this.timeout(60_000);
  const streams: SseStream[] = [];
  const track = (stream: SseStream): SseStream => {
    streams.push(stream);
    return stream;
  };
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.close();
  });

  describe('one node', () => {
    let gateway: TestGateway;
    before(async () => {
      gateway = await startGateway({ SSE_KEEPALIVE_MS: '150', HISTORY_SIZE: '5' });
    });
    after(async () => {
      await gateway?.close();
    });

    it('refuses a missing token, a bad token, an expired token, a forbidden room, a bad room, an undeclared namespace and a malformed Last-Event-ID with typed JSON', async () => {
      const good = await token();
      const cases: Array<[string, Record<string, string>, number, string]> = [
        [sseUrl(gateway.url, 'sse:a'), {}, 401, 'UNAUTHENTICATED'],
        [sseUrl(gateway.url, 'sse:a', { token: 'not-a-jwt' }), {}, 401, 'UNAUTHENTICATED'],
        [sseUrl(gateway.url, 'sse:a'), { authorization: `Bearer ${await signToken('another-secret-that-is-long-enough!!', { sub: 'x', rooms: ['sse:*'] })}` }, 401, 'UNAUTHENTICATED'],
        [sseUrl(gateway.url, 'sse:a', { token: await token('sse-user', ['sse:*'], -60) }), {}, 401, 'TOKEN_EXPIRED'],
        [sseUrl(gateway.url, 'other:a', { token: good }), {}, 403, 'FORBIDDEN_ROOM'],
        [sseUrl(gateway.url, 'bad room!', { token: good }), {}, 400, 'INVALID_PAYLOAD'],
        [sseUrl(gateway.url, 'sse:a', { token: good, namespace: '/nope' }), {}, 400, 'INVALID_PAYLOAD'],
        [sseUrl(gateway.url, 'sse:a', { token: good }), { 'last-event-id': 'garbage' }, 400, 'INVALID_PAYLOAD'],
      ];
      for (const [url, headers, status, code] of cases) {
        const refused = await openRefused(url, headers);
        expect(refused.status, `${url} ${JSON.stringify(headers)}`).to.equal(status);
        expect(refused.contentType).to.match(/^application\/json/);
        expect(refused.body.ok).to.equal(false);
        expect(refused.body.error.code, `${url} ${JSON.stringify(headers)}`).to.equal(code);
        expect(refused.body.error).to.have.keys('code', 'message', 'retryable');
      }
    });

    it('starts with a position event, then delivers each publication in order with id <epoch>:<offset>, its event name and the message as data', async () => {
      const stream = track(await openAccepted(sseUrl(gateway.url, 'sse:order'), { authorization: `Bearer ${await token()}` }));
      expect(stream.headers.get('content-type')).to.match(/^text\/event-stream/);
      expect(stream.headers.get('x-accel-buffering')).to.equal('no');
      const position = await stream.next();
      expect(position.event).to.equal('position');
      const start = JSON.parse(position.data) as { epoch: string; offset: number; room: string; namespace: string };
      expect(start).to.include({ offset: 0, room: 'sse:order', namespace: '/' });
      expect(position.id).to.equal(`${start.epoch}:0`);
      for (let index = 1; index <= 5; index += 1) await publish(gateway.url, 'sse:order', `event-${index}`, { index });
      const received = await publications(stream, 5);
      expect(received.map((event) => event.id)).to.deep.equal([1, 2, 3, 4, 5].map((offset) => `${start.epoch}:${offset}`));
      expect(received.map((event) => event.event)).to.deep.equal([1, 2, 3, 4, 5].map((index) => `event-${index}`));
      received.forEach((event, index) => expect(parse(event)).to.include({ room: 'sse:order', event: `event-${index + 1}`, offset: index + 1, epoch: start.epoch }));
      expect(received.map((event) => (parse(event).data as { index: number }).index)).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('takes the token from ?token= too (EventSource cannot set headers), and serves a declared namespace and the personal room', async () => {
      const stream = track(await openAccepted(sseUrl(gateway.url, 'user:sse-user', { token: await token(), namespace: '/live' })));
      const position = await stream.next();
      expect(JSON.parse(position.data)).to.include({ namespace: '/live', room: 'user:sse-user' });
      const answer = await httpPublish(gateway.url, { namespace: '/live', room: 'user:sse-user', event: 'note', data: 'hi' });
      expect(answer.status).to.equal(200);
      const [event] = await publications(stream, 1);
      expect(parse(event as SseEvent)).to.include({ event: 'note', data: 'hi', offset: 1 });
    });

    it('writes a publication broadcast again (an idempotent retry) once', async () => {
      const room = 'sse:retry';
      const stream = track(await openAccepted(sseUrl(gateway.url, room, { token: await token() })));
      await stream.next();
      const body = { room, event: 'once', data: 1, idempotencyKey: 'sse-retry-1' };
      const first = await httpPublish(gateway.url, body);
      const retry = await httpPublish(gateway.url, body);
      expect(retry.body.results).to.deep.equal(first.body.results);
      await publish(gateway.url, room, 'after', 2);
      const received = await publications(stream, 2);
      expect(received.map((event) => event.event)).to.deep.equal(['once', 'after']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stream.events.filter(isPublication)).to.have.length(2);
    });

    it('writes a keep-alive comment every SSE_KEEPALIVE_MS', async () => {
      const stream = track(await openAccepted(sseUrl(gateway.url, 'sse:idle', { token: await token() })));
      const opened = performance.now();
      await stream.waitComments(3, 3000);
      expect(stream.comments.slice(0, 3)).to.deep.equal(['ka', 'ka', 'ka']);
      // Three at 150 ms intervals: not much sooner than 450 ms.
      expect(performance.now() - opened).to.be.above(350);
    });

    it('resumes from Last-Event-ID (header or ?lastEventId=) with exactly the missed publications, once, then live ones', async () => {
      const room = 'sse:resume';
      const first = track(await openAccepted(sseUrl(gateway.url, room, { token: await token() })));
      await first.next();
      await publish(gateway.url, room, 'step', 1);
      await publish(gateway.url, room, 'step', 2);
      const seen = await publications(first, 2);
      const lastId = (seen[1] as SseEvent).id as string;
      first.close();
      const epoch = lastId.split(':')[0] as string;

      for (let offset = 3; offset <= 5; offset += 1) await publish(gateway.url, room, 'step', offset);
      const resumed = track(await openAccepted(sseUrl(gateway.url, room, { token: await token() }), { 'last-event-id': lastId }));
      const missed = await publications(resumed, 3);
      expect(missed.map((event) => event.id)).to.deep.equal([`${epoch}:3`, `${epoch}:4`, `${epoch}:5`]);
      await publish(gateway.url, room, 'step', 6);
      const [live] = await publications(resumed, 1);
      expect(live?.id).to.equal(`${epoch}:6`);
      // Nothing else: no position event on a resume, no duplicate.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(resumed.events.map((event) => event.id)).to.deep.equal([`${epoch}:3`, `${epoch}:4`, `${epoch}:5`, `${epoch}:6`]);

      // A manual reconnect (a new EventSource) passes the last id in the query.
      const manual = track(await openAccepted(sseUrl(gateway.url, room, { token: await token(), lastEventId: `${epoch}:4` })));
      const again = await publications(manual, 2);
      expect(again.map((event) => event.id)).to.deep.equal([`${epoch}:5`, `${epoch}:6`]);
    });

    it('answers event: recovered { recovered: false } when history no longer covers the resume point, then what it still holds; the same for another epoch', async () => {
      const room = 'sse:lost';
      let epoch = '';
      for (let offset = 1; offset <= 8; offset += 1) epoch = (await publish(gateway.url, room, 'step', offset)).epoch;
      // HISTORY_SIZE=5 keeps offsets 4..8: a consumer at 1 missed 2 and 3 for good, and gets 4..8 after the gap.
      const stale = track(await openAccepted(sseUrl(gateway.url, room, { token: await token() }), { 'last-event-id': `${epoch}:1` }));
      const recovered = await stale.next();
      expect(recovered.event).to.equal('recovered');
      expect(JSON.parse(recovered.data)).to.include({ recovered: false, epoch, offset: 3 });
      expect(recovered.id).to.equal(`${epoch}:3`);
      expect((await publications(stale, 5)).map((event) => event.id)).to.deep.equal([4, 5, 6, 7, 8].map((offset) => `${epoch}:${offset}`));
      await publish(gateway.url, room, 'step', 9);
      const [live] = await publications(stale, 1);
      expect(live?.id).to.equal(`${epoch}:9`);
      expect(stale.events.filter(isPublication)).to.have.length(6);

      // A position of another epoch: the gap, then the room's retained offsets (5..9 now).
      const otherEpoch = track(await openAccepted(sseUrl(gateway.url, room, { token: await token() }), { 'last-event-id': 'another-epoch:3' }));
      const answer = await otherEpoch.next();
      expect(answer.event).to.equal('recovered');
      expect(JSON.parse(answer.data)).to.include({ recovered: false, epoch, offset: 4 });
      expect(answer.id).to.equal(`${epoch}:4`);
      expect((await publications(otherEpoch, 5)).map((event) => event.id)).to.deep.equal([5, 6, 7, 8, 9].map((offset) => `${epoch}:${offset}`));
    });

    it('closes the stream with protocol:error TOKEN_EXPIRED when the token expires', async () => {
      const stream = track(await openAccepted(sseUrl(gateway.url, 'sse:expiry', { token: await token('sse-user', ['sse:*'], 1) })));
      const error = await stream.next((event) => event.event === 'protocol:error', 4000);
      expect(JSON.parse(error.data)).to.include({ code: 'TOKEN_EXPIRED' });
      await stream.waitEnded();
    });
  });

  describe('limits and drain', () => {
    let gateway: TestGateway;
    beforeEach(async () => {
      gateway = await startGateway({ MAX_CONNECTIONS_PER_USER: '1', MAX_CONNECTIONS: '2', DRAIN_TIMEOUT_MS: '1000' });
    });
    afterEach(async () => {
      await gateway?.close();
    });

    it('counts streams against MAX_CONNECTIONS_PER_USER and MAX_CONNECTIONS, and releases them when they close', async () => {
      const first = track(await openAccepted(sseUrl(gateway.url, 'sse:limit', { token: await token('limited') })));
      await first.next();
      const refused = await openRefused(sseUrl(gateway.url, 'sse:limit', { token: await token('limited') }));
      expect(refused.status).to.equal(429);
      expect(refused.body.error.code).to.equal('TOO_MANY_CONNECTIONS');
      track(await openAccepted(sseUrl(gateway.url, 'sse:limit', { token: await token('second') })));
      const full = await openRefused(sseUrl(gateway.url, 'sse:limit', { token: await token('third') }));
      expect(full.status).to.equal(503);
      expect(full.body.error.code).to.equal('UNAVAILABLE');
      first.close();
      let accepted: SseStream | null = null;
      const deadline = Date.now() + 5000;
      while (accepted === null && Date.now() < deadline) {
        const attempt = await openAccepted(sseUrl(gateway.url, 'sse:limit', { token: await token('limited') })).catch(() => null);
        if (attempt !== null) accepted = track(attempt);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(accepted, 'a stream after the first one closed').to.not.equal(null);
    });

    it('drain ends the stream with a retry: hint and server:draining, and refuses new streams with 503', async () => {
      const stream = track(await openAccepted(sseUrl(gateway.url, 'sse:drain', { token: await token() })));
      await stream.next();
      await gateway.gateway.drain();
      const draining = await stream.next((event) => event.event === 'server:draining');
      const { reconnectInMs } = JSON.parse(draining.data) as { reconnectInMs: number };
      expect(reconnectInMs).to.be.a('number');
      // The first retry: is the stream's default; the last one is the drain's hint.
      expect(stream.retries.at(-1)).to.equal(reconnectInMs);
      await stream.waitEnded();
      const refused = await openRefused(sseUrl(gateway.url, 'sse:drain', { token: await token() }));
      expect(refused.status).to.equal(503);
      expect(refused.body.error.code).to.equal('UNAVAILABLE');
    });
  });

  for (const topology of ['single Redis, classic adapter', 'Redis Cluster, sharded adapter'] as const) {
    describe(`two nodes on ${topology}`, () => {
      let redis: RedisProcess | null = null;
      let redisCluster: RedisCluster | null = null;
      let nodeA: TestGateway;
      let nodeB: TestGateway;
      before(async () => {
        let env: Record<string, string>;
        if (topology === 'single Redis, classic adapter') {
          redis = await startRedis();
          env = { REDIS_URL: redis.url };
        } else {
          redisCluster = await startRedisCluster({ masters: 3 });
          env = { REDIS_CLUSTER_NODES: redisCluster.envValue };
        }
        nodeA = await startGateway({ ...env, NODE_ID: 'sse-a' });
        nodeB = await startGateway({ ...env, NODE_ID: 'sse-b' });
      });
      after(async () => {
        await nodeA?.close();
        await nodeB?.close();
        await redis?.stop();
        await redisCluster?.stop();
      });

      it('a publication on node B reaches an SSE stream on node A (a room with no socket on A), in order with node A\'s own', async () => {
        const room = `sse:cross:${topology.length}`;
        const stream = track(await openAccepted(sseUrl(nodeA.url, room, { token: await token() })));
        const start = JSON.parse((await stream.next()).data) as { epoch: string; offset: number };
        // A sharded adapter subscribes to the room's channel asynchronously; give it a moment.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await publish(nodeB.url, room, 'from-b', 1);
        await publish(nodeA.url, room, 'from-a', 2);
        await publish(nodeB.url, room, 'from-b', 3);
        const received = await publications(stream, 3);
        expect(received.map((event) => event.id)).to.deep.equal([1, 2, 3].map((offset) => `${start.epoch}:${start.offset + offset}`));
        expect(received.map((event) => event.event)).to.deep.equal(['from-b', 'from-a', 'from-b']);
        stream.close();

        // Once the stream is gone, a new one on the same room still gets node B's publications (interest re-announced).
        const again = track(await openAccepted(sseUrl(nodeA.url, room, { token: await token() })));
        await again.next();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await publish(nodeB.url, room, 'from-b', 4);
        const [fourth] = await publications(again, 1);
        expect(fourth?.id).to.equal(`${start.epoch}:${start.offset + 4}`);
      });
    });
  }

  describe('when Redis loses or replaces its data', () => {
    let redis: RedisProcess | null = null;
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.close();
      await redis?.stop();
      gw = null;
      redis = null;
    });
    const ready = async (url: string): Promise<void> => {
      for (let attempt = 0; attempt < 100; attempt += 1) {
        if ((await fetch(`${url}/readyz`).catch(() => null))?.status === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('the gateway did not become ready again');
    };

    it('a resume point above the room (Redis restarted from an older snapshot, undetected) restarts the stream at offset 0 with a gap', async () => {
      redis = await startRedis();
      // lossless: the gateway trusts the restart, so only the stream can notice the room went back.
      gw = await startGateway({ REDIS_URL: redis.url, REDIS_DURABILITY: 'lossless' });
      const room = 'sse:rollback';
      let epoch = '';
      for (let offset = 1; offset <= 5; offset += 1) epoch = (await publish(gw.url, room, 'step', offset)).epoch;
      const admin = await openRedisAdmin(redis.url);
      await admin.sendCommand(['SAVE']);
      await admin.close();
      for (let offset = 6; offset <= 8; offset += 1) await publish(gw.url, room, 'step', offset);
      await redis.restart();
      await ready(gw.url);
      const stream = track(await openAccepted(sseUrl(gw.url, room, { token: await token() }), { 'last-event-id': `${epoch}:8` }));
      const gap = await stream.next();
      expect(gap.event).to.equal('recovered');
      expect(JSON.parse(gap.data)).to.include({ recovered: false, epoch, offset: 0 });
      expect((await publications(stream, 5)).map((event) => event.id)).to.deep.equal([1, 2, 3, 4, 5].map((offset) => `${epoch}:${offset}`));
      // The next publication takes offset 6 again: the stream writes it, it does not drop it as already sent.
      await publish(gw.url, room, 'step', 'new 6');
      expect(parse((await publications(stream, 1))[0] as SseEvent)).to.include({ offset: 6, data: 'new 6' });
    });

    it('a late message of an epoch the room has left does not move the stream back to it', async () => {
      redis = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
      gw = await startGateway({ REDIS_URL: redis.url });
      const room = 'sse:stale';
      const body = { room, event: 'order', data: 'first', idempotencyKey: 'stale-1' };
      const old = (await httpPublish(gw.url, body)).body.results as Array<{ epoch: string }>;
      // A restarted Redis under REDIS_DURABILITY=lossy: the room moves to a new epoch when it is next touched.
      await redis.restart();
      await ready(gw.url);
      const stream = track(await openAccepted(sseUrl(gw.url, room, { token: await token() })));
      const start = JSON.parse((await stream.next()).data) as { epoch: string; offset: number };
      expect(start.epoch).to.not.equal(old[0]?.epoch);
      await publish(gw.url, room, 'n', 'a');
      // The publisher retries its old publication: its stored answer comes back, broadcast again with the old epoch.
      const retried = (await httpPublish(gw.url, body)).body.results as Array<{ epoch: string }>;
      expect(retried[0]?.epoch).to.equal(old[0]?.epoch);
      await publish(gw.url, room, 'n', 'b');
      const written = await publications(stream, 2);
      expect(written.map((event) => event.id)).to.deep.equal([`${start.epoch}:1`, `${start.epoch}:2`]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(stream.events.map((event) => event.event)).to.deep.equal(['position', 'n', 'n']);
    });
  });

  describe('through NGINX', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await startCluster({ nodes: 2, redis: 'single', nginx: true, env: { SSE_KEEPALIVE_MS: '200' } });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('each publication arrives before the next is sent (no buffering), and keep-alive comments pass through', async () => {
      const room = 'sse:nginx';
      const stream = track(await openAccepted(sseUrl(cluster.url, room, { token: await token() })));
      const start = JSON.parse((await stream.next()).data) as { epoch: string; offset: number };
      for (let index = 1; index <= 5; index += 1) {
        const answer = await httpPublish(cluster.url, { room, event: 'tick', data: index }, { authorization: `Bearer ${TEST_API_KEY}` });
        expect(answer.status).to.equal(200);
        // Buffered by the proxy, it would not come until much more was written.
        const event = await stream.next(isPublication, 2000);
        expect(event.id).to.equal(`${start.epoch}:${start.offset + index}`);
      }
      await stream.waitComments(1, 3000);
      expect(stream.comments[0]).to.equal('ka');
    });
  });
});
