import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBenchSmoke, type SmokeResult } from '../support/bench-smoke.js';

interface HeadlineReport {
  summaryMarkdown: string;
  charts: Array<{ id: string; series: Array<{ points: Array<[number, number]> }> }>;
  results: Array<{
    connections: number;
    connected: number;
    heldAtEnd: boolean;
    published: number;
    publishErrors: number;
    deliveries: number;
    p50: number;
    p99: number;
    verdict: { lost: number; duplicates: number; recoveredFalse: number };
    churned: number;
    recoveries: number;
    totalMemoryMB: number;
    cpuLoad: Array<{ name: string; cpuPct: number }>;
    latencyOverTime: Array<{ atS: number; count: number; answerP50: number; answerP99: number; loopDelayMaxMs: Array<number | null> }>;
    answerP50: number;
    answerP99: number;
    redisSlowlog: { count: number; slowestMs: number };
    loadAllocations?: { totalBytes: number; byPackage: Array<{ name: string; bytes: number }> };
    lateWindows: Array<{ atS: number; deliveries: number; late: number; byReceiver: number[]; byPublisher: number[]; byWorker: number[] }>;
  }>;
}

interface IdleHoldReport {
  options: { connections: number; nodes: number };
  results: Array<{
    target: string;
    connected: number;
    failed: number;
    dropped: number;
    firstError: string | null;
    connectPerS: number;
    rampServerMsPerConnection: number;
    rampWorkersMsPerConnection: number;
    nodesCpuPct: number;
    perProcess: Array<{ name: string }>;
    load?: { published: number; failedPublications: number; expectedDeliveries: number; received: number; p50Ms: number; p99Ms: number };
  }>;
  summaries: Array<{ target: string; nodesCpuPct: number }>;
  summaryMarkdown: string;
}

