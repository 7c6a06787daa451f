/** Joining rooms: the token's patterns, the personal room, namespace public rooms, and room-name validation before policy. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, nextEvent, rawRequest, request, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('rooms', () => {
  let gw: TestGateway;
  let socket: TestSocket;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-ns-'));
    const file = join(dir, 'namespaces.json');
    writeFileSync(
      file,
      JSON.stringify({
        namespaces: [
          { name: '/', clientPublish: true, presence: true, publicRooms: ['lobby', 'public:*'] },
          { name: '/live', clientPublish: false, presence: false },
        ],
      }),
    );
    gw = await startGateway({ NAMESPACES_FILE: file });
    socket = await connect(gw.url, await signToken(gw.secret, { sub: 'alice', rooms: ['project:123', 'org:456:*'] }));
  });
  after(async () => {
    socket.close();
    await gw.close();
  });

  const allowed = ['project:123', 'org:456:team', 'org:456:a:b', 'user:alice', 'lobby', 'public:news'];
  for (const room of allowed) {
    it(`joins ${room}`, async () => {
      const ack = assertOk(await request(socket, 'room:join', { room }));
      expect(ack).to.include({ room, offset: 0, recovered: true });
      expect(ack.epoch).to.be.a('string').with.length.greaterThan(0);
      expect(ack.missed).to.deep.equal([]);
    });
  }

  const forbidden = ['project:1234', 'project:12', 'org:456:', 'org:4567:x', 'user:bob', 'lobby2', 'public:'];
  for (const room of forbidden) {
    it(`refuses ${room} with FORBIDDEN_ROOM`, async () => {
      const ack = await request(socket, 'room:join', { room });
      if (ack.ok) throw new Error(`joined ${room}`);
      expect(ack.error).to.deep.include({ code: 'FORBIDDEN_ROOM', retryable: false });
    });
  }

  const badNames: Array<[string, unknown]> = [
    ['an empty name', ''],
    ['a name of 201 characters', 'a'.repeat(201)],
    ['spaces', 'project 123'],
    ['a slash', 'project/123'],
    ['a wildcard', 'project:*'],
    ['a name shaped like a socket id', 'abcdefghij_-ABCDEF12'],
    ['a number', 123],
    ['null', null],
  ];
  for (const [what, room] of badNames) {
    it(`refuses ${what} with INVALID_PAYLOAD before any policy`, async () => {
      const ack = await rawRequest(socket, 'room:join', { room });
      if (ack.ok) throw new Error('joined an invalid room');
      expect(ack.error.code).to.equal('INVALID_PAYLOAD');
      expect(ack.error.message).to.match(/room/);
    });
  }

  it('accepts a name of exactly 200 characters when the token allows it', async () => {
    const room = `org:456:${'x'.repeat(192)}`;
    expect(room).to.have.length(200);
    assertOk(await request(socket, 'room:join', { room }));
  });

  it('leaves a room, after which it receives nothing from it', async () => {
    const other = await connect(gw.url, await signToken(gw.secret, { sub: 'bob', rooms: ['project:123'] }));
    try {
      assertOk(await request(other, 'room:join', { room: 'project:123' }));
      assertOk(await request(socket, 'room:join', { room: 'project:123' }));
      assertOk(await request(socket, 'room:leave', { room: 'project:123' }));
      let received = 0;
      socket.on('message', (message) => {
        if (message.room === 'project:123') received += 1;
      });
      const seen = nextEvent(other, 'message');
      assertOk(await request(other, 'room:publish', { room: 'project:123', event: 'note', data: 'after leave' }));
      await seen;
      expect(received).to.equal(0);
      // Leaving again is harmless.
      assertOk(await request(socket, 'room:leave', { room: 'project:123' }));
    } finally {
      other.close();
    }
  });

  it('announces presence joins and leaves, and lists members', async () => {
    const bob = await connect(gw.url, await signToken(gw.secret, { sub: 'bob' }));
    try {
      assertOk(await request(socket, 'room:join', { room: 'lobby' }));
      const joined = nextEvent(socket, 'presence:join');
      assertOk(await request(bob, 'room:join', { room: 'lobby' }));
      expect((await joined).member).to.include({ userId: 'bob', connectionId: bob.id, nodeId: 'test-node' });
      const list = assertOk(await request(bob, 'presence:list', { room: 'lobby' }));
      expect(list.members.map((member) => member.userId).sort()).to.deep.equal(['alice', 'bob']);
      const api = await fetch(`${gw.url}/api/v1/rooms/lobby/presence`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
      const body = (await api.json()) as { members: Array<{ userId: string }> };
      expect(body.members.map((member) => member.userId).sort()).to.deep.equal(['alice', 'bob']);
      const left = nextEvent(socket, 'presence:leave');
      bob.close();
      expect((await left).member.userId).to.equal('bob');
      const after = assertOk(await request(socket, 'presence:list', { room: 'lobby' }));
      expect(after.members.map((member) => member.userId)).to.deep.equal(['alice']);
    } finally {
      bob.close();
    }
  });

  it('refuses presence:list of a room the token does not allow', async () => {
    const ack = await request(socket, 'presence:list', { room: 'project:999' });
    if (ack.ok) throw new Error('listed a forbidden room');
    expect(ack.error.code).to.equal('FORBIDDEN_ROOM');
  });
  describe('a starred pattern against long names (issue 12: backtracking matcher)', () => {
    // `org:*:*:*:*:end` and 200-character names took 80-370 ms per join with the regex
    // matcher (14 s with one star more), all of it on the event loop.
    let target: TestGateway;
    before(async () => {
      target = await startGateway();
    });
    after(() => target.close());

    it('an attacker joining in a loop does not stall the node: /healthz still answers promptly', async () => {
      const attacker = await connect(target.url, await signToken(target.secret, { sub: 'mallory', rooms: ['org:*:*:*:*:end'] }));
      try {
        const joins = Array.from({ length: 40 }, (_, index) => request(attacker, 'room:join', { room: `org:${':'.repeat(196 - String(index).length)}${index}` }));
        const started = performance.now();
        const health = await fetch(`${target.url}/healthz`);
        const healthMs = performance.now() - started;
        expect(health.status).to.equal(200);
        const acks = await Promise.all(joins);
        for (const ack of acks) {
          if (ack.ok) throw new Error('joined a room the pattern does not match');
          expect(ack.error.code).to.equal('FORBIDDEN_ROOM');
        }
        expect(healthMs, `/healthz took ${healthMs.toFixed(0)} ms during the attack`).to.be.below(1000);
        // The same pattern still grants what it should.
        assertOk(await request(attacker, 'room:join', { room: `org:${'a:'.repeat(95)}b:end` }));
      } finally {
        attacker.close();
      }
    });
  });
});
