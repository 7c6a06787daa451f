/** Connection limits and the slow-consumer guard: each crossed, each with its typed error and its metric. */
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import { MemoryWatch } from '../../server/ops/memory-watch.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, connectRefused, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** An Engine.IO handshake as a browser's first polling request. */
async function handshake(url: string): Promise<{ status: number; body: Record<string, unknown> | string }> {
  const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: response.status, body: text };
  }
}

describe('connection limits', function () {
  this.timeout(30_000);
  const sockets: TestSocket[] = [];
  const open = async (url: string, secret: string, sub: string): Promise<TestSocket> => {
    const socket = await connect(url, await signToken(secret, { sub, rooms: ['s:*'] }));
    sockets.push(socket);
    return socket;
  };
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('MAX_CONNECTIONS: a node at its limit refuses new sessions with 503 UNAVAILABLE, and takes one again when a place frees', async () => {
    const gw = await startGateway({ MAX_CONNECTIONS: '3' });
    try {
      const open3 = [await open(gw.url, gw.secret, 'a'), await open(gw.url, gw.secret, 'b'), await open(gw.url, gw.secret, 'c')];
      const refused = await handshake(gw.url);
      expect(refused.status).to.equal(503);
      expect(refused.body).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
      await connectRefused(gw.url, await signToken(gw.secret, { sub: 'd' }));
      expect(await metric(gw.url, 'roomcast_connections_refused_total', '{code="UNAVAILABLE"}')).to.be.at.least(2);
      open3[0]?.close();
      await waitFor(() => gw.gateway.io.engine.clientsCount === 2);
      await open(gw.url, gw.secret, 'd');
    } finally {
      await gw.close();
    }
  });

  it('MAX_CONNECTIONS_PER_USER: a user past the limit gets TOO_MANY_CONNECTIONS; other users are not affected', async () => {
    const gw = await startGateway({ MAX_CONNECTIONS_PER_USER: '2' });
    try {
      const first = await open(gw.url, gw.secret, 'alice');
      await open(gw.url, gw.secret, 'alice');
      const refusal = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'alice' }));
      expect(refusal.data).to.deep.include({ code: 'TOO_MANY_CONNECTIONS', retryable: false });
      await open(gw.url, gw.secret, 'bob');
      expect(await metric(gw.url, 'roomcast_connections_refused_total', '{code="TOO_MANY_CONNECTIONS"}')).to.equal(1);
      first.close();
      await waitFor(() => gw.gateway.io.engine.clientsCount === 2);
      await open(gw.url, gw.secret, 'alice');
    } finally {
      await gw.close();
    }
  });

  it('ACCEPT_RATE_PER_S: authenticated connections beyond the rate get RATE_LIMITED, then the bucket refills', async () => {
    const gw = await startGateway({ ACCEPT_RATE_PER_S: '5' });
    try {
      const token = await signToken(gw.secret, { sub: 'many' });
      const results = await Promise.all(Array.from({ length: 12 }, () => connect(gw.url, token).then((socket) => (sockets.push(socket), 'connected'), (error: Error & { data?: { code: string; retryable: boolean } }) => error.data)));
      const limited = results.filter((result) => result !== 'connected');
      expect(results.filter((result) => result === 'connected')).to.have.length.within(5, 6);
      expect(limited.length).to.be.at.least(6);
      expect(limited[0]).to.deep.include({ code: 'RATE_LIMITED', retryable: true });
      expect(await metric(gw.url, 'roomcast_connections_refused_total', '{code="RATE_LIMITED"}')).to.equal(limited.length);
      // Anonymous handshakes are not charged to this node-wide rate (ACCEPT_RATE_PER_IP_PER_S limits them per address).
      expect((await handshake(gw.url)).status).to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      sockets.push(await connect(gw.url, token));
    } finally {
      await gw.close();
    }
  });

  it('ACCEPT_RATE_PER_IP_PER_S: handshakes of one address beyond its rate get 429 RATE_LIMITED, then its bucket refills', async () => {
    const gw = await startGateway({ ACCEPT_RATE_PER_IP_PER_S: '5' });
    try {
      const results = await Promise.all(Array.from({ length: 12 }, () => handshake(gw.url)));
      const limited = results.filter((result) => result.status === 429);
      expect(results.filter((result) => result.status === 200)).to.have.length.within(5, 6);
      expect(limited[0]?.body).to.deep.include({ code: 'RATE_LIMITED', retryable: true });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await handshake(gw.url)).status).to.equal(200);
    } finally {
      await gw.close();
    }
  });

  it('MEMORY_LIMIT_MB: over the ceiling the node is not ready and refuses new connections', async () => {
    // 1 MiB: any Node.js process is above it.
    const gw = await startGateway({ MEMORY_LIMIT_MB: '1' });
    try {
      const connected = await open(gw.url, gw.secret, 'early');
      const deadline = Date.now() + 3000;
      let readiness = await fetch(`${gw.url}/readyz`);
      while (readiness.status !== 503 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        readiness = await fetch(`${gw.url}/readyz`);
      }
      expect(readiness.status).to.equal(503);
      expect(((await readiness.json()) as { reason: string }).reason).to.match(/memory/);
      const refused = await handshake(gw.url);
      expect(refused.status).to.equal(503);
      expect(refused.body).to.deep.include({ code: 'UNAVAILABLE' });
      // Connections already open are kept.
      assertOk(await request(connected, 'room:join', { room: 's:1' }));
    } finally {
      await gw.close();
    }
  });

  it('MemoryWatch accepts again only once back under 90% of the ceiling', () => {
    let rss = 50;
    const watch = new MemoryWatch(100, () => rss, 60_000);
    try {
      watch.sample();
      expect(watch.overCeiling).to.equal(false);
      rss = 101;
      watch.sample();
      expect(watch.overCeiling).to.equal(true);
      rss = 95;
      watch.sample();
      expect(watch.overCeiling).to.equal(true);
      rss = 89;
      watch.sample();
      expect(watch.overCeiling).to.equal(false);
    } finally {
      watch.stop();
    }
  });
});

