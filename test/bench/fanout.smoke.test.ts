import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface FanoutReport {
  results: Array<{ target: string; connected: number; members: number; steps: Array<{ published: number; deliveries: number; lost: number }> }>;
  summaries: Array<{ target: string; cpuPerDeliveryUs: number }>;
}

describe('bench smoke: fan-out (scenario 2)', function () {
  this.timeout(120_000);

  it('joins every member on Roomcast and both baselines, delivers every publication to each, and reports CPU per delivery', async () => {
    const { report } = await runBenchSmoke('scenarios/fanout.js');
    const { results, summaries } = report as unknown as FanoutReport;
    expect(results.map((r) => r.target)).to.have.members(['roomcast', 'bare-ws', 'socketio']);
    for (const result of results) {
      expect(result.connected, result.target).to.equal(result.members);
      expect(result.steps.length, result.target).to.be.greaterThan(0);
      for (const step of result.steps) {
        expect(step.published, result.target).to.be.greaterThan(0);
        expect(step.deliveries, result.target).to.equal(step.published * result.connected);
        expect(step.lost, result.target).to.equal(0);
      }
    }
    for (const summary of summaries) expect(summary.cpuPerDeliveryUs, summary.target).to.be.greaterThan(0);
  });
});
