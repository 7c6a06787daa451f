/**
 * Webhooks on one node (memory queue): a real receiver on a free port, a real
 * gateway, real Socket.IO and SSE clients. Every event type with its signature
 * and fields, WEBHOOK_EVENTS, the namespace rule webhookPublications, order,
 * retries with the same ids, and the drop past WEBHOOK_MAX_AGE_S.
 * Multi-node behaviour (Redis, Redis Cluster, a node killed) is in
 * webhooks-cluster.test.ts.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNATURE_HEADER, verifySignature, WEBHOOK_ID_HEADER, type WebhookEvent } from '../../shared/index.js';
import { captureLogs, startGateway, type LogCapture, type TestGateway } from '../support/gateway.js';
import { scrape } from '../support/metrics.js';
import { assertOk, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { openAccepted, openRefused } from '../support/sse.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

export const WEBHOOK_SECRET = 'webhook-secret-of-at-least-32-characters!';

const inRoom = (room: string) => (events: WebhookEvent[]) => events.filter((event) => event.room === room);
const typesIn = (events: WebhookEvent[], room: string): string[] => inRoom(room)(events).map((event) => event.type);

describe('webhooks (one node)', function () {
  this.timeout(60_000);
  let dir: string;
  let namespacesFile: string;
  let receiver: WebhookReceiver;
  let gateway: TestGateway | null = null;
  const sockets: TestSocket[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'roomcast-webhooks-'));
    namespacesFile = join(dir, 'namespaces.json');
    writeFileSync(
      namespacesFile,
      JSON.stringify({
        namespaces: [
          { name: '/', clientPublish: true, presence: true, webhookPublications: true },
          // Presence off only hides member lists from clients: membership webhooks are sent all the same.
          { name: '/quiet', clientPublish: true, presence: false },
        ],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await gateway?.close();
    gateway = null;
    await receiver.close();
  });

  const start = async (env: Record<string, string> = {}, logs?: LogCapture): Promise<TestGateway> => {
    // Without the auto-joined user:<sub> rooms, a test's deliveries hold only the events of the rooms it uses
    // (the user room's own events are the subject of their own test below).
    gateway = await startGateway({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, NAMESPACES_FILE: namespacesFile, AUTO_JOIN_USER_ROOM: 'false', ...env }, logs);
    return gateway;
  };
  const open = async (sub: string, namespace = '/'): Promise<TestSocket> => {
    const socket = await connect((gateway as TestGateway).url, await signToken(TEST_JWT_SECRET, { sub, rooms: ['wh:*'] }), { namespace });
    sockets.push(socket);
    return socket;
  };

  it('a server-side subscription is a membership like any other: user:<sub> occupied and joined at connect, left and vacated at disconnect', async () => {
    await start({ AUTO_JOIN_USER_ROOM: 'true' });
    const carol = await open('carol');
    await receiver.waitFor((events) => typesIn(events, 'user:carol').includes('member.joined'), 10_000, 'the user room joined');
    carol.close();
    const events = await receiver.waitFor((all) => typesIn(all, 'user:carol').includes('room.vacated'), 10_000, 'the user room vacated');
    expect(typesIn(events, 'user:carol')).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
    const left = inRoom('user:carol')(events).find((event) => event.type === 'member.left');
    expect(left).to.deep.include({ user: 'carol', reason: 'disconnect', namespace: '/' });
  });

  it('sends every event type, signed, with its documented fields, a room\'s events in order', async () => {
    const gw = await start();
    const alice = await open('alice');
    assertOk(await request(alice, 'room:join', { room: 'wh:types' }));
    const published = assertOk(await request(alice, 'room:publish', { room: 'wh:types', event: 'chat', data: { text: 'hi' } }));
    assertOk(await request(alice, 'room:leave', { room: 'wh:types' }));
    // An SSE stream is a member of its room too; its close is a disconnect.
    const stream = await openAccepted(`${gw.url}/sse?room=wh:sse`, { authorization: `Bearer ${await signToken(TEST_JWT_SECRET, { sub: 'sam', rooms: ['wh:*'] })}` });
    await receiver.waitFor((events) => typesIn(events, 'wh:sse').includes('member.joined'), 10_000, 'the SSE member');
    stream.close();
    // A socket that goes away leaves with reason disconnect.
    const bob = await open('bob');
    assertOk(await request(bob, 'room:join', { room: 'wh:gone' }));
    bob.close();
    const events = await receiver.waitFor(
      (all) => ['wh:types', 'wh:sse', 'wh:gone'].every((room) => typesIn(all, room).includes('room.vacated')),
      10_000,
      'every room vacated',
    );

    // Every POST is signed over its raw body and names its delivery in a header.
    expect(receiver.deliveries.length).to.be.greaterThan(0);
    for (const delivery of receiver.deliveries) {
      expect(await verifySignature(WEBHOOK_SECRET, delivery.raw, delivery.headers[SIGNATURE_HEADER.toLowerCase()] as string)).to.equal(null);
      expect(await verifySignature('another-secret-of-at-least-32-characters', delivery.raw, delivery.headers[SIGNATURE_HEADER.toLowerCase()] as string)).to.equal('mismatch');
      expect(delivery.headers[WEBHOOK_ID_HEADER.toLowerCase()]).to.equal(delivery.body.id);
      expect(delivery.headers['content-type']).to.match(/^application\/json/);
      expect(delivery.body.createdAt).to.be.a('number');
      expect(delivery.body.events.length).to.be.within(1, 100);
    }
    expect(new Set(events.map((event) => event.id)).size).to.equal(events.length);
    for (const event of events) {
      expect(event.id).to.match(/^[0-9a-f-]{36}$/);
      expect(event.ts).to.be.a('number').and.to.be.within(Date.now() - 60_000, Date.now());
      expect(event.namespace).to.equal('/');
    }

    expect(typesIn(events, 'wh:types')).to.deep.equal(['room.occupied', 'member.joined', 'publication', 'member.left', 'room.vacated']);
    const [occupied, joined, publication, left, vacated] = inRoom('wh:types')(events);
    expect(occupied).to.have.keys('id', 'type', 'ts', 'namespace', 'room');
    expect(vacated).to.have.keys('id', 'type', 'ts', 'namespace', 'room');
    expect(joined).to.include({ user: 'alice', connectionId: alice.id, nodeId: 'test-node' });
    expect(left).to.include({ user: 'alice', connectionId: alice.id, nodeId: 'test-node', reason: 'leave' });
    expect(publication).to.deep.include({ user: 'alice', event: 'chat', data: { text: 'hi' }, offset: published.offset, epoch: published.epoch });
    // The socket handler names the publishing connection.
    expect((publication as { connectionId: string }).connectionId).to.equal(alice.id);

    expect(typesIn(events, 'wh:sse')).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
    const sseJoined = inRoom('wh:sse')(events)[1] as WebhookEvent & { connectionId: string };
    expect(sseJoined).to.include({ user: 'sam', nodeId: 'test-node' });
    expect(sseJoined.connectionId).to.match(/^sse-/);
    expect(inRoom('wh:sse')(events)[2]).to.include({ user: 'sam', connectionId: sseJoined.connectionId, reason: 'disconnect' });

    expect(typesIn(events, 'wh:gone')).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
    expect(inRoom('wh:gone')(events)[2]).to.include({ user: 'bob', reason: 'disconnect' });

    const metrics = await scrape(gw.url);
    expect(metrics.value('roomcast_webhook_events_queued_total', { type: 'publication' })).to.equal(1);
    expect(metrics.value('roomcast_webhook_events_queued_total', { type: 'room.occupied' })).to.equal(3);
    expect(metrics.value('roomcast_webhook_deliveries_total', { outcome: 'delivered' })).to.equal(receiver.deliveries.length);
    expect(metrics.value('roomcast_webhook_events_delivered_total')).to.equal(events.length);
    expect(metrics.value('roomcast_webhook_delivery_seconds')).to.equal(events.length);
    expect(metrics.value('roomcast_webhook_queue_depth')).to.equal(0);
  });

  it('an SSE stream is a member of its room: listed in presence, counted in MAX_ROOM_MEMBERS (a full room refuses the stream ROOM_FULL)', async () => {
    const gw = await start({ MAX_ROOM_MEMBERS: '2' });
    const alice = await open('alice');
    assertOk(await request(alice, 'room:join', { room: 'wh:full' }));
    const sseToken = async (sub: string): Promise<string> => `Bearer ${await signToken(TEST_JWT_SECRET, { sub, rooms: ['wh:*'] })}`;
    const stream = await openAccepted(`${gw.url}/sse?room=wh:full`, { authorization: await sseToken('sam') });
    const listed = assertOk(await request(alice, 'presence:list', { room: 'wh:full' }));
    expect(listed.members.map((member) => member.userId).sort()).to.deep.equal(['alice', 'sam']);
    const refused = await openRefused(`${gw.url}/sse?room=wh:full`, { authorization: await sseToken('tess') });
    expect(refused.body.error.code).to.equal('ROOM_FULL');
    expect(refused.body.ok).to.equal(false);
    stream.close();
    await waitFor(() => typesIn(receiver.accepted(), 'wh:full').includes('member.left'), 10_000, 'the stream leaving');
    const after = assertOk(await request(alice, 'presence:list', { room: 'wh:full' }));
    expect(after.members.map((member) => member.userId)).to.deep.equal(['alice']);
    // The refused stream never was a member.
    expect(receiver.accepted().filter((event) => 'user' in event && event.user === 'tess')).to.deep.equal([]);
  });

  it('a node alone closed gracefully sends its members\' leaving (disconnect) and the vacated room before it ends', async () => {
    const gw = await start();
    const alice = await open('alice');
    const connectionId = alice.id as string;
    assertOk(await request(alice, 'room:join', { room: 'wh:bye' }));
    await gw.close();
    gateway = null;
    // Everything was delivered by the time close() resolved.
    expect(typesIn(receiver.accepted(), 'wh:bye')).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
    expect(inRoom('wh:bye')(receiver.accepted())[2]).to.include({ connectionId, reason: 'disconnect' });
  });

  it('publications only where the namespace rule webhookPublications is on; membership in every namespace', async () => {
    await start();
    const quiet = await open('quinn', '/quiet');
    assertOk(await request(quiet, 'room:join', { room: 'wh:quiet' }));
    assertOk(await request(quiet, 'room:publish', { room: 'wh:quiet', event: 'chat', data: 1 }));
    assertOk(await request(quiet, 'room:leave', { room: 'wh:quiet' }));
    const events = await receiver.waitFor((all) => typesIn(all, 'wh:quiet').includes('room.vacated'));
    expect(typesIn(events, 'wh:quiet')).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
    expect(inRoom('wh:quiet')(events).every((event) => event.namespace === '/quiet')).to.equal(true);
  });

  it('WEBHOOK_EVENTS sends only the types it lists', async () => {
    const gw = await start({ WEBHOOK_EVENTS: 'room.occupied,room.vacated' });
    const alice = await open('alice');
    assertOk(await request(alice, 'room:join', { room: 'wh:filtered' }));
    assertOk(await request(alice, 'room:publish', { room: 'wh:filtered', event: 'chat', data: 1 }));
    assertOk(await request(alice, 'room:leave', { room: 'wh:filtered' }));
    // A room's events are delivered in order: once its vacated is here, anything sent before it is too.
    const events = await receiver.waitFor((all) => typesIn(all, 'wh:filtered').includes('room.vacated'));
    expect(typesIn(events, 'wh:filtered')).to.deep.equal(['room.occupied', 'room.vacated']);
    expect((await scrape(gw.url)).value('roomcast_webhook_events_queued_total', { type: 'member.joined' })).to.equal(0);
  });

  it('a delivery answered 500 is sent again with the same id and event ids until accepted; later events wait behind it', async () => {
    receiver.answerWith((_delivery, index) => (index < 3 ? 500 : 200));
    const gw = await start();
    const alice = await open('alice');
    assertOk(await request(alice, 'room:join', { room: 'wh:retry' }));
    await waitFor(() => receiver.deliveries.length >= 1, 10_000, 'the first attempt');
    // Queued while the first delivery is in retry: it must not overtake it.
    assertOk(await request(alice, 'room:leave', { room: 'wh:retry' }));
    const events = await receiver.waitFor((all) => typesIn(all, 'wh:retry').includes('room.vacated'), 30_000, 'the room vacated');
    const [first, second, third, accepted] = receiver.deliveries;
    expect([first, second, third].map((delivery) => delivery?.status)).to.deep.equal([500, 500, 500]);
    for (const retry of [second, third, accepted]) {
      expect(retry?.body.id).to.equal(first?.body.id);
      expect(retry?.headers[WEBHOOK_ID_HEADER.toLowerCase()]).to.equal(first?.body.id);
      expect(retry?.body.events).to.deep.equal(first?.body.events);
      expect(retry?.body.createdAt).to.equal(first?.body.createdAt);
    }
    expect(accepted?.status).to.equal(200);
    expect(first?.body.events.map((event) => event.type)).to.deep.equal(['room.occupied', 'member.joined']);
    expect(typesIn(events, 'wh:retry')).to.deep.equal(['room.occupied', 'member.joined', 'member.left', 'room.vacated']);
    // Each later delivery is a new one.
    expect(receiver.deliveries.slice(4).every((delivery) => delivery.body.id !== first?.body.id)).to.equal(true);
    const metrics = await scrape(gw.url);
    expect(metrics.value('roomcast_webhook_deliveries_total', { outcome: 'retried' })).to.equal(3);
    expect(metrics.value('roomcast_webhook_deliveries_total', { outcome: 'delivered' })).to.equal(receiver.deliveries.length - 3);
    expect(metrics.value('roomcast_webhook_deliveries_total', { outcome: 'dropped' })).to.equal(0);
  });

  it('a 2xx is accepted whatever its body (plain text, empty): nothing is sent again', async () => {
    for (const answer of [{ body: 'OK', contentType: 'text/plain' }, { body: '', contentType: 'text/plain' }]) {
      await receiver.close();
      receiver = await startWebhookReceiver({ answer });
      const gw = await start();
      const alice = await open('alice');
      assertOk(await request(alice, 'room:join', { room: 'wh:text' }));
      assertOk(await request(alice, 'room:leave', { room: 'wh:text' }));
      await receiver.waitFor((all) => typesIn(all, 'wh:text').includes('room.vacated'));
      const sent = receiver.deliveries.flatMap((delivery) => delivery.body.events.map((event) => event.id));
      expect(new Set(sent).size, answer.body).to.equal(sent.length);
      expect((await scrape(gw.url)).value('roomcast_webhook_deliveries_total', { outcome: 'retried' }), answer.body).to.equal(0);
      alice.close();
      sockets.splice(0);
      await gw.close();
      gateway = null;
    }
  });

  it('a delivery not accepted within WEBHOOK_MAX_AGE_S is dropped, counted and logged; later events still go', async () => {
    receiver.answerWith(() => 503);
    const logs = captureLogs();
    // 2 s, not 1: the first retry comes up to 1 s after a refusal, so with 1 s the oldest event could reach
    // its age before the retry (one attempt, then dropped), and the retry this test checks would not happen.
    const gw = await start({ WEBHOOK_MAX_AGE_S: '2', LOG_LEVEL: 'warn' }, logs);
    const alice = await open('alice');
    assertOk(await request(alice, 'room:join', { room: 'wh:old' }));
    await waitFor(() => logs.lines.some((line) => line.includes('webhook delivery dropped')), 15_000, 'the drop');
    const attempts = receiver.deliveries.length;
    expect(attempts).to.be.greaterThan(1);
    const dropped = receiver.deliveries[0]?.body;
    const line = JSON.parse(logs.lines.find((entry) => entry.includes('webhook delivery dropped')) as string) as Record<string, unknown>;
    expect(line).to.include({ level: 50, delivery: dropped?.id, events: 2, maxAgeSeconds: 2 });
    const metrics = await scrape(gw.url);
    expect(metrics.value('roomcast_webhook_deliveries_total', { outcome: 'dropped' })).to.equal(1);
    expect(metrics.value('roomcast_webhook_events_dropped_total', { reason: 'max-age' })).to.equal(2);
    expect(metrics.value('roomcast_webhook_queue_depth')).to.equal(0);

    receiver.answerWith(() => 200);
    assertOk(await request(alice, 'room:leave', { room: 'wh:old' }));
    const events = await receiver.waitFor((all) => typesIn(all, 'wh:old').includes('room.vacated'));
    // The dropped ones never come again.
    expect(typesIn(events, 'wh:old')).to.deep.equal(['member.left', 'room.vacated']);
    expect(receiver.deliveries.slice(attempts).some((delivery) => delivery.body.id === dropped?.id)).to.equal(false);
  });
});
