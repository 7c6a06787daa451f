/**
 * On Redis Cluster a node subscribes to each room it serves. Whatever breaks
 * a subscription behind the node's back (a race nobody has thought of yet, a
 * slot moved and not restored), the periodic reconciliation finds the room
 * deaf, subscribes it again, counts the repair, and the node delivers to its
 * members what was published while the room was deaf. Here the subscription is
 * removed from node-redis directly, as the late-unsubscribe race used to.
 */
import { expect } from 'chai';
import type { RedisClusterType } from 'redis';
import { shardedPubSubDriver } from '../../server/backends/redis/sharded-pubsub.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { scrape } from '../support/metrics.js';
import { startRedisCluster, type RedisCluster } from '../../tools/processes/redis-server.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

describe('room subscriptions are reconciled (Redis Cluster)', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  let serving: TestGateway;
  let publishing: TestGateway;
  const sockets: TestSocket[] = [];
  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    serving = await startGateway({ REDIS_CLUSTER_NODES: cluster.envValue, NODE_ID: 'serving', SUBSCRIPTION_RECONCILE_MS: '200' });
    publishing = await startGateway({ REDIS_CLUSTER_NODES: cluster.envValue, NODE_ID: 'publishing' });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await serving?.close();
    await publishing?.close();
    await cluster?.stop();
  });

  it('a room whose subscription was dropped behind the node gets it back within the interval, and the repair is counted', async () => {
    const member = await connect(serving.url, await signToken(TEST_JWT_SECRET, { sub: 'member', rooms: ['rc:*'] }));
    sockets.push(member);
    assertOk(await request(member, 'room:join', { room: 'rc:deaf' }));
    const inbox = collectMessages(member);
    const before = (await scrape(serving.url)).value('roomcast_subscription_repairs_total', { kind: 'missing' });

    // The room's channel as the sharded adapter names it; node-redis forgets it once Redis answered.
    const subscriber = serving.gateway.backends.redis?.subscriberClient as RedisClusterType;
    await subscriber.sUnsubscribe('roomcast#/#rc:deaf#');
    expect(shardedPubSubDriver(subscriber).subscribedChannels().has('roomcast#/#rc:deaf#'), 'the subscription is gone').to.equal(false);
    expect((await httpPublish(publishing.url, { room: 'rc:deaf', event: 'n', data: 'while deaf' })).status).to.equal(200);

    const deadline = Date.now() + 5000;
    let after = before;
    while (Date.now() < deadline && after === before) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = (await scrape(serving.url)).value('roomcast_subscription_repairs_total', { kind: 'missing' });
    }
    expect(after).to.equal(before + 1);
    // What was published while the room was deaf reaches the member without waiting for the next publication...
    await waitFor(() => inbox.some((message) => message.data === 'while deaf'), 5000, 'the publication made while the room was deaf');
    // ...and the room is heard again.
    expect((await httpPublish(publishing.url, { room: 'rc:deaf', event: 'n', data: 'heard' })).status).to.equal(200);
    await waitFor(() => inbox.some((message) => message.data === 'heard'), 5000, 'the publication after the repair');
    expect(inbox.map((message) => message.offset)).to.deep.equal([1, 2]);
  });
});
