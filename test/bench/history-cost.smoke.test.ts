import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface HistoryCostReport {
  results: Array<{ mode: string; history: boolean; connected: number; steps: Array<{ published: number; deliveries: number; lost: number; pubErrors: number; serverCpuPerDeliveryUs: number }> }>;
  options: { members: number; rooms: number };
  summaries: Array<{ mode: string; history: boolean; cpuPerDeliveryUs: number; redisCpuPct: number; lost: number }>;
  verdicts: Array<{ mode: string; onOffCpuRatio: number; met: boolean | null }>;
  summaryMarkdown: string;
  charts: unknown[];
}

describe('bench smoke: cost of history (scenario 6)', function () {
  this.timeout(150_000);

  it('delivers every publication with history on and off, in memory and on Redis, and reports CPU per delivery and the on/off ratio', async () => {
    const { report } = await runBenchSmoke('scenarios/history-cost.js', [], 140_000);
    const { results, options, summaries, verdicts, summaryMarkdown, charts } = report as unknown as HistoryCostReport;
    expect(results.map((r) => `${r.mode}/${r.history ? 'on' : 'off'}`)).to.have.members(['memory/on', 'memory/off', 'redis/on', 'redis/off']);
    for (const result of results) {
      expect(result.connected).to.equal(options.members);
      expect(result.steps.length).to.be.greaterThan(0);
      for (const step of result.steps) {
        expect(step.published).to.be.greaterThan(0);
        expect(step.pubErrors).to.equal(0);
        expect(step.lost).to.equal(0);
        // Members are spread evenly: each publication reaches members / rooms connections.
        expect(step.deliveries).to.equal((step.published * options.members) / options.rooms);
        expect(step.serverCpuPerDeliveryUs).to.be.greaterThan(0);
      }
    }
    for (const summary of summaries) {
      expect(summary.cpuPerDeliveryUs).to.be.greaterThan(0);
      if (summary.mode === 'redis') expect(summary.redisCpuPct).to.be.at.least(0);
    }
    expect(verdicts.map((v) => v.mode)).to.have.members(['memory', 'redis']);
    for (const verdict of verdicts) expect(verdict.onOffCpuRatio).to.be.greaterThan(0);
    expect(summaryMarkdown).to.match(/target <= 15%: \*\*(met|missed)\*\*/);
    expect(charts.length).to.be.greaterThan(0);
  });
});
