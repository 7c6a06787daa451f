import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface CapacityReport {
  results: Array<{ target: string; requested: number; connected: number; failed: number; dropped: number; points: Array<{ connections: number; rss: number; heapUsed: number }> }>;
  summaries: Array<{ target: string; rssPerConnKiB: number; heapPerConnKiB: number; cpuPerConnUs: number }>;
  ratios: Array<{ of: string; vs: string; rss: number }>;
  profile: { connections: number; classes: Array<{ name: string; bytesPerConn: number }> } | null;
  summaryMarkdown: string;
  charts: Array<{ id: string; series: Array<{ name: string; points: Array<[number, number]> }> }>;
}

describe('bench smoke: capacity (scenario 1)', function () {
  this.timeout(150_000);

  it('holds every idle connection in 2 rooms on Roomcast and both baselines, measures memory per connection and CPU per connection, and profiles the heap', async () => {
    const { report } = await runBenchSmoke('scenarios/capacity.js', [], 140_000);
    const { results, summaries, ratios, profile, summaryMarkdown, charts } = report as unknown as CapacityReport;
    expect(results.map((r) => r.target)).to.have.members(['roomcast', 'bare-ws', 'socketio']);
    for (const result of results) {
      expect(result.connected, result.target).to.equal(result.requested);
      expect(result.failed, result.target).to.equal(0);
      expect(result.dropped, result.target).to.equal(0);
      expect(result.points.length, result.target).to.be.greaterThan(1);
      for (const point of result.points) expect(point.rss, result.target).to.be.greaterThan(0);
    }
    for (const summary of summaries) {
      expect(summary.rssPerConnKiB, summary.target).to.be.a('number');
      expect(summary.heapPerConnKiB, summary.target).to.be.greaterThan(0);
      expect(summary.cpuPerConnUs, summary.target).to.be.greaterThan(0);
    }
    expect(ratios.map((r) => `${r.of}/${r.vs}`)).to.include.members(['roomcast/bare-ws', 'roomcast/socketio']);
    expect(summaryMarkdown).to.match(/RSS per idle connection <= 1x plain Socket\.IO: \*\*(met|missed)\*\*/);
    expect(summaryMarkdown).to.match(/CPU per accepted connection \(JWT \+ 2 joins\) <= 1\.2x plain Socket\.IO: \*\*(met|missed)\*\*/);
    expect(profile?.connections).to.be.greaterThan(0);
    expect(profile?.classes.length).to.be.greaterThan(0);
    expect(charts.map((c) => c.id)).to.have.members(['capacity-cpu', 'capacity-rss', 'capacity-heap']);
    for (const chart of charts) expect(chart.series.every((s) => s.points.length > 1), chart.id).to.equal(true);
  });
});
