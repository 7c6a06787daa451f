import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { matchesApiKey } from '../../server/auth/api-key.js';
import { isOriginAllowed } from '../../server/transports/socketio/origin-check.js';
import { jsonDepth } from '../../server/core/publisher.js';

describe('API key matching', () => {
  const digests = ['first-key-0123456789', 'second-key-0123456789'].map((key) => createHash('sha256').update(key).digest());
  it('accepts any configured key and nothing else', () => {
    expect(matchesApiKey('first-key-0123456789', digests)).to.equal(true);
    expect(matchesApiKey('second-key-0123456789', digests)).to.equal(true);
    expect(matchesApiKey('first-key-012345678', digests)).to.equal(false);
    expect(matchesApiKey('', digests)).to.equal(false);
  });
});

describe('origin check', () => {
  it('allows no Origin, the same host, listed origins and *', () => {
    expect(isOriginAllowed(undefined, 'gw:3000', [])).to.equal(true);
    expect(isOriginAllowed('http://gw:3000', 'gw:3000', [])).to.equal(true);
    expect(isOriginAllowed('https://app.example', 'gw:3000', ['https://app.example'])).to.equal(true);
    expect(isOriginAllowed('https://any.example', 'gw:3000', ['*'])).to.equal(true);
  });
  it('refuses other origins and garbage', () => {
    expect(isOriginAllowed('https://evil.example', 'gw:3000', ['https://app.example'])).to.equal(false);
    expect(isOriginAllowed('null', 'gw:3000', [])).to.equal(false);
  });
});

describe('jsonDepth', () => {
  it('counts nesting of arrays and objects without recursion', () => {
    expect(jsonDepth(1)).to.equal(0);
    expect(jsonDepth([])).to.equal(1);
    expect(jsonDepth({ a: [1, { b: null }] })).to.equal(3);
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(jsonDepth(deep as never)).to.equal(100_000);
    expect(jsonDepth(deep as never, 32)).to.equal(33);
  });
});
