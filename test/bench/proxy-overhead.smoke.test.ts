import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface ProxyOverheadReport {
  results: Array<{ mode: string; publications: number; failed: number; p50Ms: number; p99Ms: number; cpuMsPerPublication: Record<string, number>; cpuPct: Record<string, number> }>;
  summary: { direct: { p50Ms: number }; proxied: { p50Ms: number }; overheadMs: number; overheadRatio: number };
}

describe('bench smoke: proxy overhead', function () {
  this.timeout(120_000);

  it('measures client publications with and without PUBLISH_PROXY_URL, every one acknowledged, with the overhead and CPU per process', async () => {
    const { report, stdout } = await runBenchSmoke('scenarios/proxy-overhead.js', [], 110_000);
    const { results, summary } = report as unknown as ProxyOverheadReport;
    expect(results.map((r) => r.mode)).to.have.members(['direct', 'proxied']);
    for (const result of results) {
      expect(result.failed, result.mode).to.equal(0);
      expect(result.publications, result.mode).to.equal(200);
      expect(result.p50Ms, result.mode).to.be.greaterThan(0);
      expect(result.cpuMsPerPublication.gateway, result.mode).to.be.greaterThan(0);
      expect(result.cpuMsPerPublication.client, result.mode).to.be.a('number');
    }
    // The receiver is measured only where it exists, and it answered every publication.
    expect(results.find((r) => r.mode === 'proxied')?.cpuMsPerPublication.receiver).to.be.greaterThan(0);
    expect(results.find((r) => r.mode === 'direct')?.cpuMsPerPublication.receiver).to.equal(undefined);
    expect(summary.overheadMs).to.be.a('number');
    expect(summary.overheadRatio).to.be.greaterThan(0);
    expect(stdout).to.match(/Overhead of PUBLISH_PROXY_URL/);
  });
});
