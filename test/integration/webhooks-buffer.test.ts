/**
 * The producer's buffer (server/core/webhook-events.ts) while the queue's
 * Redis is away: a real Membership (memory presence) and a real Redis queue on
 * a redis-server that is killed and restarted. Events wait in order, the
 * oldest beyond the bound are dropped and counted, and the rest are queued
 * once Redis is back.
 */
import { expect } from 'chai';
import type { WebhookEvent } from '../../shared/index.js';
import { MemoryPresenceStore } from '../../server/backends/memory/presence.js';
import { connectRedis, type RedisConnections } from '../../server/backends/redis/redis-connections.js';
import { RedisWebhookQueue } from '../../server/backends/redis/webhook-queue.js';
import { loadConfig } from '../../server/config/load.js';
import { Membership } from '../../server/core/membership.js';
import { WebhookEvents } from '../../server/core/webhook-events.js';
import { createLogger } from '../../server/ops/logger.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { waitFor } from '../support/sockets.js';

describe('webhook events while the queue is away', function () {
  this.timeout(60_000);
  let redis: RedisProcess;
  let connections: RedisConnections;
  before(async () => {
    redis = await startRedis();
    const config = loadConfig({ JWT_SECRET: TEST_JWT_SECRET, API_KEYS: TEST_API_KEY, LOG_LEVEL: 'silent', NODE_ID: 'buffer-node', REDIS_URL: redis.url });
    connections = await connectRedis(config, createLogger(config));
  });
  after(async () => {
    await connections.close();
    await redis.stop();
  });

  it('wait in order, the oldest past the bound are dropped and counted, the rest are queued once Redis is back', async () => {
    const queue = new RedisWebhookQueue(connections, { nodeId: 'buffer-node', leaseMs: 5_000 });
    const membership = new Membership({ presence: new MemoryPresenceStore(), maxRoomMembers: 0, presenceEventsMaxMembers: 0, presenceNamespaces: new Set() });
    const config = loadConfig({ JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    let dropped = 0;
    const queued: WebhookEvent[] = [];
    const events = new WebhookEvents({
      queue,
      types: ['room.occupied', 'member.joined'],
      namespaces: config.namespaces,
      logger: createLogger(config),
      maxBuffered: 5,
      onDropped: (count) => (dropped += count),
      onQueued: (batch) => queued.push(...batch),
    });
    events.attach(membership);
    await membership.add('/', 'before', { userId: 'u0', connectionId: 'c0', nodeId: 'buffer-node', joinedAt: 1 });
    await waitFor(() => queued.length === 2, 5_000, 'the events made while Redis is up');

    await redis.kill();
    await waitFor(() => !connections.isReady(), 5_000, 'the connection to notice');
    // 4 rooms, each occupied + joined: 8 events for a buffer of 5.
    for (let index = 1; index <= 4; index += 1) await membership.add('/', `r${index}`, { userId: `u${index}`, connectionId: `c${index}`, nodeId: 'buffer-node', joinedAt: 1 });
    await waitFor(() => dropped === 3, 5_000, 'the oldest three dropped');
    expect(queued).to.have.length(2);

    await redis.restart();
    await waitFor(() => queued.length === 7, 20_000, 'the buffered events queued');
    // The newest five, in the order they happened: r2's joined, then r3 and r4 (occupied before joined).
    const wanted = [
      ['member.joined', 'r2'],
      ['room.occupied', 'r3'],
      ['member.joined', 'r3'],
      ['room.occupied', 'r4'],
      ['member.joined', 'r4'],
    ];
    expect(queued.slice(2).map((event) => [event.type, event.room])).to.deep.equal(wanted);
    // They are in the queue (the restarted Redis holds exactly them: it kept nothing from before).
    expect(await queue.acquire()).to.equal(true);
    const read = await queue.read(100);
    expect(read.map(({ event }) => [event.type, event.room])).to.deep.equal(wanted);
    await events.stop();
  });
});
