import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPerformanceDoc } from '../../bench/report.js';
import { fanoutSummaryMarkdown, type FanoutTargetSummary } from '../../bench/lib/fanout-summary.js';
import { crossNodeSummaryMarkdown, type CrossNodeTargetSummary } from '../../bench/lib/cross-node-summary.js';
import { ratioText, table } from '../../bench/lib/harness.js';

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
      expect(text).to.include('- Server CPU per delivery against bare ws (target <= 1.25x): 1.45x, missed');
      expect(text).to.include('- Highest fan-out rate with p99 <= 50 ms against plain Socket.IO (target >= 2x): n/a (plain Socket.IO baseline is 0), not judged');
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
      expect(doc).not.to.match(/NaN|Infinity|\bnull\b|issue/);
      expect(doc).to.include('n/a (plain Socket.IO baseline is 0), not judged');
      expect(doc).to.include('| remote p99 latency | n/a (plain Socket.IO baseline is 0) |');
      expect(doc).to.include('| Redis hop p50 | n/a (plain Socket.IO baseline missing) |');
      expect(doc).to.include('| redis-server CPU | n/a (plain Socket.IO baseline missing) |');
      expect(doc).to.include('| publishing node CPU | 2 |');
      expect(doc).to.include("| Roomcast's target | Roomcast (median over runs) |");
      expect(doc).to.include('| canary lag p99 < 10 ms under load (worst node) | n/a (not measured) |');
      expect(crossNodeSummaryMarkdown(crossNode, options)).to.equal(doc.slice(doc.indexOf('100 rooms x 10'), doc.indexOf('| canary lag p99 < 10 ms under load')) + '| canary lag p99 < 10 ms under load (worst node) | n/a (not measured) |');
    });
  });
});
