/**
 * GET /metrics: the contract's metrics (docs/operations.md), scraped from a real
 * gateway and parsed as Prometheus would. Counters are compared before and
 * after real traffic and must have moved by exactly what the traffic did.
 */
import { expect } from 'chai';
import type { ErrorPayload } from '../../shared/index.js';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { scrape, type Scrape } from '../support/metrics.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { assertOk, collectMessages, connect, connectRefused, rawRequest, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

/** A room and users whose names must never appear in the exposition. */
const ROOM = 'metricsroom:never-a-label-7f3a';
const USERS = ['metrics-user-alice-91c2', 'metrics-user-bob-5d10', 'metrics-user-carol-e4b7'];

const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number => after.value(name, labels) - before.value(name, labels);

describe('metrics', function () {
  this.timeout(30_000);
  const sockets: TestSocket[] = [];
  let gw: TestGateway | null = null;
  let redis: RedisProcess | null = null;
  const open = async (user: string, options: { transports?: Array<'polling' | 'websocket'>; namespace?: string } = {}): Promise<TestSocket> => {
    const socket = await connect((gw as TestGateway).url, await signToken((gw as TestGateway).secret, { sub: user, rooms: ['metricsroom:*'] }), options);
    sockets.push(socket);
    return socket;
  };
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await gw?.close();
    gw = null;
    await redis?.stop();
    redis = null;
  });

  it('counts connections, messages, publications, deliveries, rejoins, errors, rate limits and handshake failures exactly', async () => {
    // Presence events off, so that deliveries are exactly the publications' recipients; a small bucket to exceed.
    // Exact counts of the test's own rooms: the auto-joined user rooms would add history rooms and joins.
    gw = await startGateway({ PRESENCE_EVENTS_MAX_MEMBERS: '0', RATE_LIMIT_BURST: '20', RATE_LIMIT_PER_S: '1', AUTO_JOIN_USER_ROOM: 'false' });
    const before = await scrape(gw.url);

    // Three members of one room over WebSocket, and a fourth connection on long-polling only.
    const members = [await open(USERS[0] as string), await open(USERS[1] as string), await open(USERS[2] as string)];
    const poller = await open('metrics-user-poller', { transports: ['polling'] });
    const received = members.map((socket) => collectMessages(socket));
    let epoch = '';
    for (const socket of members) epoch = assertOk(await request(socket, 'room:join', { room: ROOM })).epoch;

    // Two publications from a client and one over HTTP: 3 x 3 deliveries.
    assertOk(await request(members[0] as TestSocket, 'room:publish', { room: ROOM, event: 'chat', data: { text: 'one' } }));
    assertOk(await request(members[1] as TestSocket, 'room:publish', { room: ROOM, event: 'chat', data: { text: 'two' } }));
    expect((await httpPublish(gw.url, { room: ROOM, event: 'chat', data: { text: 'three' } })).status).to.equal(200);
    await waitFor(() => received.every((messages) => messages.length === 3), 5000, 'every member to receive 3 messages');

    // Rejoins: one whose missed messages history still holds, one from an epoch the room never had.
    const rejoiner = await open('metrics-user-rejoiner');
    expect(assertOk(await request(rejoiner, 'room:join', { room: ROOM, since: { epoch, offset: 1 } })).recovered).to.equal(true);
    const lost = await open('metrics-user-lost');
    expect(assertOk(await request(lost, 'room:join', { room: ROOM, since: { epoch: 'gone-epoch', offset: 5 } })).recovered).to.equal(false);

    // Bad requests: an invalid payload, an unknown event, two bad HTTP calls.
    const invalid = await rawRequest(members[0] as TestSocket, 'room:join', { room: 'not a room!' });
    expect(invalid.ok === false && invalid.error.code).to.equal('INVALID_PAYLOAD');
    const unknown = await rawRequest(members[0] as TestSocket, 'no:such:event', {});
    expect(unknown.ok === false && unknown.error.code).to.equal('UNKNOWN_EVENT');
    expect((await httpPublish(gw.url, { event: 'chat', data: 1 })).status).to.equal(400);
    expect((await httpPublish(gw.url, { room: ROOM, event: 'chat', data: 1 }, {})).status).to.equal(401);

    // Past the bucket (20, refilling 1/s): the refused requests are counted one by one.
    const greedy = await open('metrics-user-greedy');
    const answers = await Promise.all(Array.from({ length: 30 }, () => rawRequest(greedy, 'presence:list', { room: ROOM })));
    const limited = answers.filter((answer) => answer.ok === false && answer.error.code === 'RATE_LIMITED').length;
    expect(limited).to.be.at.least(5);

    // Handshake failures: a forged token, an expired one, none.
    const forged = await connectRefused(gw.url, await signToken('another-secret-that-is-long-enough-to-sign', { sub: 'x' }));
    const expired = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'x' }, { expiresIn: -60 }));
    const missing = await connectRefused(gw.url, undefined);
    const refusals = [forged, expired, missing].map((refusal) => (refusal.data as ErrorPayload).code);
    expect(refusals).to.deep.equal(['UNAUTHENTICATED', 'TOKEN_EXPIRED', 'UNAUTHENTICATED']);

    const during = await scrape(gw.url);
    // Connections: 7 accepted on "/", 6 on WebSocket and 1 on polling now.
    expect(delta(before, during, 'roomcast_connections_opened_total', { namespace: '/' })).to.equal(7);
    expect(during.value('roomcast_connections_active', { namespace: '/', transport: 'websocket' })).to.equal(6);
    expect(during.value('roomcast_connections_active', { namespace: '/', transport: 'polling' })).to.equal(1);
    expect(during.value('roomcast_connections_active', { namespace: '/live' })).to.equal(0);
    // Publications by source, and deliveries = recipients (3 publications x 3 members).
    expect(delta(before, during, 'roomcast_publications_total', { namespace: '/', source: 'client' })).to.equal(2);
    expect(delta(before, during, 'roomcast_publications_total', { namespace: '/', source: 'http' })).to.equal(1);
    expect(delta(before, during, 'roomcast_deliveries_total', { namespace: '/' })).to.equal(9);
    // Client messages by event, refused ones included.
    expect(delta(before, during, 'roomcast_client_messages_total', { namespace: '/', event: 'room:join' })).to.equal(6);
    expect(delta(before, during, 'roomcast_client_messages_total', { namespace: '/', event: 'room:publish' })).to.equal(2);
    expect(delta(before, during, 'roomcast_client_messages_total', { namespace: '/', event: 'presence:list' })).to.equal(30);
    expect(delta(before, during, 'roomcast_client_messages_total', { namespace: '/', event: 'unknown' })).to.equal(1);
    // Rejoins by outcome.
    expect(delta(before, during, 'roomcast_rejoins_total', { namespace: '/', recovered: 'true' })).to.equal(1);
    expect(delta(before, during, 'roomcast_rejoins_total', { namespace: '/', recovered: 'false' })).to.equal(1);
    // Errors by code: socket acks and HTTP answers.
    expect(delta(before, during, 'roomcast_errors_total', { code: 'INVALID_PAYLOAD' })).to.equal(2);
    expect(delta(before, during, 'roomcast_errors_total', { code: 'UNKNOWN_EVENT' })).to.equal(1);
    expect(delta(before, during, 'roomcast_errors_total', { code: 'UNAUTHENTICATED' })).to.equal(1);
    expect(delta(before, during, 'roomcast_errors_total', { code: 'RATE_LIMITED' })).to.equal(limited);
    expect(delta(before, during, 'roomcast_rate_limited_total', { namespace: '/' })).to.equal(limited);
    // Handshake failures by code.
    expect(delta(before, during, 'roomcast_handshake_failures_total', { code: 'UNAUTHENTICATED' })).to.equal(2);
    expect(delta(before, during, 'roomcast_handshake_failures_total', { code: 'TOKEN_EXPIRED' })).to.equal(1);
    // Bytes both ways, history, readiness, build info.
    expect(delta(before, during, 'roomcast_received_bytes_total')).to.be.greaterThan(0);
    expect(delta(before, during, 'roomcast_sent_bytes_total')).to.be.greaterThan(delta(before, during, 'roomcast_received_bytes_total'));
    expect(during.value('roomcast_history_entries')).to.equal(3);
    expect(during.value('roomcast_history_rooms')).to.equal(1);
    expect(during.value('roomcast_ready')).to.equal(1);
    expect(during.value('roomcast_draining')).to.equal(0);
    expect(during.value('roomcast_canary_ok')).to.equal(1);
    expect(during.family('roomcast_build_info').metrics[0]?.labels).to.include({ node_id: 'test-node' });

    // Types as the contract says, and process metrics from collectDefaultMetrics().
    expect(during.family('roomcast_deliveries_total').type).to.equal('COUNTER');
    expect(during.family('roomcast_connections_active').type).to.equal('GAUGE');
    expect(during.family('roomcast_redis_pubsub_lag_seconds').type).to.equal('HISTOGRAM');
    expect(during.family('roomcast_redis_command_duration_seconds').type).to.equal('HISTOGRAM');
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds']) {
      expect(during.families.has(name), name).to.equal(true);
    }
    // No room, user or connection id as a label value, nor anywhere else in the exposition.
    for (const secret of [ROOM, ...USERS, (members[0] as TestSocket).id as string]) expect(during.text).to.not.contain(secret);

    // gateway.stats(): the same figures, synchronously.
    const stats = gw.gateway.stats();
    expect(stats).to.include({ nodeId: 'test-node', connections: 7, ready: true, draining: false, pubsubLagP99Ms: null });
    expect(stats.deliveriesTotal).to.equal(during.value('roomcast_deliveries_total'));
    expect(stats.messagesInTotal).to.equal(during.value('roomcast_client_messages_total'));
    expect(stats.messagesOutTotal).to.be.greaterThan(stats.deliveriesTotal);
    expect(stats.heapUsedBytes).to.be.greaterThan(0);

    // A connection closed by its client is counted under its close reason.
    poller.close();
    await waitFor(() => gw?.gateway.stats().connections === 6, 5000, 'the poller to be gone');
    const after = await scrape(gw.url);
    expect(delta(during, after, 'roomcast_connections_closed_total', { namespace: '/', reason: 'client namespace disconnect' })).to.equal(1);
    expect(after.value('roomcast_connections_active', { namespace: '/', transport: 'polling' })).to.equal(0);
  });

  // The gauge is kept as connections come, upgrade and go (a scrape no longer walks every socket): a connection
  // that starts on long-polling moves to websocket when it upgrades, and leaves both when it closes.
  it('moves a connection from polling to websocket when it upgrades, per namespace', async () => {
    gw = await startGateway();
    const transports = async (namespace: string): Promise<{ websocket: number; polling: number }> => {
      const now = await scrape((gw as TestGateway).url);
      return {
        websocket: now.value('roomcast_connections_active', { namespace, transport: 'websocket' }),
        polling: now.value('roomcast_connections_active', { namespace, transport: 'polling' }),
      };
    };
    const stayer = await open('metrics-user-stays-polling', { transports: ['polling'] });
    const upgrader = await open('metrics-user-upgrades', { transports: ['polling', 'websocket'] });
    const live = await open('metrics-user-live', { transports: ['polling'], namespace: '/live' });
    await waitFor(() => upgrader.io.engine.transport.name === 'websocket', 5000, 'the client to upgrade');
    await waitFor(async () => (await transports('/')).websocket === 1, 5000, 'the upgrade to be counted');
    expect(await transports('/')).to.deep.equal({ websocket: 1, polling: 1 });
    expect(await transports('/live')).to.deep.equal({ websocket: 0, polling: 1 });

    upgrader.close();
    stayer.close();
    live.close();
    await waitFor(() => gw?.gateway.stats().connections === 0, 5000, 'every connection to be gone');
    expect(await transports('/')).to.deep.equal({ websocket: 0, polling: 0 });
    expect(await transports('/live')).to.deep.equal({ websocket: 0, polling: 0 });
  });

  // prom-client's own process_open_fds and active handle / resource counts walk every descriptor or handle on the
  // event loop at each scrape (40-60 ms at 16,000 connections); the gateway reads the descriptors off the loop.
  it('counts open file descriptors (Linux) without the per-handle default metrics', async () => {
    gw = await startGateway();
    const before = await scrape(gw.url);
    for (const user of USERS) await open(user);
    const after = await scrape(gw.url);
    expect(before.value('process_open_fds')).to.be.greaterThan(0);
    // Each WebSocket connection holds one descriptor on the gateway's side (this test's clients live in this process too).
    expect(delta(before, after, 'process_open_fds')).to.be.at.least(USERS.length);
    expect(after.value('process_max_fds')).to.be.greaterThan(after.value('process_open_fds'));
    for (const name of ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total']) {
      expect(after.families.has(name), name).to.equal(false);
    }
  });

  it('reports draining and not ready while the node drains', async () => {
    gw = await startGateway({ DRAIN_TIMEOUT_MS: '1000' });
    expect((await scrape(gw.url)).value('roomcast_ready')).to.equal(1);
    await gw.gateway.drain();
    const draining = await scrape(gw.url);
    expect(draining.value('roomcast_ready')).to.equal(0);
    expect(draining.value('roomcast_draining')).to.equal(1);
    expect(draining.value('roomcast_drains_total')).to.equal(1);
    expect(gw.gateway.stats()).to.include({ ready: false, draining: true });
  });

  it('on a Redis-backed node: canary lag and Redis command latency histograms with buckets', async () => {
    redis = await startRedis();
    gw = await startGateway({ REDIS_URL: redis.url, NODE_TTL_MS: '1500' });
    const socket = await open(USERS[0] as string);
    assertOk(await request(socket, 'room:join', { room: ROOM }));
    assertOk(await request(socket, 'room:publish', { room: ROOM, event: 'chat', data: 1 }));
    assertOk(await request(socket, 'presence:list', { room: ROOM }));
    assertOk(await request(socket, 'room:leave', { room: ROOM }));
    await waitFor(() => gw?.gateway.stats().pubsubLagP99Ms !== null, 5000, 'a canary probe');
    // The heartbeat runs every NODE_TTL_MS / 3.
    await new Promise((resolve) => setTimeout(resolve, 600));

    const metrics = await scrape(gw.url);
    const lag = metrics.family('roomcast_redis_pubsub_lag_seconds').metrics[0];
    expect(Number(lag?.count)).to.be.at.least(1);
    expect(Object.keys(lag?.buckets ?? {})).to.include.members(['0.0005', '0.001', '1']);
    expect(metrics.value('roomcast_canary_ok')).to.equal(1);
    for (const command of ['append', 'read', 'presence_add', 'presence_remove', 'presence_list', 'heartbeat']) {
      const series = metrics.histogram('roomcast_redis_command_duration_seconds', { command });
      expect(series.count, command).to.be.at.least(1);
      expect(series.buckets, command).to.include.members(['0.001', '1', '+Inf']);
    }
    expect(metrics.value('roomcast_history_entries')).to.equal(0);
    expect(metrics.text).to.not.contain(ROOM);
    expect(gw.gateway.stats().pubsubLagP99Ms).to.be.a('number');
  });
});
