/**
 * Anonymous clients cannot exhaust a node's admission for everyone (issue 12,
 * items 2 and 3). Each test performs the attack from other 127.0.0.x source
 * addresses than the legitimate client (127.0.0.1) and asserts that the node
 * stays healthy: the legitimate client connects, and the attacker is refused
 * or cut off by its own, per-address limits.
 */
import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { io } from 'socket.io-client';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { RawEngineClient } from '../support/raw-engine-client.js';
import { connect, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

/** An Engine.IO polling handshake from `localAddress`, with extra headers. */
function handshakeFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL('/socket.io/?EIO=4&transport=polling', url);
    const req = httpRequest({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, localAddress, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A full authenticated connect (handshake + namespace CONNECT), resolving with the outcome. */
async function tryConnect(url: string, token: string): Promise<'connected' | string> {
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    return await new Promise((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve(error.data?.code ?? error.message));
    });
  } finally {
    socket.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('admission under anonymous floods (attacks from other loopback addresses)', function () {
  this.timeout(60_000);
  const gateways: TestGateway[] = [];
  const sockets: TestSocket[] = [];
  const raws: RawEngineClient[] = [];
  const start = async (env: Record<string, string>): Promise<TestGateway> => {
    const gateway = await startGateway(env);
    gateways.push(gateway);
    return gateway;
  };
  afterEach(async () => {
    for (const raw of raws.splice(0)) raw.terminate();
    for (const socket of sockets.splice(0)) socket.close();
    await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
  });

  it('a handshake flood from one address does not use up ACCEPT_RATE_PER_S: every legitimate connect succeeds, the flooder is refused', async () => {
    const gw = await start({ ACCEPT_RATE_PER_S: '10', ACCEPT_RATE_PER_IP_PER_S: '5', MAX_CONNECTIONS_PER_IP: '0' });
    const token = await signToken(gw.secret, { sub: 'legit' });
    let flooding = true;
    const statuses: number[] = [];
    // 40 anonymous handshakes a second from 127.0.0.2, which never authenticate.
    const flood = (async () => {
      while (flooding) {
        statuses.push(...(await Promise.all(Array.from({ length: 4 }, () => handshakeFrom(gw.url, '127.0.0.2')))));
        await sleep(100);
      }
    })();
    await sleep(300);
    const legitimate: string[] = [];
    for (let attempt = 0; attempt < 10; attempt += 1) {
      legitimate.push(await tryConnect(gw.url, token));
      await sleep(150);
    }
    flooding = false;
    await flood;
    expect(legitimate).to.deep.equal(Array.from({ length: 10 }, () => 'connected'));
    expect(statuses.filter((status) => status === 429).length, 'the flooder hit its own per-address rate').to.be.greaterThan(statuses.length / 2);
  });

  it('sessions that never send CONNECT hold no MAX_CONNECTIONS slot and are closed after HANDSHAKE_TIMEOUT_MS', async () => {
    const gw = await start({ MAX_CONNECTIONS: '5', HANDSHAKE_TIMEOUT_MS: '1000', MAX_CONNECTIONS_PER_IP: '0', ACCEPT_RATE_PER_IP_PER_S: '0' });
    // Five times the node's limit in anonymous sessions, from 127.0.0.3.
    for (let index = 0; index < 25; index += 1) raws.push(await RawEngineClient.connect(gw.url, { localAddress: '127.0.0.3' }));
    const token = await signToken(gw.secret, { sub: 'legit' });
    for (let index = 0; index < 5; index += 1) sockets.push(await connect(gw.url, token));
    // The node is full of authenticated connections now: one more is refused at its handshake (503), anonymous or not.
    expect(await tryConnect(gw.url, token)).to.not.equal('connected');
    expect(await handshakeFrom(gw.url, '127.0.0.1')).to.equal(503);
    const closed = await Promise.race([Promise.all(raws.map((raw) => raw.whenClosed)).then(() => true), sleep(5000).then(() => false)]);
    expect(closed, 'every session without CONNECT closed by the gateway').to.equal(true);
    expect(raws.every((raw) => raw.frames.every((frame) => frame.sio === undefined)), 'no namespace was ever connected').to.equal(true);
  });

  it('MAX_CONNECTIONS_PER_IP: one address gets that many sessions and is refused beyond; another address is not affected', async () => {
    const gw = await start({ MAX_CONNECTIONS_PER_IP: '5', ACCEPT_RATE_PER_IP_PER_S: '0' });
    for (let index = 0; index < 5; index += 1) raws.push(await RawEngineClient.connect(gw.url, { localAddress: '127.0.0.4' }));
    const refused = await RawEngineClient.connect(gw.url, { localAddress: '127.0.0.4' }).then(
      (raw) => (raws.push(raw), 'accepted'),
      (error: Error) => error.message,
    );
    expect(refused).to.equal('handshake refused with HTTP 429');
    expect(await handshakeFrom(gw.url, '127.0.0.4')).to.equal(429);
    expect(await tryConnect(gw.url, await signToken(gw.secret, { sub: 'legit' }))).to.equal('connected');
    // A place frees when a session of that address ends.
    raws.shift()?.terminate();
    await sleep(200);
    expect(await handshakeFrom(gw.url, '127.0.0.4')).to.equal(200);
  });

  it('X-Forwarded-For counts only from TRUSTED_PROXIES: a client cannot dodge its limit by writing the header', async () => {
    const gw = await start({ TRUSTED_PROXIES: '127.0.0.1', ACCEPT_RATE_PER_IP_PER_S: '2', MAX_CONNECTIONS_PER_IP: '0' });
    // 127.0.0.5 is not a trusted proxy: its made-up addresses are ignored and its own address is limited.
    const spoofed = [];
    for (let index = 0; index < 5; index += 1) spoofed.push(await handshakeFrom(gw.url, '127.0.0.5', { 'x-forwarded-for': `10.0.0.${index + 1}` }));
    expect(spoofed.filter((status) => status === 429)).to.have.length(3);
    // 127.0.0.1 is the trusted proxy: the clients it forwards are told apart by the header.
    const forwarded = [];
    for (let index = 0; index < 5; index += 1) forwarded.push(await handshakeFrom(gw.url, '127.0.0.1', { 'x-forwarded-for': `203.0.113.${index + 1}` }));
    expect(forwarded).to.deep.equal([200, 200, 200, 200, 200]);
  });

  it('a user whose connects are aborted during authentication keeps all of MAX_CONNECTIONS_PER_USER', async () => {
    const gw = await start({ MAX_CONNECTIONS_PER_USER: '3', MAX_CONNECTIONS_PER_IP: '0', ACCEPT_RATE_PER_IP_PER_S: '0' });
    const token = await signToken(gw.secret, { sub: 'victim' });
    // Thirty connects that send CONNECT with a valid token and close at once, while the token is being checked.
    for (let index = 0; index < 30; index += 1) {
      const raw = await RawEngineClient.connect(gw.url, { localAddress: '127.0.0.6' });
      raw.sendPacket(`0${JSON.stringify({ token })}`);
      raw.terminate();
    }
    await sleep(300);
    const outcomes = [];
    for (let index = 0; index < 3; index += 1) outcomes.push(await tryConnect(gw.url, token));
    expect(outcomes).to.deep.equal(['connected', 'connected', 'connected']);
    for (let index = 0; index < 3; index += 1) sockets.push(await connect(gw.url, token));
    expect(await tryConnect(gw.url, token), 'the limit itself still holds').to.equal('TOO_MANY_CONNECTIONS');
  });
});
