/**
 * PARSER=msgpack: a raw WebSocket that sends a frame declaring a huge length
 * (ext 32 of 1 GiB: `c9 40 00 00 00 00`, 6 bytes) before any CONNECT or token
 * used to make the decoder allocate and fill 1 GiB, freezing the node for
 * seconds. Now the frame is checked before it is decoded: the attacker is cut
 * off, and the node keeps serving a legitimate client meanwhile.
 */
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { RawEngineClient } from '../support/raw-engine-client.js';
import { assertOk, connect, request } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('msgpack length bombs (PARSER=msgpack)', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ PARSER: 'msgpack' });
  });
  after(() => gw.close());

  it('frames declaring 1 GiB or 4 GiB close the attacker at once; the node stays responsive and does not grow', async () => {
    const rssBefore = process.memoryUsage().rss;
    const bombs = [
      [0xc9, 0x40, 0x00, 0x00, 0x00, 0x00],
      [0xc9, 0xff, 0xff, 0xff, 0xf0, 0x00],
      [0xdd, 0xff, 0xff, 0xff, 0xff],
    ];
    const attackers = await Promise.all(bombs.map(() => RawEngineClient.connect(gw.url, { localAddress: '127.0.0.7' })));
    attackers.forEach((attacker, index) => attacker.sendBinary(Uint8Array.from(bombs[index] as number[])));
    // Meanwhile a legitimate client connects, joins and reads history, and the health check answers.
    const startedAt = Date.now();
    const member = await connect(gw.url, await signToken(gw.secret, { sub: 'legit', rooms: ['mp:*'] }), { parser: 'msgpack' });
    try {
      assertOk(await request(member, 'room:join', { room: 'mp:room' }));
      assertOk(await request(member, 'room:history', { room: 'mp:room' }));
      expect((await fetch(`${gw.url}/healthz`)).status).to.equal(200);
      const servedInMs = Date.now() - startedAt;
      const closes = await Promise.all(attackers.map((attacker) => attacker.whenClosed));
      expect(closes.every((close) => !close.byClient), 'the gateway closed every attacker').to.equal(true);
      const grewMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
      expect(grewMiB, `RSS grew ${grewMiB.toFixed(0)} MiB`).to.be.below(200);
      // The figure for the closing note (a freeze was 6-8 s per bomb).
      process.stdout.write(`      legitimate client served in ${servedInMs} ms, RSS +${grewMiB.toFixed(1)} MiB\n`);
    } finally {
      member.close();
    }
  });
});
