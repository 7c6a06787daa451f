/**
 * The core's Session (server/core/session.ts), which every transport now uses
 * for the token, the room policy, the user's count and the expiry: a real
 * Admission and token verifier, no transport.
 */
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { createTokenVerifier } from '../../server/auth/token-verifier.js';
import { loadConfig } from '../../server/config/load.js';
import { Session, Sessions } from '../../server/core/session.js';
import { RoomcastError } from '../../server/errors.js';
import { Admission } from '../../server/ops/admission.js';
import { MemoryWatch } from '../../server/ops/memory-watch.js';
import { createMetrics } from '../../server/ops/metrics.js';

const SECRET = 'a-test-secret-of-at-least-thirty-two-bytes!';

describe('Session (core)', () => {
  const config = loadConfig({ JWT_SECRET: SECRET, MAX_CONNECTIONS_PER_USER: '2' });
  const metrics = createMetrics({ nodeId: 'n1', namespaces: ['/'] });
  const rules = config.namespaces.find((candidate) => candidate.name === '/')!;
  let admission: Admission;
  let sessions: Sessions;
  beforeEach(() => {
    admission = new Admission(config.limits, new MemoryWatch(0), metrics);
    sessions = new Sessions(createTokenVerifier(config.jwt), admission, metrics);
  });
  afterEach(() => admission.stop());

  const token = (sub: string, rooms: string[], expiresInS = 60): Promise<string> =>
    new SignJWT({ rooms })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInS)
      .sign(new TextEncoder().encode(SECRET));
  const open = async (sub: string, rooms: string[] = ['chat:*'], expiresInS = 60): Promise<Session> => {
    const admitted = sessions.admit(await sessions.authenticate(await token(sub, rooms, expiresInS)));
    if (!(admitted instanceof Session)) throw new Error(`refused: ${admitted.code}`);
    return admitted;
  };

  it('counts a connection for its user until closed, exactly once, and refuses past MAX_CONNECTIONS_PER_USER', async () => {
    const first = await open('alice');
    const second = await open('alice');
    const refused = sessions.admit(await sessions.authenticate(await token('alice', [])));
    expect(refused).to.not.be.instanceOf(Session);
    expect((refused as { code: string }).code).to.equal('TOO_MANY_CONNECTIONS');
    first.close();
    first.close();
    expect(admission.userConnections('alice')).to.equal(1);
    second.close();
    expect(admission.userConnections('alice')).to.equal(0);
  });

  it('applies the room policy of its grant; a refresh for the same user narrows it, another user is refused', async () => {
    const session = await open('alice', ['chat:*']);
    expect(session.mayJoin(rules, 'chat:lobby')).to.equal(true);
    expect(session.mayJoin(rules, 'user:alice')).to.equal(true);
    expect(session.mayJoin(rules, 'ops:secret')).to.equal(false);
    expect(() => session.assertMayJoin(rules, 'ops:secret')).to.throw(RoomcastError).with.property('code', 'FORBIDDEN_ROOM');
    session.refresh(await sessions.authenticate(await token('alice', ['ops:*'])));
    expect(session.mayJoin(rules, 'chat:lobby')).to.equal(false);
    expect(session.mayJoin(rules, 'ops:secret')).to.equal(true);
    const other = await sessions.authenticate(await token('mallory', ['chat:*']));
    expect(() => session.refresh(other)).to.throw(RoomcastError).with.property('code', 'UNAUTHENTICATED');
    session.close();
  });

  it('calls back once the token expires, and not after close()', async () => {
    const expiring = await open('alice', [], 1);
    const closedEarly = await open('bob', [], 1);
    let expired = 0;
    let expiredAfterClose = 0;
    expiring.watchExpiry(() => (expired += 1));
    closedEarly.watchExpiry(() => (expiredAfterClose += 1));
    closedEarly.close();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(expired).to.equal(1);
    expect(expiredAfterClose).to.equal(0);
    expiring.close();
  });

  it('moves the expiry with refresh(): a later token is not cut at the old exp, an earlier one is cut at its own', async () => {
    const extended = await open('carol', [], 1);
    const shortened = await open('dan', [], 60);
    const fired: string[] = [];
    extended.watchExpiry((name) => fired.push(name), 'carol');
    shortened.watchExpiry((name) => fired.push(name), 'dan');
    extended.refresh(await sessions.authenticate(await token('carol', [], 60)));
    shortened.refresh(await sessions.authenticate(await token('dan', [], 1)));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(fired).to.deep.equal(['dan']);
    extended.close();
    shortened.close();
  });

  it('refuses a bad token with a typed UNAUTHENTICATED and counts nothing', async () => {
    const refusal = await sessions.authenticate('not-a-jwt').then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).to.be.instanceOf(RoomcastError);
    expect((refusal as RoomcastError).code).to.equal('UNAUTHENTICATED');
    expect(admission.userConnections('alice')).to.equal(0);
  });
});
