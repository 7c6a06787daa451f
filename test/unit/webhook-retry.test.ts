/** The webhook retry schedule (server/integration/webhook-dispatcher.ts): first retry within 10 s, then backoff with jitter, capped. */
import { expect } from 'chai';
import { RETRY_BASE_MS, RETRY_MAX_MS, retryDelayMs } from '../../server/integration/webhook-dispatcher.js';

describe('webhook retry schedule', () => {
  const lowest = (): number => 0;
  const highest = (): number => 0.999_999;

  it('the first retry comes within 10 s, whatever the jitter', () => {
    expect(retryDelayMs(1, RETRY_BASE_MS, RETRY_MAX_MS, highest)).to.be.at.most(10_000);
    expect(retryDelayMs(1, RETRY_BASE_MS, RETRY_MAX_MS, lowest)).to.be.greaterThan(0);
  });

  it('each retry may wait up to twice as long as the one before, with jitter between half and all of it', () => {
    for (let attempt = 1; attempt <= 6; attempt += 1) {
      const ceiling = RETRY_BASE_MS * 2 ** (attempt - 1);
      expect(retryDelayMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS, lowest), `attempt ${attempt}`).to.equal(ceiling / 2);
      expect(retryDelayMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS, highest), `attempt ${attempt}`).to.equal(ceiling);
    }
  });

  it('never waits longer than the cap, however many attempts', () => {
    expect(retryDelayMs(7, RETRY_BASE_MS, RETRY_MAX_MS, highest)).to.equal(RETRY_MAX_MS);
    expect(retryDelayMs(10_000, RETRY_BASE_MS, RETRY_MAX_MS, highest)).to.equal(RETRY_MAX_MS);
    expect(retryDelayMs(10_000, RETRY_BASE_MS, RETRY_MAX_MS, lowest)).to.equal(RETRY_MAX_MS / 2);
  });
});
