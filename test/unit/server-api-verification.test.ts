/**
 * @roomcast/server-api's checks of what the gateway sends: verifyWebhook (valid,
 * tampered, expired, rotated secrets, missing or malformed headers, a signed body
 * that is not a delivery), the webhook and proxy handlers on a real Node server and
 * in Express (401 on a bad signature, 500 so the gateway retries, 413 past the
 * body cap, dedupe by event id), mintToken's claims, and the event deduper's bounds.
 */
import { expect } from 'chai';
import express from 'express';
import { jwtVerify } from 'jose';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signBody, SIGNATURE_HEADER, type WebhookDelivery } from '../../shared/index.js';
import { RoomcastSignatureError, verifyWebhook } from '../../server-api/verify.js';
import { roomcastWebhook } from '../../server-api/webhook-handler.js';
import { roomcastProxy } from '../../server-api/proxy-handler.js';
import { createEventDeduper } from '../../server-api/dedupe.js';
import { mintToken } from '../../server-api/token.js';

const SECRET = 'webhook-secret-0123456789abcdef-0123456789';
const NEW_SECRET = 'webhook-secret-rotated-abcdefghijklmnopqrstuv';

function delivery(id = 'd1', eventIds: string[] = ['ev1']): WebhookDelivery {
  return {
    id,
    createdAt: 1_700_000_000_000,
    events: eventIds.map((eventId) => ({ id: eventId, type: 'room.occupied' as const, ts: 1_700_000_000_000, namespace: '/', room: 'chat:1' })),
  };
}

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(RoomcastSignatureError);
    return (error as RoomcastSignatureError).reason;
  }
  throw new Error('expected a RoomcastSignatureError');
}

async function listen(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function post(url: string, body: string, signature: string | null, method = 'POST'): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { [SIGNATURE_HEADER]: signature }) },
    ...(method === 'POST' ? { body } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function signedPost(url: string, value: unknown, secret = SECRET): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify(value);
  return post(url, body, await signBody(secret, body));
}

