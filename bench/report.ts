/**
 * Builds docs/performance.md from the newest full-size report of each scenario
 * in bench/reports/, and renders each scenario's charts to SVG with Vega-Lite.
 * Only the part between the `generated` markers is rewritten, so the
 * hand-written analysis around it (targets met or missed, profiles) stays.
 *
 *   npm run bench:report -- [--reports-dir bench/reports] [--out docs/performance.md]
 *                           [--include-smoke] [--scenarios capacity,fanout,...]
 *                           [--use headline=bench/reports/headline-<time>.json,...]
 *                           [--before-dir docs/performance/before]
 *
 * --use picks a given report for a scenario instead of the newest one (e.g. the
 * 100K headline run rather than a later, smaller one).
 *
 * A report is a JSON file written by bench/lib/harness.ts writeReport() with at
 * least `command`, `summaryMarkdown` and `charts` (see ChartSpec).
 *
 * It also rewrites the part between the `summary` markers: issue 16's targets
 * table (bench/lib/targets.ts), each target with Roomcast's figure, the baseline's
 * from the same report, the floor, the ratio and the verdict ("not measured" when
 * its report is missing); and draws one chart per target of its figures before
 * issue 16 (the reports kept in docs/performance/before/, `--before-dir`) and
 * after (the reports used here), in docs/performance/before-after/.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { crossNodeSummaryMarkdown, type CrossNodeSummaryOptions, type CrossNodeTargetSummary } from './lib/cross-node-summary.js';
import { fanoutSummaryMarkdown, type FanoutTargetSummary } from './lib/fanout-summary.js';
import { publishCostSummaryMarkdown, type PublishCostSummary } from './lib/publish-cost-summary.js';
import { beforeAfter, targetRows, targetsMarkdown, type BeforeAfter, type StoredReport } from './lib/targets.js';
import { argValue, machineLine, repoRoot, type ChartSpec } from './lib/harness.js';

interface ScenarioReport {
  scenario: string;
  at?: string;
  command?: string;
  summaryMarkdown?: string;
  charts?: ChartSpec[];
  machine?: Record<string, unknown>;
  /** The figures a summary is built from (see SUMMARIES). */
  summaries?: unknown;
  options?: unknown;
  profile?: unknown;
  profileMarkdown?: unknown;
}

/**
 * Scenarios whose summary is rebuilt here from the report's figures, with the code
 * the scenario itself uses: a fix to how a summary reads (a ratio whose baseline is
 * 0 or missing, a heading) reaches docs/performance.md from the stored reports,
 * without running the benchmark again. Other scenarios keep the text they wrote.
 */
const SUMMARIES: Record<string, (report: ScenarioReport) => string | undefined> = {
  fanout: (report) => (Array.isArray(report.summaries) ? fanoutSummaryMarkdown(report.summaries as FanoutTargetSummary[]) : undefined),
  'publish-cost': (report) => (Array.isArray(report.summaries) ? publishCostSummaryMarkdown(report.summaries as PublishCostSummary[]) : undefined),
  'cross-node': (report) => {
    if (!Array.isArray(report.summaries) || typeof report.options !== 'object' || report.options === null) return undefined;
    // A profile's tables follow the summary; reports that do not keep them apart keep their text.
    const profile = typeof report.profileMarkdown === 'string' ? report.profileMarkdown : null;
    if (profile === null && report.profile !== undefined && report.profile !== null) return undefined;
    const summary = crossNodeSummaryMarkdown(report.summaries as CrossNodeTargetSummary[], report.options as CrossNodeSummaryOptions);
    return profile === null ? summary : `${summary}\n\n${profile}`;
  },
};

/** The summary a report contributes: rebuilt from its figures where SUMMARIES knows how, else the text it carries. */
export function summaryOf(report: ScenarioReport): string {
  return SUMMARIES[report.scenario]?.(report) ?? report.summaryMarkdown ?? '(the report has no summary)';
}

