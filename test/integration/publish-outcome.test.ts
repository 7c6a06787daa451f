/**
 * "Any error answer means not stored" must hold when Redis stalls or drops
 * the answer of a write it did apply (found by the chaos suite: publishes sent
 * a few ms before Redis died were answered 503 yet were in history).
 * CLIENT PAUSE makes Redis hold the answer of a command it will apply.
 */
import { expect } from 'chai';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { connectTestRedis, type TestRedisClient } from '../../tools/processes/redis-client.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';

describe('publish outcome when Redis answers late', function () {
  this.timeout(60_000);
  let redis: RedisProcess;
  let admin: TestRedisClient;
  let gw: TestGateway;
  before(async () => {
    redis = await startRedis();
    admin = await connectTestRedis(redis.url);
    gw = await startGateway({ REDIS_URL: redis.url });
  });
  after(async () => {
    await gw.close();
    await admin.close();
    await redis.stop();
  });

  const stored = async (room: string): Promise<number> => {
    const entries = (await admin.sendCommand(['XRANGE', `rc:{/|${room}}:stream`, '-', '+'])) as unknown[];
    return entries.length;
  };

  it('a publish whose answer is held past the call timeout is confirmed, not refused, and stored once', async () => {
    for (const body of [{ room: 'o:1', event: 'n', data: 1 }, { room: 'o:2', event: 'n', data: 1, idempotencyKey: 'key-o2' }]) {
      await admin.sendCommand(['CLIENT', 'PAUSE', '4000', 'WRITE']);
      const response = await httpPublish(gw.url, body);
      expect(response.status, JSON.stringify(response.body)).to.equal(200);
      expect((response.body.results as Array<{ offset: number }>)[0]?.offset).to.equal(1);
      expect(await stored(body.room)).to.equal(1);
    }
  });

  it('past the settle window the request is closed without an answer; a retry with the same key finds the original', async () => {
    await admin.sendCommand(['CLIENT', 'PAUSE', '8000', 'WRITE']);
    const body = { room: 'o:3', event: 'n', data: 3, idempotencyKey: 'key-o3' };
    const first = await httpPublish(gw.url, body).then(
      (response) => response.status,
      () => 'no answer',
    );
    expect(first).to.equal('no answer');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const retry = await httpPublish(gw.url, body);
    expect(retry.status).to.equal(200);
    expect((retry.body.results as Array<{ offset: number }>)[0]?.offset).to.equal(1);
    expect(await stored('o:3')).to.equal(1);
  });

  it('a node whose event loop was blocked past the settle window still answers a publication Redis confirmed (no "socket hang up")', async () => {
    // The gateway runs in this process: blocking it is a saturated node. Redis holds the append's answer a
    // moment (CLIENT PAUSE) and sends it while the loop is blocked; the call's timer and that answer are then
    // due in the same turn, and timers run before sockets are read.
    await admin.sendCommand(['CLIENT', 'PAUSE', '600', 'WRITE']);
    const answer = httpPublish(gw.url, { room: 'o:busy', event: 'n', data: 1, idempotencyKey: 'key-busy' }).then(
      (response) => response.status,
      () => 'no answer',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const blockedUntil = Date.now() + 5200;
    while (Date.now() < blockedUntil) {
      // busy: longer than the append's settle window (APPEND_SETTLE_MS)
    }
    expect(await answer).to.equal(200);
    expect(await stored('o:busy')).to.equal(1);
  });

  it('a refusal Redis makes before storing (OOM) is answered 503 UNAVAILABLE at once', async () => {
    await admin.sendCommand(['SET', 'ballast', 'x'.repeat(2 * 1024 * 1024)]);
    await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '1mb']);
    try {
      const started = Date.now();
      const response = await httpPublish(gw.url, { room: 'o:oom', event: 'n', data: 1 });
      expect(response.status).to.equal(503);
      expect(response.body.error).to.deep.include({ code: 'UNAVAILABLE', retryable: true });
      expect(Date.now() - started, 'answered without waiting for the settle window').to.be.below(2000);
    } finally {
      await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
      await admin.sendCommand(['DEL', 'ballast']);
    }
    expect(await stored('o:oom')).to.equal(0);
  });

  it('several rooms: 200 with one item per room, a room whose outcome is unknown marked so, the others stored', async () => {
    // A key of the wrong type makes this room's append fail in a way that cannot be told apart from a lost answer.
    await admin.sendCommand(['SET', 'rc:{/|o:broken}:meta', 'not a hash']);
    const response = await httpPublish(gw.url, { rooms: ['o:first', 'o:broken', 'o:last'], event: 'n', data: 1, idempotencyKey: 'multi-1' });
    expect(response.status).to.equal(200);
    const results = response.body.results as Array<Record<string, unknown>>;
    expect(results.map((result) => result.room)).to.deep.equal(['o:first', 'o:broken', 'o:last']);
    expect(results[0]).to.include({ offset: 1 });
    expect(results[1]).to.deep.include({ unknown: true, error: results[1]?.error });
    expect((results[1]?.error as { code: string }).code).to.equal('UNAVAILABLE');
    expect(results[2]).to.include({ offset: 1 });
    expect(await stored('o:first')).to.equal(1);
    expect(await stored('o:last')).to.equal(1);
    await admin.sendCommand(['DEL', 'rc:{/|o:broken}:meta']);
    // Retrying the whole request with its key: the stored rooms answer their original offsets, the other is stored now.
    const retry = await httpPublish(gw.url, { rooms: ['o:first', 'o:broken', 'o:last'], event: 'n', data: 1, idempotencyKey: 'multi-1' });
    expect((retry.body.results as Array<Record<string, unknown>>).map((result) => result.offset)).to.deep.equal([1, 1, 1]);
    expect(await stored('o:first')).to.equal(1);
  });
});
