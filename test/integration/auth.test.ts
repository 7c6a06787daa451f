/** Handshake authentication: the token matrix, per key type, and token lifetime on a live connection. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, connectRefused, nextEvent, request, type TestSocket } from '../support/sockets.js';
import { signToken, unsignedToken } from '../support/tokens.js';

describe('handshake authentication', () => {
  describe('with an HS256 secret, issuer and audience', () => {
    let gw: TestGateway;
    const claims = { sub: 'alice', rooms: ['project:1'] };
    const good = { issuer: 'https://auth.test', audience: 'roomcast' };
    before(async () => {
      gw = await startGateway({ JWT_ISSUER: good.issuer, JWT_AUDIENCE: good.audience });
    });
    after(() => gw.close());

    it('accepts a valid token', async () => {
      const socket = await connect(gw.url, await signToken(gw.secret, claims, good));
      expect(socket.connected).to.equal(true);
      socket.close();
    });

    const refusals: Array<[string, () => Promise<string | undefined>, string]> = [
      ['a missing token', async () => undefined, 'UNAUTHENTICATED'],
      ['an expired token', () => signToken(gw.secret, claims, { ...good, expiresIn: -60 }), 'TOKEN_EXPIRED'],
      ['a token not valid yet', () => signToken(gw.secret, claims, { ...good, notBeforeIn: 600 }), 'UNAUTHENTICATED'],
      ['a token signed with another key', () => signToken('another-secret-that-is-also-long-enough!!', claims, good), 'UNAUTHENTICATED'],
      ['a wrong issuer', () => signToken(gw.secret, claims, { ...good, issuer: 'https://evil.test' }), 'UNAUTHENTICATED'],
      ['a wrong audience', () => signToken(gw.secret, claims, { ...good, audience: 'someone-else' }), 'UNAUTHENTICATED'],
      ['a token without sub', () => signToken(gw.secret, { rooms: ['x'] }, good), 'UNAUTHENTICATED'],
      ['alg: none', async () => unsignedToken({ ...claims, iss: good.issuer, aud: good.audience }), 'UNAUTHENTICATED'],
      ['garbage', async () => 'not-a-jwt', 'UNAUTHENTICATED'],
    ];
    for (const [name, makeToken, code] of refusals) {
      it(`refuses ${name} with ${code} in connect_error.data`, async () => {
        const refusal = await connectRefused(gw.url, await makeToken());
        expect(refusal.data?.code).to.equal(code);
        expect(refusal.data?.retryable).to.be.a('boolean');
        expect(refusal.data?.message).to.be.a('string').and.not.match(/at .*\.js/);
      });
    }

    it('refuses the handshake on every namespace, not only /', async () => {
      const refusal = await connectRefused(gw.url, undefined, { namespace: '/live' });
      expect(refusal.data?.code).to.equal('UNAUTHENTICATED');
    });
  });

  for (const alg of ['RS256', 'ES256'] as const) {
    describe(`with an ${alg} public key`, () => {
      let gw: TestGateway;
      let privateKey: CryptoKey;
      before(async () => {
        const pair = await generateKeyPair(alg, { extractable: true });
        privateKey = pair.privateKey;
        gw = await startGateway({ JWT_SECRET: '', JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey) });
      });
      after(() => gw.close());

      it('accepts a token signed with the matching private key', async () => {
        const socket = await connect(gw.url, await signToken(privateKey, { sub: 'bob' }, { alg }));
        socket.close();
      });

      it('refuses a token signed with another key pair', async () => {
        const other = await generateKeyPair(alg);
        const refusal = await connectRefused(gw.url, await signToken(other.privateKey, { sub: 'bob' }, { alg }));
        expect(refusal.data?.code).to.equal('UNAUTHENTICATED');
      });

      it('refuses an HS256 token (no algorithm confusion) and alg: none', async () => {
        const hs = await connectRefused(gw.url, await signToken(gw.secret, { sub: 'bob' }));
        expect(hs.data?.code).to.equal('UNAUTHENTICATED');
        const none = await connectRefused(gw.url, unsignedToken({ sub: 'bob' }));
        expect(none.data?.code).to.equal('UNAUTHENTICATED');
      });
    });
  }

  describe('with a JWKS URL', () => {
    let gw: TestGateway;
    let jwksServer: Server;
    let privateKey: CryptoKey;
    before(async () => {
      const pair = await generateKeyPair('RS256', { extractable: true });
      privateKey = pair.privateKey;
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
      jwksServer = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
      const { port } = jwksServer.address() as AddressInfo;
      gw = await startGateway({ JWT_SECRET: '', JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` });
    });
    after(async () => {
      await gw.close();
      await new Promise((resolve) => jwksServer.close(resolve));
    });

    it('accepts a token whose kid is in the key set', async () => {
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'key-1' }).setSubject('carol').setExpirationTime('1h').sign(privateKey);
      const socket = await connect(gw.url, token);
      socket.close();
    });

    it('refuses a token signed by a key outside the set', async () => {
      const other = await generateKeyPair('RS256');
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'key-1' }).setSubject('carol').setExpirationTime('1h').sign(other.privateKey);
      const refusal = await connectRefused(gw.url, token);
      expect(refusal.data?.code).to.equal('UNAUTHENTICATED');
    });
  });

  describe('token lifetime on a live connection', () => {
    let gw: TestGateway;
    let socket: TestSocket | undefined;
    before(async () => {
      gw = await startGateway();
    });
    afterEach(() => socket?.close());
    after(() => gw.close());

    it('disconnects with TOKEN_EXPIRED when the token expires', async () => {
      socket = await connect(gw.url, await signToken(gw.secret, { sub: 'dave' }, { expiresIn: 1 }));
      const connected = socket;
      const disconnected = new Promise<string>((resolve) => connected.once('disconnect', (reason) => resolve(reason)));
      const error = await nextEvent(socket, 'protocol:error', 4000);
      expect(error.code).to.equal('TOKEN_EXPIRED');
      expect(await disconnected).to.equal('io server disconnect');
    });

    it('auth:refresh with a fresh token for the same user keeps the connection', async () => {
      socket = await connect(gw.url, await signToken(gw.secret, { sub: 'dave' }, { expiresIn: 1 }));
      const ack = assertOk(await request(socket, 'auth:refresh', { token: await signToken(gw.secret, { sub: 'dave' }, { expiresIn: 3600 }) }));
      expect(ack.expiresAt).to.be.greaterThan(Date.now() + 3_000_000);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(socket.connected).to.equal(true);
      assertOk(await request(socket, 'room:join', { room: 'user:dave' }));
    });

    it('auth:refresh refuses a token for another user, or an invalid one', async () => {
      socket = await connect(gw.url, await signToken(gw.secret, { sub: 'dave' }));
      const other = await request(socket, 'auth:refresh', { token: await signToken(gw.secret, { sub: 'eve' }) });
      expect(other.ok).to.equal(false);
      if (!other.ok) expect(other.error.code).to.equal('UNAUTHENTICATED');
      const expired = await request(socket, 'auth:refresh', { token: await signToken(gw.secret, { sub: 'dave' }, { expiresIn: -60 }) });
      if (expired.ok) throw new Error('expected a refusal');
      expect(expired.error.code).to.equal('TOKEN_EXPIRED');
    });

    it('auth:refresh with narrower rooms leaves the rooms no longer allowed', async () => {
      socket = await connect(gw.url, await signToken(gw.secret, { sub: 'dave', rooms: ['a:1', 'b:1'] }));
      assertOk(await request(socket, 'room:join', { room: 'a:1' }));
      assertOk(await request(socket, 'room:join', { room: 'b:1' }));
      const notice = nextEvent(socket, 'protocol:error');
      assertOk(await request(socket, 'auth:refresh', { token: await signToken(gw.secret, { sub: 'dave', rooms: ['a:1'] }) }));
      expect(await notice).to.deep.include({ code: 'FORBIDDEN_ROOM', room: 'b:1', event: 'auth:refresh' });
      const publish = await request(socket, 'room:publish', { room: 'b:1', event: 'x', data: 1 });
      if (publish.ok) throw new Error('expected PUBLISH_FORBIDDEN after leaving b:1');
      expect(publish.error.code).to.equal('PUBLISH_FORBIDDEN');
    });
  });
});
