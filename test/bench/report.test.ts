import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPerformanceDoc } from '../../bench/report.js';

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
});