describe('slow consumers', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ MAX_CLIENT_BUFFER_BYTES: '262144', MAX_PAYLOAD_BYTES: '65536', RATE_LIMIT_PER_S: '1000' });
  });
  after(() => gw.close());

  it('a client that stops reading is disconnected as SLOW_CONSUMER; the other members get everything', async () => {
    const token = await signToken(gw.secret, { sub: 'reader', rooms: ['s:*'] });
    const healthy = await connect(gw.url, token);
    const stuck = await connect(gw.url, await signToken(gw.secret, { sub: 'stuck', rooms: ['s:*'] }));
    try {
      assertOk(await request(healthy, 'room:join', { room: 's:flood' }));
      assertOk(await request(stuck, 'room:join', { room: 's:flood' }));
      const inbox = collectMessages(healthy);
      const stuckId = stuck.id;
      // Stop reading from the TCP socket: the gateway's writes pile up on its side.
      const engine = stuck.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
      engine.transport.ws._socket.pause();
      const disconnected = new Promise<string>((resolve) => {
        const serverSocket = gw.gateway.io.of('/').sockets.get(stuckId as string);
        serverSocket?.once('disconnect', (reason) => resolve(reason));
      });
      const payload = 'x'.repeat(60_000);
      const total = 300;
      for (let i = 0; i < total; i += 1) {
        expect((await httpPublish(gw.url, { room: 's:flood', event: 'big', data: { i, payload } })).status).to.equal(200);
      }
      expect(await disconnected).to.be.a('string');
      expect(await metric(gw.url, 'roomcast_slow_consumer_disconnects_total')).to.equal(1);
      await waitFor(() => inbox.length === total, 20_000, 'every publication at the healthy member');
      expect(inbox.map((m) => (m.data as { i: number }).i)).to.deep.equal(Array.from({ length: total }, (_, i) => i));
      const presence = assertOk(await request(healthy, 'presence:list', { room: 's:flood' }));
      expect(presence.members.map((m) => m.userId)).to.deep.equal(['reader']);
    } finally {
      healthy.close();
      (stuck as Socket).close();
    }
  });
});