describe('server-api: verifying what the gateway sends', () => {
  describe('verifyWebhook', () => {
    it('returns the typed delivery for a body signed with the secret (string or bytes)', async () => {
      const body = JSON.stringify(delivery());
      const signature = await signBody(SECRET, body);
      expect(await verifyWebhook({ secret: SECRET, body, signature })).to.deep.equal(delivery());
      expect(await verifyWebhook({ secret: SECRET, body: Buffer.from(body), signature })).to.deep.equal(delivery());
    });

    it('refuses a tampered body, a wrong secret, a missing or malformed header', async () => {
      const body = JSON.stringify(delivery());
      const signature = await signBody(SECRET, body);
      expect(await reason(verifyWebhook({ secret: SECRET, body: body.replace('chat:1', 'chat:2'), signature }))).to.equal('mismatch');
      expect(await reason(verifyWebhook({ secret: NEW_SECRET, body, signature }))).to.equal('mismatch');
      expect(await reason(verifyWebhook({ secret: SECRET, body, signature: undefined }))).to.equal('missing');
      expect(await reason(verifyWebhook({ secret: SECRET, body, signature: 'v1=abc' }))).to.equal('malformed');
    });

    it('refuses a signature older (or newer) than the tolerance, and takes one inside it', async () => {
      const body = JSON.stringify(delivery());
      const now = Math.floor(Date.now() / 1000);
      expect(await reason(verifyWebhook({ secret: SECRET, body, signature: await signBody(SECRET, body, now - 301) }))).to.equal('expired');
      expect(await reason(verifyWebhook({ secret: SECRET, body, signature: await signBody(SECRET, body, now + 301) }))).to.equal('expired');
      expect(await verifyWebhook({ secret: SECRET, body, signature: await signBody(SECRET, body, now - 299) })).to.deep.equal(delivery());
      const old = await signBody(SECRET, body, now - 60);
      expect(await reason(verifyWebhook({ secret: SECRET, body, signature: old, toleranceSeconds: 30 }))).to.equal('expired');
    });

    it('while a secret rotates, takes either secret, and a header carrying both signatures', async () => {
      const body = JSON.stringify(delivery());
      const both = [SECRET, NEW_SECRET];
      expect(await verifyWebhook({ secret: both, body, signature: await signBody(SECRET, body) })).to.deep.equal(delivery());
      expect(await verifyWebhook({ secret: both, body, signature: await signBody(NEW_SECRET, body) })).to.deep.equal(delivery());
      expect(await reason(verifyWebhook({ secret: both, body, signature: await signBody('some-other-secret-entirely-0123456789', body) }))).to.equal('mismatch');
      const t = Math.floor(Date.now() / 1000);
      const [oldSig, newSig] = [await signBody(SECRET, body, t), await signBody(NEW_SECRET, body, t)];
      const combined = `${oldSig},${newSig.split(',')[1]}`;
      expect(await verifyWebhook({ secret: NEW_SECRET, body, signature: combined })).to.deep.equal(delivery());
      expect(await verifyWebhook({ secret: SECRET, body, signature: combined })).to.deep.equal(delivery());
    });

    it('refuses a correctly signed body that is not JSON or not a delivery', async () => {
      for (const body of ['not json', JSON.stringify({ id: 'x' }), JSON.stringify({ id: 'x', createdAt: 1, events: [{ type: 'room.occupied' }] })]) {
        expect(await reason(verifyWebhook({ secret: SECRET, body, signature: await signBody(SECRET, body) }))).to.equal('invalid-body');
      }
    });
  });

  describe('roomcastWebhook on a Node server', () => {
    let url: string;
    let server: Server;
    let handled: WebhookDelivery[];
    let failNext: number;
    before(async () => {
      ({ url, server } = await listen(
        roomcastWebhook({
          secret: [SECRET, NEW_SECRET],
          dedupe: createEventDeduper(),
          maxBodyBytes: 4096,
          onDelivery: (received) => {
            if (failNext > 0) {
              failNext -= 1;
              throw new Error('database down');
            }
            handled.push(received);
          },
        }),
      ));
    });
    beforeEach(() => {
      handled = [];
      failNext = 0;
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    it('answers 200 after onDelivery took a valid delivery, 401 (onDelivery not called) on a bad or missing signature', async () => {
      expect((await signedPost(url, delivery('d-ok', ['e-ok']))).status).to.equal(200);
      expect(handled).to.deep.equal([delivery('d-ok', ['e-ok'])]);
      const bad = await signedPost(url, delivery('d-bad', ['e-bad']), 'not-the-secret-0123456789-0123456789');
      expect(bad.status).to.equal(401);
      expect(bad.body).to.deep.include({ ok: false });
      expect((bad.body.error as { code: string }).code).to.equal('UNAUTHENTICATED');
      expect((await post(url, JSON.stringify(delivery('d-none', ['e-none'])), null)).status).to.equal(401);
      expect(handled).to.have.length(1);
    });

    it('answers 500 when onDelivery throws, so the retry (same ids) is handled once, and later repeats are dropped', async () => {
      failNext = 1;
      const first = await signedPost(url, delivery('d-retry', ['r1', 'r2']));
      expect(first.status).to.equal(500);
      expect(handled).to.deep.equal([]);
      expect((await signedPost(url, delivery('d-retry', ['r1', 'r2']))).status).to.equal(200);
      expect(handled.map((received) => received.events.map((event) => event.id))).to.deep.equal([['r1', 'r2']]);
      // A redelivery: nothing new, answered 200 without calling onDelivery; a mixed one passes only its new event.
      expect((await signedPost(url, delivery('d-retry', ['r1', 'r2']))).status).to.equal(200);
      expect((await signedPost(url, delivery('d-next', ['r2', 'r3']))).status).to.equal(200);
      expect(handled.map((received) => received.events.map((event) => event.id))).to.deep.equal([['r1', 'r2'], ['r3']]);
    });

    it('answers 413 to a body past maxBodyBytes and 405 to a GET, calling nothing', async () => {
      const big = delivery('d-big', ['big']);
      (big.events[0] as { room: string }).room = 'x'.repeat(5000);
      expect((await signedPost(url, big)).status).to.equal(413);
      // Streamed without a Content-Length: cut at the cap while reading.
      const chunk = new TextEncoder().encode('x'.repeat(1024));
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk);
        },
      });
      const streamed = await fetch(url, { method: 'POST', body: stream, duplex: 'half', headers: { [SIGNATURE_HEADER]: 't=1,v1=00' } } as RequestInit);
      expect(streamed.status).to.equal(413);
      expect((await post(url, '', null, 'GET')).status).to.equal(405);
      expect(handled).to.deep.equal([]);
    });
  });

  describe('in Express', () => {
    it('works mounted first or after express.raw(), and says so when express.json() read the body first', async () => {
      const received: string[] = [];
      const onDelivery = (received_: WebhookDelivery): void => void received.push(received_.id);
      const app = express();
      app.post('/hooks', roomcastWebhook({ secret: SECRET, onDelivery }));
      app.post('/raw', express.raw({ type: '*/*' }), roomcastWebhook({ secret: SECRET, onDelivery }));
      app.post('/parsed', express.json(), roomcastWebhook({ secret: SECRET, onDelivery }));
      app.post('/proxy', roomcastProxy({ secret: SECRET, join: (request) => (request.room.startsWith('open:') ? { result: 'allow' } : { result: 'deny', message: 'closed' }) }));
      const { url, server } = await listen(app);
      try {
        expect((await signedPost(`${url}/hooks`, delivery('x1'))).status).to.equal(200);
        expect((await signedPost(`${url}/raw`, delivery('x2'))).status).to.equal(200);
        const parsed = await signedPost(`${url}/parsed`, delivery('x3'));
        expect(parsed.status).to.equal(500);
        expect((parsed.body.error as { message: string }).message).to.match(/express\.json/);
        expect(received).to.deep.equal(['x1', 'x2']);
        const join = { namespace: '/', room: 'open:1', user: 'u', connectionId: 'c' };
        expect((await signedPost(`${url}/proxy`, join)).body).to.deep.equal({ result: 'allow' });
        expect((await signedPost(`${url}/proxy`, { ...join, room: 'shut:1' })).body).to.deep.equal({ result: 'deny', message: 'closed' });
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });

  describe('roomcastProxy', () => {
    let url: string;
    let server: Server;
    const connect = { headers: { cookie: 'sid=abc' }, ip: '127.0.0.1', transport: 'socketio' };
    const join = { namespace: '/', room: 'chat:1', user: 'alice', connectionId: 'c1' };
    const publish = { ...join, event: 'chat', data: { text: 'darn it' } };
    before(async () => {
      ({ url, server } = await listen(
        roomcastProxy({
          secret: SECRET,
          connect: (request) =>
            request.headers.cookie === 'sid=abc' ? { result: 'allow', user: 'alice', rooms: ['chat:*'], subscribe: ['chat:1'] } : { result: 'deny', code: 'UNAUTHENTICATED' },
          publish: (request) => {
            const text = (request.data as { text?: string }).text ?? '';
            if (text.includes('spam')) return { result: 'deny', code: 'PUBLISH_FORBIDDEN', message: 'no spam' };
            if (text === 'boom') throw new Error('moderation service down');
            return { result: 'allow', data: { text: text.replace('darn', '****') } };
          },
        }),
      ));
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    it('answers each kind with what its function returns: allow with a grant, deny, a rewritten payload', async () => {
      expect((await signedPost(url, connect)).body).to.deep.equal({ result: 'allow', user: 'alice', rooms: ['chat:*'], subscribe: ['chat:1'] });
      expect((await signedPost(url, { ...connect, headers: {} })).body).to.deep.equal({ result: 'deny', code: 'UNAUTHENTICATED' });
      expect((await signedPost(url, publish)).body).to.deep.equal({ result: 'allow', data: { text: '**** it' } });
      expect((await signedPost(url, { ...publish, data: { text: 'buy spam' } })).body).to.deep.equal({ result: 'deny', code: 'PUBLISH_FORBIDDEN', message: 'no spam' });
    });

    it('answers an error status (the gateway refuses the client UNAVAILABLE) when the function throws or is not given; 401 on a bad signature', async () => {
      expect((await signedPost(url, { ...publish, data: { text: 'boom' } })).status).to.equal(500);
      expect((await signedPost(url, join)).status).to.equal(404);
      expect((await signedPost(url, { something: 'else' })).status).to.equal(400);
      expect((await signedPost(url, publish, NEW_SECRET)).status).to.equal(401);
    });
  });

  describe('mintToken', () => {
    it('signs HS256 with sub, rooms, subscribe, iat and exp = iat + ttl, issuer and audience', async () => {
      const token = await mintToken({ secret: SECRET, sub: 'alice', rooms: ['org:1:*'], subscribe: ['org:1:news'], ttl: 600, issuer: 'app', audience: 'rt' });
      const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(SECRET), { issuer: 'app', audience: 'rt' });
      expect(protectedHeader.alg).to.equal('HS256');
      expect(payload).to.deep.include({ sub: 'alice', rooms: ['org:1:*'], subscribe: ['org:1:news'] });
      expect((payload.exp as number) - (payload.iat as number)).to.equal(600);
    });

    it('makes a token that has expired once its ttl has passed', async () => {
      const token = await mintToken({ secret: SECRET, sub: 'bob', ttl: 60, now: Math.floor(Date.now() / 1000) - 120 });
      let code: unknown;
      try {
        await jwtVerify(token, new TextEncoder().encode(SECRET));
      } catch (error) {
        code = (error as { code?: string }).code;
      }
      expect(code).to.equal('ERR_JWT_EXPIRED');
    });

    it('refuses bad input with a TypeError or RangeError', async () => {
      const cases: Array<[Record<string, unknown>, typeof Error]> = [
        [{ secret: '', sub: 'a', ttl: 60 }, TypeError],
        [{ secret: SECRET, sub: '', ttl: 60 }, TypeError],
        [{ secret: SECRET, sub: 'a', ttl: 0 }, RangeError],
        [{ secret: SECRET, sub: 'a', ttl: 1.5 }, RangeError],
        [{ secret: SECRET, sub: 'a', ttl: 60, rooms: 'chat:*' }, TypeError],
        [{ secret: SECRET, sub: 'a', ttl: 60, subscribe: [''] }, TypeError],
      ];
      for (const [options, kind] of cases) {
        let error: unknown;
        try {
          await mintToken(options as unknown as Parameters<typeof mintToken>[0]);
        } catch (caught) {
          error = caught;
        }
        expect(error, JSON.stringify(options)).to.be.instanceOf(kind);
      }
    });
  });

  describe('createEventDeduper', () => {
    it('forgets an id after ttlMs, and the oldest ids past maxEntries', () => {
      let now = 0;
      const dedupe = createEventDeduper({ ttlMs: 1000, maxEntries: 3, now: () => now });
      dedupe.add('a');
      now = 500;
      dedupe.add('b');
      expect(dedupe.has('a')).to.equal(true);
      now = 1001;
      expect(dedupe.has('a')).to.equal(false);
      expect(dedupe.has('b')).to.equal(true);
      dedupe.add('c');
      dedupe.add('d');
      dedupe.add('e');
      expect(dedupe.size).to.equal(3);
      expect(dedupe.has('b')).to.equal(false);
      expect(['c', 'd', 'e'].every((id) => dedupe.has(id))).to.equal(true);
    });
  });
});
