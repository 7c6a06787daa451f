/** Handshake authentication: the token matrix, per key type, and token lifetime on a live connection. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { decodeJwt, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { createLogger } from '../../server/ops/logger.js';
import { loadConfig } from '../../server/config/load.js';
import { startGateway as startGatewayNode } from '../../server/gateway.js';
import { startGateway, TEST_PARSER, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, connectRefused, nextEvent, request, type TestSocket } from '../support/sockets.js';
import { signToken, unsignedToken } from '../../tools/processes/tokens.js';

/** A token signed with `secret` carrying exactly `claims` (no `exp` unless given): what a careless backend mints. */
function rawToken(secret: string, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

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
  describe('token lifetime policy: every token expires, within TOKEN_MAX_TTL_S', () => {
    let gw: TestGateway;
    let socket: TestSocket | undefined;
    const now = (): number => Math.floor(Date.now() / 1000);
    before(async () => {
      gw = await startGateway({ TOKEN_MAX_TTL_S: '600' });
    });
    afterEach(() => socket?.close());
    after(() => gw.close());

    const refusals: Array<[string, () => JWTPayload, RegExp]> = [
      ['a token without exp', () => ({ sub: 'erin', iat: now() }), /"exp" is required/],
      ['a token with exp: 1e300', () => ({ sub: 'erin', iat: now(), exp: 1e300 }), /TOKEN_MAX_TTL_S/],
      ['a token expiring an hour from now (cap 600 s)', () => ({ sub: 'erin', iat: now(), exp: now() + 3600 }), /TOKEN_MAX_TTL_S/],
      ['a token whose iat claims it was issued in the future, to stretch its life', () => ({ sub: 'erin', iat: now() + 3000, exp: now() + 3600 }), /TOKEN_MAX_TTL_S/],
    ];
    for (const [name, claims, message] of refusals) {
      it(`refuses ${name} at the handshake and on SSE`, async () => {
        const token = await rawToken(gw.secret, claims());
        const refusal = await connectRefused(gw.url, token);
        expect(refusal.data?.code).to.equal('UNAUTHENTICATED');
        expect(refusal.data?.message).to.match(message);
        const sse = await fetch(`${gw.url}/sse?room=user:erin`, { headers: { authorization: `Bearer ${token}` } });
        expect(sse.status).to.equal(401);
        await sse.body?.cancel();
      });
    }

    it('accepts a token expiring exactly TOKEN_MAX_TTL_S from now', async () => {
      socket = await connect(gw.url, await rawToken(gw.secret, { sub: 'erin', iat: now(), exp: now() + 600 }));
      expect(socket.connected).to.equal(true);
    });

    it('auth:refresh refuses a never-expiring token, and the connection still ends at the old exp', async () => {
      socket = await connect(gw.url, await signToken(gw.secret, { sub: 'erin' }, { expiresIn: 2 }));
      const connected = socket;
      for (const claims of [{ sub: 'erin', iat: now() }, { sub: 'erin', iat: now(), exp: 1e300 }]) {
        const refresh = await request(socket, 'auth:refresh', { token: await rawToken(gw.secret, claims) });
        if (refresh.ok) throw new Error(`auth:refresh accepted ${JSON.stringify(claims)} (expiresAt ${String(refresh.expiresAt)})`);
        expect(refresh.error.code).to.equal('UNAUTHENTICATED');
      }
      const error = await nextEvent(connected, 'protocol:error', 5000);
      expect(error.code).to.equal('TOKEN_EXPIRED');
    });
  });

  describe('development mode tokens', () => {
    for (const [env, ttl] of [[{}, 3600], [{ TOKEN_MAX_TTL_S: '120' }, 120]] as const) {
      it(`POST /dev/token mints tokens that expire (in ${ttl} s${'TOKEN_MAX_TTL_S' in env ? ', the TOKEN_MAX_TTL_S cap' : ''})`, async () => {
        // The parser the test run uses (npm run test:msgpack runs this file with msgpack clients).
        const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', PARSER: TEST_PARSER, ...env });
        const gateway = await startGatewayNode({ config, logger: createLogger(config) });
        try {
          const response = await fetch(`${gateway.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"alice"}' });
          const { token } = (await response.json()) as { token: string };
          const claims = decodeJwt(token);
          expect(claims.exp).to.be.a('number');
          expect((claims.exp as number) - Math.floor(Date.now() / 1000)).to.be.within(ttl - 5, ttl);
          const socket = await connect(gateway.url, token);
          socket.close();
        } finally {
          await gateway.close();
        }
      });
    }
  });
});