describe('bench smoke: headline (scenario 4)', function () {
  this.timeout(180_000);

  // Issue 16's new scenario runs beside this file's first one, not after it: both mostly wait on
  // processes starting, and the bench smoke runs must not add time to CI.
  let idleHold: Promise<SmokeResult>;
  const allocDir = mkdtempSync(join(tmpdir(), 'roomcast-headline-alloc-'));
  after(() => rmSync(allocDir, { recursive: true, force: true }));
  before(() => {
    idleHold = runBenchSmoke('scenarios/idle-hold.js', [], 90_000);
    idleHold.catch(() => undefined); // awaited by its own test; no unhandled rejection before that
  });

  it('connects every client over two Redis-backed nodes, delivers every group and personal publication exactly once across churn, and reports memory and CPU', async () => {
    // --late-ms 0: every timed delivery counts as late, so each one must be attributed once per split.
    // --alloc-profile-dir: every node's allocations over the load, sampled through its inspector.
    const { report } = await runBenchSmoke('scenarios/headline.js', ['--late-ms', '0', '--alloc-profile-dir', allocDir], 170_000);
    const { results, charts, summaryMarkdown } = report as unknown as HeadlineReport;
    expect(results).to.have.length(1);
    const [run] = results;
    if (!run) throw new Error('no run');
    expect(run.connected).to.equal(run.connections);
    expect(run.heldAtEnd).to.equal(true);
    expect(run.published).to.be.greaterThan(0);
    expect(run.publishErrors).to.equal(0);
    expect(run.deliveries).to.be.greaterThan(run.published);
    expect(run.verdict.lost).to.equal(0);
    expect(run.verdict.duplicates).to.equal(0);
    expect(run.verdict.recoveredFalse).to.equal(0);
    expect(run.churned, 'churn exercised').to.be.greaterThan(0);
    expect(run.recoveries).to.be.greaterThan(0);
    expect(run.p50).to.be.greaterThan(0);
    expect(run.p99).to.be.greaterThan(0);
    // Each publication's HTTP answer is timed apart from its deliveries, per window too.
    expect(run.answerP50).to.be.greaterThan(0);
    expect(run.answerP99).to.be.at.least(run.answerP50);
    for (const w of run.latencyOverTime) if (w.count > 0) expect(w.answerP50, `window ${w.atS}`).to.be.greaterThan(0);
    expect(run.redisSlowlog.count).to.be.at.least(0);
    // What the nodes allocated while publishing: one profile per node kept, Roomcast's own code among the allocators.
    expect(readdirSync(allocDir).filter((file) => file.endsWith('.heapprofile'))).to.have.length(2);
    expect(run.loadAllocations?.totalBytes).to.be.greaterThan(0);
    expect(run.loadAllocations?.byPackage.map((p) => p.name)).to.include('roomcast server/');
    // Each node's event-loop delay, read from its /metrics every second: one figure per node per window, some measured.
    for (const w of run.latencyOverTime) expect(w.loopDelayMaxMs, `window ${w.atS}`).to.have.length(2);
    const measured = run.latencyOverTime.flatMap((w) => w.loopDelayMaxMs).filter((ms): ms is number => ms !== null);
    expect(measured.length).to.be.greaterThan(0);
    for (const ms of measured) expect(ms).to.be.greaterThan(0);
    expect(run.totalMemoryMB).to.be.greaterThan(0);
    for (const p of run.cpuLoad) expect(p.cpuPct, p.name).to.be.at.least(0);
    expect(summaryMarkdown).to.match(/Target .*: (met|missed)/);
    expect(summaryMarkdown).to.match(/CPU per connection over the ramp \| nodes [\d.]+ \+ redis [\d.]+ ms \(at 1,000\/s: [\d.]+ cores\); load workers [\d.]+ ms/);
    // Where the late deliveries went through: each window's deliveries, each split by node (2), publishing node (2) and worker (2).
    expect(run.lateWindows.map((w) => w.atS)).to.deep.equal(run.latencyOverTime.map((w) => w.atS));
    for (const w of run.lateWindows) {
      expect(w.late, `window ${w.atS}`).to.equal(w.deliveries);
      for (const split of [w.byReceiver, w.byPublisher, w.byWorker]) {
        expect(split, `window ${w.atS}`).to.have.length(2);
        expect(split.reduce((a, b) => a + b, 0), `window ${w.atS}`).to.equal(w.late);
      }
    }
    expect(charts.map((c) => c.id)).to.include.members(['headline-memory-vs-connections', 'headline-latency-over-time']);
    for (const chart of charts) expect(chart.series.some((s) => s.points.length > 0), chart.id).to.equal(true);
  });

  // Issue 16's idle-upkeep target: the same load workers hold the clients on Roomcast nodes and on plain Socket.IO nodes.
  it('idle hold: holds every idle client over two nodes on Roomcast and on plain Socket.IO, none dropped, and reports the nodes\' CPU against each other', async () => {
    const { report } = await idleHold;
    const { results, summaries, summaryMarkdown, options } = report as unknown as IdleHoldReport;
    expect(results.map((r) => r.target)).to.have.members(['roomcast', 'socketio']);
    for (const result of results) {
      expect(result.connected, `${result.target}: ${result.firstError}`).to.equal(options.connections);
      expect(result.failed, result.target).to.equal(0);
      expect(result.dropped, result.target).to.equal(0);
      expect(result.connectPerS, result.target).to.be.greaterThan(0);
      // Accepting a connection (handshake, JWT, joins) costs the servers and the clients something.
      expect(result.rampServerMsPerConnection, result.target).to.be.greaterThan(0);
      expect(result.rampWorkersMsPerConnection, result.target).to.be.greaterThan(0);
      expect(result.nodesCpuPct, result.target).to.be.at.least(0);
      expect(result.perProcess.filter((p) => p.name.startsWith('node ')), result.target).to.have.length(options.nodes);
    }
    expect(summaries.map((s) => s.target)).to.have.members(['roomcast', 'socketio']);
    expect(summaryMarkdown).to.match(/against plain Socket\.IO \(target <= 1\.0x\): .*, (\*\*met\*\*|\*\*missed\*\*|not judged)/);
    expect(summaryMarkdown).to.match(/Server CPU per connection over the ramp \(nodes \+ redis-server\) against plain Socket\.IO: [\d.]+x/);
  });

  // The loaded phase gives the headline's p99 a baseline: both targets get the same publications over their own HTTP routes.
  it('idle hold, loaded phase: publishes into group and personal rooms of both targets, every owed delivery arrives and is timed', async () => {
    const { report } = await idleHold;
    const { results, summaryMarkdown } = report as unknown as IdleHoldReport;
    for (const result of results) {
      const load = result.load;
      if (load === undefined) throw new Error(`${result.target}: no loaded phase in the smoke run`);
      expect(load.published, result.target).to.be.greaterThan(0);
      expect(load.failedPublications, result.target).to.equal(0);
      // Group rooms of 10 and personal rooms of 1: more owed than published.
      expect(load.expectedDeliveries, result.target).to.be.greaterThan(load.published);
      expect(load.received, result.target).to.equal(load.expectedDeliveries);
      expect(load.p50Ms, result.target).to.be.greaterThan(0);
      expect(load.p99Ms, result.target).to.be.at.least(load.p50Ms);
    }
    expect(summaryMarkdown).to.match(/Delivery p99 under load against plain Socket\.IO: \d/);
  });
});
