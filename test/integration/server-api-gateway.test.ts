/**
 * @roomcast/server-api's handlers answering a real gateway: one roomcastProxy
 * endpoint behind CONNECT_PROXY_URL, JOIN_PROXY_URL and PUBLISH_PROXY_URL (a cookie
 * session admitted, a join the token does not cover allowed or denied, a client
 * publication rewritten or refused), and roomcastWebhook receiving the gateway's
 * own signed deliveries. Needs the proxies and webhooks of issue 14 in the gateway.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookDelivery } from '../../shared/index.js';
import { roomcastProxy } from '../../server-api/proxy-handler.js';
import { roomcastWebhook } from '../../server-api/webhook-handler.js';
import { createEventDeduper } from '../../server-api/dedupe.js';
import { mintToken } from '../../server-api/token.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, connectRefused, request, waitFor, type TestSocket } from '../support/sockets.js';

const SECRET = 'gateway-proxy-secret-0123456789-abcdefgh';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('server-api handlers answering a real gateway (proxies and webhooks of issue 14)', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let proxyServer: Server;
  let hookServer: Server;
  const deliveries: WebhookDelivery[] = [];
  const sockets: TestSocket[] = [];
  const token = (sub: string, rooms: string[]) => mintToken({ secret: gw.secret, sub, rooms, ttl: 600 });
  const open = async (sub: string, rooms: string[]): Promise<TestSocket> => {
    const socket = await connect(gw.url, await token(sub, rooms));
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    proxyServer = createServer(
      roomcastProxy({
        secret: SECRET,
        connect: ({ headers }) => (headers.cookie === 'sid=good' ? { result: 'allow', user: 'cookie-user', rooms: ['cookie:*'] } : { result: 'deny', message: 'no session' }),
        join: ({ room }) => (room.startsWith('extra:') ? { result: 'allow' } : { result: 'deny' }),
        publish: ({ data }) => {
          const text = String((data as { text?: unknown }).text ?? '');
          return text.includes('spam') ? { result: 'deny', message: 'no spam' } : { result: 'allow', data: { text: text.replace('darn', '****') } };
        },
      }),
    );
    hookServer = createServer(roomcastWebhook({ secret: SECRET, dedupe: createEventDeduper(), onDelivery: (delivery) => void deliveries.push(delivery) }));
    const [proxyUrl, hookUrl] = [await listen(proxyServer), await listen(hookServer)];
    gw = await startGateway({ CONNECT_PROXY_URL: proxyUrl, JOIN_PROXY_URL: proxyUrl, PUBLISH_PROXY_URL: proxyUrl, WEBHOOK_URL: hookUrl, WEBHOOK_SECRET: SECRET });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await gw.close();
    for (const server of [proxyServer, hookServer]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('connect: admits a cookie session the proxy allows, refuses one it denies', async () => {
    const admitted = await connect(gw.url, undefined, { extraHeaders: { cookie: 'sid=good' } });
    sockets.push(admitted);
    assertOk(await request(admitted, 'room:join', { room: 'cookie:1' }));
    const refused = await connectRefused(gw.url, undefined, { extraHeaders: { cookie: 'sid=bad' } });
    expect(refused.data?.code).to.equal('UNAUTHENTICATED');
  });

  it('join: lets a token join a room it does not cover when the proxy allows, FORBIDDEN_ROOM when it denies', async () => {
    const socket = await open('joiner', ['own:*']);
    assertOk(await request(socket, 'room:join', { room: 'extra:1' }));
    const denied = await request(socket, 'room:join', { room: 'closed:1' });
    expect(denied.ok ? null : denied.error.code).to.equal('FORBIDDEN_ROOM');
  });

  it('publish: stores the payload the proxy rewrote, and nothing it refused', async () => {
    const socket = await open('writer', ['talk:*']);
    assertOk(await request(socket, 'room:join', { room: 'talk:1' }));
    const received = collectMessages(socket);
    assertOk(await request(socket, 'room:publish', { room: 'talk:1', event: 'chat', data: { text: 'darn it' } }));
    const refused = await request(socket, 'room:publish', { room: 'talk:1', event: 'chat', data: { text: 'buy spam' } });
    expect(refused.ok ? null : refused.error.code).to.equal('PUBLISH_FORBIDDEN');
    await waitFor(() => received.length === 1, 5000, 'the rewritten publication');
    expect(received[0]).to.deep.include({ data: { text: '**** it' }, offset: 1 });
  });

  it('webhooks: the gateway\'s signed deliveries pass roomcastWebhook, room.occupied before member.joined', async () => {
    const socket = await open('watcher', ['watched:*']);
    assertOk(await request(socket, 'room:join', { room: 'watched:1' }));
    const types = (): string[] => deliveries.flatMap((delivery) => delivery.events.filter((event) => event.room === 'watched:1').map((event) => event.type));
    await waitFor(() => types().includes('member.joined'), 15_000, 'member.joined delivered');
    expect(types().slice(0, 2)).to.deep.equal(['room.occupied', 'member.joined']);
  });
});
