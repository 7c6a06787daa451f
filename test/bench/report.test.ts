import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPerformanceDoc } from '../../bench/report.js';
import { fanoutSummaryMarkdown, type FanoutTargetSummary } from '../../bench/lib/fanout-summary.js';
import { crossNodeSummaryMarkdown, type CrossNodeTargetSummary } from '../../bench/lib/cross-node-summary.js';
import { ratioText, table } from '../../bench/lib/harness.js';
import { beforeAfter, targetRows, targetsMarkdown, type StoredReport } from '../../bench/lib/targets.js';

describe('bench report: docs/performance.md from the scenario reports', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'roomcast-report-'));
    mkdirSync(join(dir, 'reports'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const report = (scenario: string, stamp: string, summary: string, smoke = false): void => {
    const body = {
      scenario,
      at: stamp,
      command: `node dist/bench/scenarios/${scenario}.js`,
      summaryMarkdown: summary,
      charts: [{ id: 'latency', title: 'p99 against rate', xLabel: 'rate', yLabel: 'ms', series: [{ name: 'roomcast p99', points: [[10, 3], [20, 4.5]] }] }],
    };
    writeFileSync(join(dir, 'reports', `${scenario}-${stamp}${smoke ? '-smoke' : ''}.json`), JSON.stringify(body));
  };

  it('takes the newest full-size report of each scenario, renders its charts to SVG and keeps the hand-written text', async () => {
    report('fanout', '2026-01-01T00-00-00', '| old |');
    report('fanout', '2026-01-02T00-00-00', '| newest |');
    report('fanout', '2026-01-03T00-00-00', '| smoke |', true);
    const out = join(dir, 'performance.md');
    writeFileSync(out, '# Performance\n\nAnalysis by hand.\n\n<!-- generated:start (npm run bench:report rewrites this part) -->\nstale\n<!-- generated:end -->\n\nMore by hand.\n');

    const { sections, charts } = await buildPerformanceDoc({ reportsDir: join(dir, 'reports'), out, includeSmoke: false });

    expect(sections).to.deep.equal(['fanout']);
    const doc = readFileSync(out, 'utf8');
    expect(doc).to.include('Analysis by hand.').and.include('More by hand.').and.include('| newest |');
    expect(doc).not.to.include('stale');
    expect(doc).not.to.include('| old |');
    expect(doc).not.to.include('| smoke |');
    expect(doc).to.include('No report yet: run `npm run bench:capacity`');
    expect(charts).to.have.length(1);
    const svg = readFileSync(charts[0] ?? '', 'utf8');
    expect(svg).to.match(/^<svg/).and.include('roomcast p99');
    expect(doc).to.include('](performance/fanout-latency.svg)');
  });

  describe('a ratio whose baseline is missing or 0 (never NaN)', () => {
    it('ratioText gives the ratio, or n/a with the reason', () => {
      expect(ratioText(29, 20)).to.equal('1.45x');
      expect(ratioText(29, 20, { suffix: '' })).to.equal('1.45');
      expect(ratioText(25, 0, { baseline: 'plain Socket.IO' })).to.equal('n/a (plain Socket.IO baseline is 0)');
      expect(ratioText(25, Number.NaN)).to.equal('n/a (baseline missing)');
      expect(ratioText(25, null)).to.equal('n/a (baseline missing)');
      expect(ratioText(Number.NaN, 3)).to.equal('n/a (figure missing)');
      expect(ratioText(undefined, 3)).to.equal('n/a (figure missing)');
      expect(table(['a', 'b'], [[Number.NaN, null]])).to.include('| n/a | n/a |').and.not.include('NaN');
    });

    const fanout: FanoutTargetSummary[] = [
      { target: 'roomcast', runs: 3, connectMs: 2805, maxRateOk: 25, maxRatesOk: [25, 0, 25], cpuPerDeliveryUs: 21.53 },
      { target: 'bare-ws', runs: 3, connectMs: 1127, maxRateOk: 25, maxRatesOk: [25, 0, 25], cpuPerDeliveryUs: 14.82 },
      { target: 'socketio', runs: 3, connectMs: 2681, maxRateOk: 0, maxRatesOk: [0, 0, 25], cpuPerDeliveryUs: null },
    ];

    it('the fan-out summary says n/a (plain Socket.IO baseline is 0) and judges nothing on it', () => {
      const text = fanoutSummaryMarkdown(fanout);
      expect(text).not.to.match(/NaN|Infinity|null/);
      expect(text).to.include('- Server CPU per delivery against plain Socket.IO (target <= 1x): n/a (plain Socket.IO baseline missing), not judged; floor: 1.45x bare ws');
      expect(text).to.include('- Highest fan-out rate with p99 <= 50 ms against plain Socket.IO (target >= 1x): n/a (plain Socket.IO baseline is 0), met (Roomcast 25/s, plain Socket.IO 0/s)');
    });

    it('rebuilds a stored report\'s summary from its figures: a NaN it was written with does not reach the doc', async () => {
      const stale = '- Highest fan-out rate with p99 <= 50 ms: NaNx plain Socket.IO (target >= 2x): missed';
      writeFileSync(join(dir, 'reports', 'fanout-2026-01-01T00-00-00.json'), JSON.stringify({ scenario: 'fanout', at: 'then', summaryMarkdown: stale, summaries: fanout, charts: [] }));
      const crossNode: CrossNodeTargetSummary[] = [
        { target: 'roomcast', runs: 1, publishedPerS: 500, lost: 0, sameP50: 1, sameP99: 2, remoteP50: 2, remoteP99: 4, hopP50: 1, hopP99: 2, canaryIdleP50: 0.5, canaryIdleP99: 1, canaryLoadP50: 1, canaryLoadP99: null, cpuPct: { node1: 50, redis: 5 } },
        { target: 'socketio', runs: 1, publishedPerS: 500, lost: 0, sameP50: 1, sameP99: 2, remoteP50: 2, remoteP99: 0, hopP50: null, hopP99: 1, canaryIdleP50: null, canaryIdleP99: null, canaryLoadP50: null, canaryLoadP99: null, cpuPct: { node1: 25 } },
      ];
      const options = { rooms: 100, roomSize: 10, rate: 500, idleMs: 30_000, loadMs: 30_000, runs: 1 };
      writeFileSync(
        join(dir, 'reports', 'cross-node-2026-01-01T00-00-00.json'),
        JSON.stringify({ scenario: 'cross-node', at: 'then', summaryMarkdown: '| target of the issue |', summaries: crossNode, options, profile: null, charts: [] }),
      );
      const out = join(dir, 'performance.md');
      await buildPerformanceDoc({ reportsDir: join(dir, 'reports'), out, includeSmoke: false, scenarios: ['fanout', 'cross-node'] });
      const doc = readFileSync(out, 'utf8');
      expect(doc).not.to.match(/NaN|Infinity|\bnull\b/);
      expect(doc).not.to.include('| target of the issue |');
      expect(doc).to.include('n/a (plain Socket.IO baseline is 0), met (Roomcast 25/s, plain Socket.IO 0/s)');
      expect(doc).to.include('| remote p99 latency | n/a (plain Socket.IO baseline is 0) |');
      expect(doc).to.include('| Redis hop p50 | n/a (plain Socket.IO baseline missing) |');
      expect(doc).to.include('| redis-server CPU | n/a (plain Socket.IO baseline missing) |');
      expect(doc).to.include('| publishing node CPU | 2 |');
      expect(doc).to.include("| Roomcast's target (issue 16) | Roomcast (median over runs) |");
      expect(doc).to.include('| Redis hop p50 <= 1.5x plain Socket.IO + redis-adapter | n/a (not measured, or no baseline) |');
      expect(doc).to.include('| Redis hop p99 <= 1.5x plain Socket.IO + redis-adapter | met (2x: 2 vs 1 ms) |'.replace('met', 'missed'));
      expect(doc).to.include('| canary lag p99 < 10 ms under load on the publishing node | n/a (not measured) |');
      // A report of before issue 16 carries no `nodes`: it was 3.
      expect(doc).to.include('100 rooms x 10 members over 3 nodes (member j of a room on node j mod 3)');
      const summary = crossNodeSummaryMarkdown(crossNode, options);
      expect(doc).to.include(summary);
    });
  });

  describe("issue 16's targets table", () => {
    const reports = (...list: StoredReport[]): Map<string, StoredReport> => new Map(list.map((r) => [r.scenario, r]));

    it('says "not measured" for a target without a report, and never crashes on a report of another shape', () => {
      const rows = targetRows(reports({ scenario: 'capacity', command: 'c', summaries: 'garbage' }, { scenario: 'headline', results: [{ nonsense: true }] }));
      expect(rows.length).to.be.greaterThan(10);
      const text = targetsMarkdown(rows);
      expect(text).not.to.match(/NaN|Infinity|undefined|\bnull\b/);
      for (const row of rows) expect(row.measured.verdict, row.def.id).to.equal('not measured');
      expect(text).to.include('not measured (no `idle-hold` report)');
    });

    it('puts the baseline of the same report beside Roomcast, with the ratio and the verdict; a 0 baseline has no ratio', () => {
      const rows = targetRows(
        reports(
          {
            scenario: 'capacity',
            command: 'node dist/bench/scenarios/capacity.js',
            summaries: [
              { target: 'roomcast', rssPerConnKiB: 12, cpuPerConnUs: 500 },
              { target: 'socketio', rssPerConnKiB: 13, cpuPerConnUs: 400 },
              { target: 'bare-ws', rssPerConnKiB: 5.6, cpuPerConnUs: 150 },
            ],
          },
          { scenario: 'fanout', summaries: [{ target: 'roomcast', maxRateOk: 25, maxRatesOk: [25] }, { target: 'socketio', maxRateOk: 0, maxRatesOk: [0] }] },
          { scenario: 'publish-cost', summaries: [{ target: 'roomcast', cpuPerPublicationMs: 0.3, cpuPerBatchMs: 6 }, { target: 'socketio', cpuPerPublicationMs: 0.25 }] },
        ),
      );
      const row = (id: string) => rows.find((r) => r.def.id === id)?.measured;
      expect(row('rss-per-connection')).to.include({ roomcast: 12, baseline: 13, floor: 5.6, ratio: 0.92, verdict: 'met' });
      expect(row('rss-per-connection')?.note).to.equal('moonshot <= 10 KiB: missed');
      expect(row('cpu-per-connection')).to.include({ ratio: 1.25, verdict: 'missed' });
      expect(row('max-fanout-rate')).to.include({ roomcast: 25, baseline: 0, ratio: null, verdict: 'met' });
      expect(row('cpu-per-publication')).to.include({ roomcast: 0.3, baseline: 0.25, verdict: 'met' });
      expect(row('cpu-per-batch')).to.include({ roomcast: 6, verdict: 'missed' });
      expect(targetsMarkdown(rows)).to.include('| 1 | RSS per idle connection | <= 1.0x plain Socket.IO (moonshot <= 10 KiB) | 12 KiB (moonshot <= 10 KiB: missed) | plain Socket.IO: 13 KiB | bare ws: 5.6 KiB | 0.92x | **met** | `node dist/bench/scenarios/capacity.js` |');
    });

    it('draws before and after from the same definitions; a figure measured on one side only still has its bars', () => {
      const before = reports({ scenario: 'fanout', summaries: [{ target: 'roomcast', cpuPerDeliveryUs: 21.5 }, { target: 'socketio', cpuPerDeliveryUs: 20.3 }, { target: 'bare-ws', cpuPerDeliveryUs: 14.8 }] });
      const after = reports({ scenario: 'publish-cost', summaries: [{ target: 'roomcast', cpuPerPublicationMs: 0.3 }] });
      const charts = beforeAfter(before, after);
      const delivery = charts.find((c) => c.id === 'cpu-per-delivery');
      expect(delivery?.bars).to.deep.equal([
        { when: 'before issue 16', series: 'Roomcast', value: 21.5 },
        { when: 'before issue 16', series: 'plain Socket.IO', value: 20.3 },
        { when: 'before issue 16', series: 'bare ws', value: 14.8 },
      ]);
      expect(charts.find((c) => c.id === 'cpu-per-publication')).to.deep.include({ limit: 0.35, bars: [{ when: 'after', series: 'Roomcast', value: 0.3 }] });
      expect(charts.find((c) => c.id === 'idle-cpu')?.bars).to.deep.equal([]);
      // The before report itself, not yet replaced by a new run, is not drawn as "after".
      const same = { scenario: 'fanout', at: 'then', summaries: [{ target: 'roomcast', cpuPerDeliveryUs: 21.5 }] };
      expect(beforeAfter(reports(same), reports(same)).find((c) => c.id === 'cpu-per-delivery')?.bars).to.deep.equal([{ when: 'before issue 16', series: 'Roomcast', value: 21.5 }]);
    });
  });
});
