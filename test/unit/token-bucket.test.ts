import { expect } from 'chai';
import { TokenBucket } from '../../server/ops/token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, refuses beyond it, and refills at the rate', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).to.deep.equal([true, true, true, false]);
    expect(bucket.take(499)).to.equal(false);
    expect(bucket.take(500)).to.equal(true);
    expect(bucket.take(10_000) && bucket.take(10_000) && bucket.take(10_000)).to.equal(true);
    expect(bucket.take(10_000)).to.equal(false);
  });
});
