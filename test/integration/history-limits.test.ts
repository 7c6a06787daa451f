/**
 * One user cannot fill a node's history memory (issue 12, item 4): an attacker
 * with many sockets in many rooms publishing 60 KB payloads as fast as the
 * connection rate limits allow is stopped by PUBLISH_BYTES_PER_USER_PER_S
 * (another user is not), and whatever gets through is bounded by
 * HISTORY_MAX_BYTES, the oldest entries trimmed first.
 */
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { scrape } from '../support/metrics.js';
import { assertOk, connect, rawRequest, request, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const PAYLOAD = 'x'.repeat(60_000);

describe('history memory under a publishing flood', function () {
  this.timeout(60_000);
  const sockets: TestSocket[] = [];
  const gateways: TestGateway[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
  });

  /** 10 sockets of one user, each in `roomsEach` rooms; each publishes 60 KB into its rooms for `ms`. Returns the outcomes. */
  async function flood(gw: TestGateway, user: string, roomsEach: number, ms: number): Promise<{ stored: number; limited: number }> {
    const token = await signToken(gw.secret, { sub: user, rooms: ['f:*'] });
    const attackers = await Promise.all(Array.from({ length: 10 }, () => connect(gw.url, token)));
    sockets.push(...attackers);
    const rooms = (index: number): string[] => Array.from({ length: roomsEach }, (_, room) => `f:${user}:${index}:${room}`);
    await Promise.all(attackers.map(async (socket, index) => Promise.all(rooms(index).map(async (room) => assertOk(await request(socket, 'room:join', { room }))))));
    let stored = 0;
    let limited = 0;
    const until = Date.now() + ms;
    await Promise.all(
      attackers.map(async (socket, index) => {
        while (Date.now() < until) {
          const answers = await Promise.all(rooms(index).map((room) => rawRequest(socket, 'room:publish', { room, event: 'e', data: PAYLOAD })));
          for (const answer of answers) {
            if (answer.ok) stored += 1;
            else if ((answer as { error: { code: string } }).error.code === 'RATE_LIMITED') limited += 1;
          }
        }
      }),
    );
    return { stored, limited };
  }

  it('PUBLISH_BYTES_PER_USER_PER_S stops the flooding user after its burst; another user publishes meanwhile', async () => {
    const gw = await startGateway({ RATE_LIMIT_PER_S: '1000', RATE_LIMIT_BURST: '1000' });
    gateways.push(gw);
    const outcome = await flood(gw, 'mallory', 15, 3000);
    // Default 256 KiB/s with a burst of four seconds: at most ~7 s worth of 60 KB publications in 3 s, far from the ~1,200 unlimited.
    expect(outcome.stored).to.be.below(40);
    expect(outcome.limited).to.be.greaterThan(outcome.stored);
    const bystander = await connect(gw.url, await signToken(gw.secret, { sub: 'bob', rooms: ['f:*'] }));
    sockets.push(bystander);
    assertOk(await request(bystander, 'room:join', { room: 'f:bob' }));
    assertOk(await request(bystander, 'room:publish', { room: 'f:bob', event: 'e', data: PAYLOAD }));
  });

  it('HISTORY_MAX_BYTES bounds what is held, oldest first, when the publish budget is lifted', async () => {
    const maxBytes = 4 * 1024 * 1024;
    const gw = await startGateway({ HISTORY_MAX_BYTES: String(maxBytes), PUBLISH_BYTES_PER_USER_PER_S: '0', RATE_LIMIT_PER_S: '1000', RATE_LIMIT_BURST: '1000' });
    gateways.push(gw);
    const outcome = await flood(gw, 'trudy', 15, 2000);
    expect(outcome.stored * PAYLOAD.length, 'the flood stored far more than the limit').to.be.greaterThan(maxBytes * 2);
    const metrics = await scrape(gw.url);
    expect(metrics.value('roomcast_history_bytes')).to.be.within(1, maxBytes);
    expect(metrics.value('roomcast_history_entries')).to.be.below(outcome.stored);
    // The oldest went first: the first room's first publications are gone, its reader is told so.
    const reader = await connect(gw.url, await signToken(gw.secret, { sub: 'reader', rooms: ['f:*'] }));
    sockets.push(reader);
    const page = assertOk(await request(reader, 'room:history', { room: 'f:trudy:0:0', since: { epoch: (assertOk(await request(reader, 'room:history', { room: 'f:trudy:0:0', limit: 1 }))).epoch, offset: 0 } }));
    expect(page.recovered).to.equal(false);
  });
});
