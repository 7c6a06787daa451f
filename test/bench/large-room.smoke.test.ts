import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface LargeRoomReport {
  options: { members: number; largeRates: number[] };
  results: Array<{
    variant: string;
    members: number;
    connectedLarge: number;
    phases: Array<{
      publishedSmall: number;
      publishedLarge: number;
      pubErrors: number;
      small: { deliveries: number; lost: number; p99: number };
      large: { members: number; deliveries: number; lost: number; firstP50: number; lastP50: number };
      ping: { gaps: number; max: number };
      disconnects: number;
      cpuPct: Record<string, number>;
    }>;
  }>;
  summaryMarkdown: string;
  charts: Array<{ series: Array<{ points: Array<[number, number]> }> }>;
}

describe('bench smoke: large room (scenario 7)', function () {
  this.timeout(150_000);

  it('delivers every broadcast to every member of the large room and of the small rooms, slicing on and off, with heartbeats and CPU figures', async () => {
    const { report } = await runBenchSmoke('scenarios/large-room.js', [], 140_000);
    const { options, results, summaryMarkdown, charts } = report as unknown as LargeRoomReport;
    expect(results.map((r) => r.variant)).to.have.members(['on', 'off']);
    for (const result of results) {
      expect(result.connectedLarge, result.variant).to.equal(result.members);
      expect(result.phases).to.have.length(options.largeRates.length);
      for (const phase of result.phases) {
        expect(phase.publishedSmall, result.variant).to.be.greaterThan(0);
        expect(phase.publishedLarge, result.variant).to.be.greaterThan(0);
        expect(phase.pubErrors, result.variant).to.equal(0);
        expect(phase.small.lost, result.variant).to.equal(0);
        expect(phase.large.lost, result.variant).to.equal(0);
        expect(phase.large.deliveries, result.variant).to.equal(phase.publishedLarge * result.members);
        expect(phase.large.firstP50, result.variant).to.be.greaterThan(0);
        expect(phase.large.lastP50, result.variant).to.be.at.least(phase.large.firstP50);
        expect(phase.ping.gaps, result.variant).to.be.greaterThan(0);
        expect(phase.ping.max, result.variant).to.be.greaterThan(0);
        expect(phase.disconnects, result.variant).to.equal(0);
        expect(phase.cpuPct.server, result.variant).to.be.greaterThan(0);
      }
    }
    expect(summaryMarkdown).to.include('small-room p99 ms, on vs off');
    expect(charts).to.have.length(2);
    for (const chart of charts) for (const series of chart.series) expect(series.points.length).to.equal(options.largeRates.length);
  });
});
