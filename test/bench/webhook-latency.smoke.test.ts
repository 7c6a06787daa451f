import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface WebhookLatencyReport {
  results: Array<{ mode: string; changes: number; events: number; deliveries: number; duplicates: number; p50: number; p99: number }>;
  summary: Array<{ mode: string; p50: number; p99: number }>;
}

describe('bench smoke: webhook latency', function () {
  this.timeout(150_000);

  it('every membership change reaches the receiver as webhook events, on memory and on Redis, with latency figures', async () => {
    const { report, stdout } = await runBenchSmoke('scenarios/webhook-latency.js', [], 140_000);
    const { results, summary } = report as unknown as WebhookLatencyReport;
    expect(results.map((r) => r.mode)).to.have.members(['memory', 'redis']);
    for (const result of results) {
      expect(result.changes, result.mode).to.be.greaterThan(0);
      // A join or a leave is one member event, plus occupied / vacated on a room's first and last member.
      expect(result.events, result.mode).to.be.at.least(result.changes);
      expect(result.deliveries, result.mode).to.be.within(1, result.events);
      expect(result.duplicates, result.mode).to.equal(0);
      expect(result.p50, result.mode).to.be.a('number').and.to.be.at.least(0);
      expect(result.p99, result.mode).to.be.at.least(result.p50);
    }
    expect(summary).to.have.length(2);
    expect(stdout).to.match(/\| redis \| \d+ \|/);
  });
});
