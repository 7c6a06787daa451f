/**
 * Epochs and session ids draw their random bytes from one pool (random-ids.ts),
 * refilled every 8 KiB: the ids stay distinct and opaque across refills, whatever
 * mix of sizes drains the pool.
 */
import { expect } from 'chai';
import { newEpoch } from '../../server/core/epochs.js';
import { randomId } from '../../server/core/random-ids.js';

describe('random ids', () => {
  it('gives distinct 8-character base64url epochs across several pool refills', () => {
    const epochs = Array.from({ length: 4 * Math.ceil(8192 / 6) + 7 }, () => newEpoch());
    expect(new Set(epochs).size).to.equal(epochs.length);
    for (const epoch of epochs) expect(epoch).to.match(/^[A-Za-z0-9_-]{8}$/);
  });

  it('mixes sizes without handing out the same bytes twice (a refill never splits an id)', () => {
    const ids: string[] = [];
    for (let i = 0; i < 5000; i += 1) ids.push(randomId(15), newEpoch(), randomId(9));
    expect(new Set(ids).size).to.equal(ids.length);
    for (const [position, id] of ids.entries()) expect(id).to.have.length([20, 8, 12][position % 3] as number);
  });

  it('refuses an id larger than the pool with a RangeError', () => {
    expect(() => randomId(8193)).to.throw(RangeError, /at most 8192/);
  });
});
