/**
 * newEpoch draws its random bytes from a pool refilled every 512 epochs: the
 * epochs stay distinct and opaque across refills.
 */
import { expect } from 'chai';
import { newEpoch } from '../../server/core/epochs.js';

describe('newEpoch', () => {
  it('gives distinct 8-character base64url epochs across several pool refills (512 per refill)', () => {
    const epochs = Array.from({ length: 512 * 4 + 7 }, () => newEpoch());
    expect(new Set(epochs).size).to.equal(epochs.length);
    for (const epoch of epochs) expect(epoch).to.match(/^[A-Za-z0-9_-]{8}$/);
  });
});
