import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface DurabilityReport {
  summary: Array<{ mode: string; appendUs: number; readUs: number }>;
  ratios: { append: number; read: number };
  summaryMarkdown: string;
}

describe('bench smoke: REDIS_DURABILITY cost (scenario 8)', function () {
  this.timeout(60_000);

  it('measures Redis CPU per append and per read for lossy and lossless, and their ratio', async () => {
    const { report } = await runBenchSmoke('scenarios/redis-durability.js', [], 50_000);
    const { summary, ratios, summaryMarkdown } = report as unknown as DurabilityReport;
    expect(summary.map((row) => row.mode)).to.deep.equal(['lossy', 'lossless']);
    for (const row of summary) {
      expect(row.appendUs).to.be.greaterThan(0);
      expect(row.readUs).to.be.greaterThan(0);
    }
    expect(ratios.append).to.be.greaterThan(0);
    expect(summaryMarkdown).to.contain('lossy / lossless');
  });
});