/** The order and the titles of the scenarios in docs/performance.md (numbered as in the README's list of benchmarks). */
const SCENARIOS: Array<{ name: string; title: string; npm: string }> = [
  { name: 'capacity', title: '1. Capacity: idle connections on one node', npm: 'npm run bench:capacity' },
  { name: 'fanout', title: '2. Fan-out: 1,000 members in one room', npm: 'npm run bench:fanout' },
  { name: 'cross-node', title: '3. Cross-node: the Redis hop', npm: 'npm run bench:cross-node' },
  { name: 'headline', title: '4. The headline: 100,000 connections', npm: 'npm run bench:headline' },
  { name: 'reconnect-storm', title: '5. Reconnect storm: draining a loaded node', npm: 'npm run bench:storm' },
  { name: 'history-cost', title: '6. The cost of guarantees: history on vs off', npm: 'npm run bench:history-cost' },
  { name: 'large-room', title: '7. A large room beside small ones', npm: 'npm run bench:large-room' },
  { name: 'publish-cost', title: '10. Publish cost: server CPU per HTTP publication', npm: 'npm run bench:publish-cost' },
  { name: 'idle-hold', title: '11. Holding idle connections: node CPU against plain Socket.IO', npm: 'npm run bench:idle-hold' },
];

const START = '<!-- generated:start (npm run bench:report rewrites this part) -->';
const END = '<!-- generated:end -->';
const SUMMARY_START = '<!-- summary:start -->';
const SUMMARY_END = '<!-- summary:end -->';

/** `text` with what lies between `start` and `end` replaced by `inner` (appended with the markers if they are absent). */
function replaceBetween(text: string, start: string, end: string, inner: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) return `${text.slice(0, from)}${start}\n${inner}\n${text.slice(to)}`;
  return `${text.trimEnd()}\n\n${start}\n${inner}\n${end}\n`;
}

/** The newest report per scenario; smoke reports only when asked (the test suite uses them). */
export function newestReports(dir: string, includeSmoke: boolean): Map<string, { file: string; report: ScenarioReport }> {
  const newest = new Map<string, { file: string; report: ScenarioReport }>();
  if (!existsSync(dir)) return newest;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && (includeSmoke || !f.endsWith('-smoke.json')))
    .sort(); // names carry an ISO time: lexical order is time order
  for (const file of files) {
    let report: ScenarioReport;
    try {
      report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ScenarioReport;
    } catch {
      continue; // a report being written, or not ours
    }
    if (typeof report.scenario === 'string') newest.set(report.scenario, { file: join(dir, file), report });
  }
  return newest;
}

/** One chart as an SVG document: lines with points, one colour per series. */
export async function renderChart(chart: ChartSpec): Promise<string> {
  const values = chart.series.flatMap((series) => series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => ({ x, y, series: series.name })));
  const spec = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: 560,
    height: 300,
    background: 'white',
    data: { values },
    // Dots only on short series: on a curve of thousands of samples they only make the file heavy.
    mark: { type: 'line', point: Math.max(0, ...chart.series.map((series) => series.points.length)) <= 60 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: chart.xLabel, scale: chart.xLog === true ? { type: 'log' } : { zero: false } },
      y: { field: 'y', type: 'quantitative', title: chart.yLabel, scale: chart.yLog === true ? { type: 'log' } : {} },
      color: { field: 'series', type: 'nominal', title: null },
    },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One before/after chart: grouped bars per series, before issue 16 and after, with the target's limit as a rule. */
