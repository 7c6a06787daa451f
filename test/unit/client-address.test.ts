/**
 * ClientAddresses: who the client is behind a trusted proxy, and its memos
 * (a request's address is worked out once; trust decisions are memoised up to a
 * bound and then start over) never change an answer.
 */
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { ClientAddresses } from '../../server/ops/client-address.js';

type Req = Pick<IncomingMessage, 'headers' | 'socket'>;
const request = (peer: string, forwardedFor?: string): Req =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as Req;

describe('ClientAddresses', () => {
  it('believes X-Forwarded-For only from a trusted proxy, rightmost untrusted first', () => {
    const addresses = new ClientAddresses(['loopback', '10.0.0.0/8']);
    expect(addresses.of(request('127.0.0.1', '203.0.113.9, 10.1.2.3'))).to.equal('203.0.113.9');
    expect(addresses.of(request('::ffff:127.0.0.1', '198.51.100.7'))).to.equal('198.51.100.7');
    expect(addresses.of(request('192.0.2.1', '203.0.113.9'))).to.equal('192.0.2.1');
    expect(addresses.of(request('127.0.0.1'))).to.equal('127.0.0.1');
  });

  it('answers the same for a request asked twice (the admission check and the session)', () => {
    const addresses = new ClientAddresses(['loopback']);
    const req = request('127.0.0.1', '203.0.113.9');
    expect(addresses.of(req)).to.equal('203.0.113.9');
    expect(addresses.of(req)).to.equal('203.0.113.9');
    expect(addresses.of(request('127.0.0.1', '203.0.113.10'))).to.equal('203.0.113.10');
  });

  it('keeps answering right past the trust memo bound (4,096 addresses), trusted and untrusted alike', () => {
    const addresses = new ClientAddresses(['10.0.0.0/8']);
    for (let round = 0; round < 2; round += 1) {
      for (let i = 0; i < 5000; i += 1) {
        const inside = `10.0.${Math.floor(i / 256)}.${i % 256}`;
        const outside = `192.168.${Math.floor(i / 256)}.${i % 256}`;
        expect(addresses.isTrusted(inside), inside).to.equal(true);
        expect(addresses.isTrusted(outside), outside).to.equal(false);
      }
    }
    expect(addresses.isTrusted('not an address')).to.equal(false);
  });
});
