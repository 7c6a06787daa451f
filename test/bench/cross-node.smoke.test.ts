import { expect } from 'chai';
import { runBenchSmoke } from '../support/bench-smoke.js';

interface Latency {
  p50: number;
  p99: number;
  count: number;
}

interface CrossNodeReport {
  results: Array<{
    target: string;
    members: number;
    connected: number;
    published: number;
    deliveries: number;
    lost: number;
    same: Latency;
    remote: Latency;
    canaryIdle: Array<{ p50Ms: number; p99Ms: number; samples: number } | null>;
    canaryLoad: Array<{ p50Ms: number; p99Ms: number; samples: number } | null>;
    cpuPct: Record<string, number>;
  }>;
  summaryMarkdown: string;
  charts: Array<{ series: Array<{ points: Array<[number, number]> }> }>;
}

describe('bench smoke: cross-node (scenario 3)', function () {
  this.timeout(150_000);

  it('delivers every publication to same-node and remote members through Redis, for Roomcast and the Socket.IO baseline, with canary and CPU figures', async () => {
    const { report } = await runBenchSmoke('scenarios/cross-node.js', [], 140_000);
    const { results, summaryMarkdown, charts } = report as unknown as CrossNodeReport;
    expect(results.map((r) => r.target)).to.have.members(['roomcast', 'socketio']);
    for (const result of results) {
      expect(result.connected, result.target).to.equal(result.members);
      expect(result.published, result.target).to.be.greaterThan(0);
      expect(result.deliveries, result.target).to.equal(result.published * 4);
      expect(result.lost, result.target).to.equal(0);
      expect(result.same.count, result.target).to.be.greaterThan(0);
      expect(result.remote.count, result.target).to.be.greaterThan(0);
      expect(result.remote.p50, result.target).to.be.greaterThan(0);
      for (const process of ['node1', 'node2', 'node3', 'redis', 'worker1']) expect(result.cpuPct[process], `${result.target} ${process}`).to.be.a('number');
      expect(result.cpuPct.node1, result.target).to.be.greaterThan(0);
    }
    const roomcast = results.find((r) => r.target === 'roomcast');
    expect(roomcast?.canaryLoad).to.have.length(3);
    for (const canary of roomcast?.canaryLoad ?? []) expect(canary?.samples).to.be.greaterThan(0);
    expect(summaryMarkdown).to.match(/Redis hop p50 <= 2 ms \| (met|missed)/);
    expect(charts[0]?.series.length).to.equal(4);
  });
});
