/** Logs are structured JSON with the node id, and no token or API key ever reaches a log line, at any level. */
import { expect } from 'chai';
import { captureLogs, httpPublish, startGateway } from '../support/gateway.js';
import { assertOk, connect, connectRefused, request } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('logging', () => {
  it('never writes a token or an API key, even at trace level', async () => {
    const logs = captureLogs();
    const gw = await startGateway({ LOG_LEVEL: 'trace' }, logs);
    const token = await signToken(gw.secret, { sub: 'logged', rooms: ['log:1'] });
    const expired = await signToken(gw.secret, { sub: 'logged' }, { expiresIn: -60 });
    const forged = await signToken('some-other-secret-long-enough-to-sign!!', { sub: 'logged' });
    try {
      const socket = await connect(gw.url, token, { transports: ['polling', 'websocket'] });
      assertOk(await request(socket, 'room:join', { room: 'log:1' }));
      assertOk(await request(socket, 'auth:refresh', { token }));
      await request(socket, 'auth:refresh', { token: forged });
      socket.close();
      await connectRefused(gw.url, expired);
      await connectRefused(gw.url, forged);
      expect((await httpPublish(gw.url, { room: 'log:1', event: 'e', data: 1 })).status).to.equal(200);
      await httpPublish(gw.url, { room: 'log:1', event: 'e', data: 1 }, { authorization: 'Bearer wrong-key-with-some-length' });
    } finally {
      await gw.close();
    }
    const text = logs.lines.join('');
    expect(logs.lines.length).to.be.greaterThan(2);
    for (const secret of [token, expired, forged, gw.apiKey, 'wrong-key-with-some-length']) {
      expect(text).to.not.contain(secret);
      // Not even the signature part alone.
      expect(text).to.not.contain(secret.split('.').pop() as string);
    }
    const first = JSON.parse(logs.lines[0] as string) as Record<string, unknown>;
    expect(first).to.include({ node: 'test-node' });
    expect(first.level).to.be.a('number');
  });

  it('every line carries the node id; connection lines carry conn and user, error lines a code; no payload at info', async () => {
    const logs = captureLogs();
    const gw = await startGateway({ LOG_LEVEL: 'debug' }, logs);
    const payload = 'payload-that-must-not-be-logged-3e9d';
    try {
      const socket = await connect(gw.url, await signToken(gw.secret, { sub: 'log-user', rooms: ['log:2'] }));
      assertOk(await request(socket, 'room:join', { room: 'log:2' }));
      assertOk(await request(socket, 'room:publish', { room: 'log:2', event: 'e', data: payload }));
      expect((await httpPublish(gw.url, { room: 'log:2', event: 'e', data: payload })).status).to.equal(200);
      socket.close();
    } finally {
      await gw.close();
    }
    const lines = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of lines) expect(line, JSON.stringify(line)).to.include({ node: 'test-node' });
    const connected = lines.find((line) => line.msg === 'connected');
    expect(connected).to.include({ user: 'log-user' });
    expect(connected?.conn).to.be.a('string');
    for (const line of lines.filter((candidate) => (candidate.level as number) >= 50)) expect(line.code, JSON.stringify(line)).to.be.a('string');
    for (const line of lines.filter((candidate) => (candidate.level as number) >= 30)) expect(JSON.stringify(line)).to.not.contain(payload);
  });
});