export async function renderBeforeAfter(chart: BeforeAfter): Promise<string> {
  const bars = {
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'when', type: 'nominal', title: null, sort: ['before issue 16', 'after'] },
      xOffset: { field: 'series', type: 'nominal' },
      y: { field: 'value', type: 'quantitative', title: chart.unit },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  const labels = { mark: { type: 'text', dy: -6 }, encoding: { ...bars.encoding, text: { field: 'value', type: 'quantitative' } } };
  const rule = chart.limit !== undefined ? [{ data: { values: [{ limit: chart.limit }] }, mark: { type: 'rule', strokeDash: [6, 4], color: 'black' }, encoding: { y: { field: 'limit', type: 'quantitative' } } }] : [];
  const spec = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: 360,
    height: 240,
    background: 'white',
    data: { values: chart.bars },
    layer: [bars, labels, ...rule],
  } as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Every report of a directory by scenario (the before set: one per scenario, any name); empty when absent. */
export function reportsIn(dir: string): Map<string, StoredReport> {
  const found = new Map<string, StoredReport>();
  if (!existsSync(dir)) return found;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    try {
      const report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as StoredReport;
      // The 40K headline is a side run: the before figures are the 100K one.
      if (typeof report.scenario === 'string' && !file.includes('-40k')) found.set(report.scenario, report);
    } catch {
      /* not a report */
    }
  }
  return found;
}

function versionOf(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0] ?? '?';
  } catch {
    return 'not installed';
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function environmentSection(): string {
  return [
    '## Machine and versions',
    '',
    `- Machine: ${machineLine()}`,
    `- ${versionOf('redis-server', ['--version'])}`,
    `- socket.io ${packageVersion('socket.io')}, @socket.io/redis-adapter ${packageVersion('@socket.io/redis-adapter')}, ws ${packageVersion('ws')}, redis (node-redis) ${packageVersion('redis')}, bufferutil ${packageVersion('bufferutil')}, utf-8-validate ${packageVersion('utf-8-validate')}`,
    '- Every process (gateway nodes, baselines, redis-server, load workers) runs on this one machine over loopback, so the load generator competes with the server for the 2 cores: CPU per process is reported next to each figure.',
    '',
  ].join('\n');
}

export async function buildPerformanceDoc(options: {
  reportsDir: string;
  out: string;
  includeSmoke: boolean;
  scenarios?: string[];
  /** scenario -> report file, overriding the newest. */
  use?: Map<string, string>;
  /** The reports of before issue 16 (default docs/performance/before/ beside `out`). */
  beforeDir?: string;
}): Promise<{ sections: string[]; charts: string[]; targets: ReturnType<typeof targetRows> }> {
  const reports = newestReports(options.reportsDir, options.includeSmoke);
  for (const [scenario, file] of options.use ?? []) {
    if (!existsSync(file)) {
      process.stderr.write(`--use ${scenario}=${file}: no such file, using the newest report\n`);
      continue;
    }
    reports.set(scenario, { file, report: JSON.parse(readFileSync(file, 'utf8')) as ScenarioReport });
  }
  const chartDir = join(dirname(options.out), 'performance');
  mkdirSync(chartDir, { recursive: true });
  const parts: string[] = [START, '', environmentSection()];
  const sections: string[] = [];
  const charts: string[] = [];
  for (const scenario of SCENARIOS) {
    if (options.scenarios && !options.scenarios.includes(scenario.name)) continue;
    const found = reports.get(scenario.name);
    parts.push(`## ${scenario.title}`, '');
    if (!found) {
      parts.push(`No report yet: run \`${scenario.npm}\`.`, '');
      continue;
    }
    sections.push(scenario.name);
    const { report, file } = found;
    // The report itself is kept beside the doc (bench/reports/ is not committed), so every figure has its source.
    const kept = join(chartDir, `${scenario.name}.json`);
    copyFileSync(file, kept);
    const fullMarkdown = file.replace(/\.json$/, '.md');
    if (existsSync(fullMarkdown)) copyFileSync(fullMarkdown, join(chartDir, `${scenario.name}.md`));
    const links = [`[JSON](${relative(dirname(options.out), kept)})`, ...(existsSync(fullMarkdown) ? [`[full report](${relative(dirname(options.out), join(chartDir, `${scenario.name}.md`))})`] : [])];
    parts.push(`Command: \`${report.command ?? scenario.npm}\`, run ${report.at ?? '?'}; ${links.join(', ')}`, '');
    parts.push(summaryOf(report).trim(), '');
    for (const chart of report.charts ?? []) {
      const svgFile = join(chartDir, `${scenario.name}-${chart.id}.svg`);
      writeFileSync(svgFile, await renderChart(chart));
      charts.push(svgFile);
      parts.push(`![${chart.title}](${relative(dirname(options.out), svgFile)})`, '');
    }
  }
  // Issue 16's targets, from the same reports, and each figure before and after.
  const after = new Map<string, StoredReport>([...reports].map(([name, found]) => [name, found.report]));
  const targets = targetRows(after);
  const before = reportsIn(options.beforeDir ?? join(chartDir, 'before'));
  const beforeAfterDir = join(chartDir, 'before-after');
  mkdirSync(beforeAfterDir, { recursive: true });
  parts.push('## Before and after issue 16', '', 'Each target\'s figures in the reports kept from before issue 16 (`docs/performance/before/`) and in the reports above; the dashed line is the target where it is absolute.', '');
  for (const chart of beforeAfter(before, after)) {
    if (chart.bars.length === 0) {
      parts.push(`- ${chart.title}: not measured`, '');
      continue;
    }
    const svgFile = join(beforeAfterDir, `${chart.id}.svg`);
    writeFileSync(svgFile, await renderBeforeAfter(chart));
    charts.push(svgFile);
    parts.push(`![${chart.title}](${relative(dirname(options.out), svgFile)})`, '');
  }
  parts.push(END);
  const generated = parts.join('\n');
  const existing = existsSync(options.out) ? readFileSync(options.out, 'utf8') : `# Performance\n\n${SUMMARY_START}\n${SUMMARY_END}\n\n${START}\n${END}\n`;
  const from = existing.indexOf(START);
  const to = existing.indexOf(END);
  let doc = from >= 0 && to > from ? `${existing.slice(0, from)}${generated}${existing.slice(to + END.length)}` : `${existing.trimEnd()}\n\n${generated}\n`;
  const summary = [
    '',
    `Issue 16's targets, each with Roomcast's figure next to the baseline's from the same run of the same report (medians of the runs each report names), the floor (bare \`ws\`, or a bare \`node:http\` handler) and the command that produced it. Generated by \`npm run bench:report\`.`,
    '',
    targetsMarkdown(targets),
    '',
  ].join('\n');
  doc = replaceBetween(doc, SUMMARY_START, SUMMARY_END, summary);
  writeFileSync(options.out, doc);
  return { sections, charts, targets };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const reportsDir = resolve(argValue(argv, 'reports-dir') ?? join(repoRoot, 'bench/reports'));
  const out = resolve(argValue(argv, 'out') ?? join(repoRoot, 'docs/performance.md'));
  const scenarios = argValue(argv, 'scenarios')?.split(',');
  const use = new Map(
    (argValue(argv, 'use') ?? '')
      .split(',')
      .filter((pair) => pair.includes('='))
      .map((pair) => {
        const [scenario, file] = pair.split('=') as [string, string];
        return [scenario, resolve(file)] as const;
      }),
  );
  const beforeDir = argValue(argv, 'before-dir');
  const { sections, charts, targets } = await buildPerformanceDoc({
    reportsDir,
    out,
    includeSmoke: argv.includes('--include-smoke'),
    use,
    ...(scenarios ? { scenarios } : {}),
    ...(beforeDir !== undefined ? { beforeDir: resolve(beforeDir) } : {}),
  });
  const measured = targets.filter((t) => t.measured.verdict !== 'not measured').length;
  process.stderr.write(`${basename(out)}: ${sections.length} scenario(s) (${sections.join(', ')}), ${charts.length} chart(s), ${measured} of ${targets.length} targets measured\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench report failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
