/**
 * Issue 16's targets table, read from the scenarios' stored reports: per target,
 * Roomcast's figure next to the baseline's figure from the SAME report (same run,
 * interleaved), bare ws or node:http as the floor where the scenario has one, the
 * ratio and the verdict. A target whose report is missing, or a report written
 * before the figure existed, says "not measured" instead of failing.
 *
 * The same extractors read the reports of before issue 16 (docs/performance/before/)
 * for the before/after charts: one definition of each figure for both.
 */
import { median, round } from './harness.js';

/** The part of a stored report the targets read (JSON: anything may be missing). */
export interface StoredReport {
  scenario: string;
  command?: string;
  at?: string;
  options?: unknown;
  results?: unknown;
  summaries?: unknown;
}

export type Verdict = 'met' | 'missed' | 'not judged' | 'not measured';

/** What one target's figures are in one report. */
export interface Measured {
  roomcast: number | null;
  baseline: number | null;
  floor?: number | null;
  /** Roomcast / baseline, when the target is a ratio and both are finite and the baseline is not 0. */
  ratio: number | null;
  verdict: Verdict;
  /** Why a verdict reads as it does, per-run figures, the moonshot. */
  note?: string;
}

export interface TargetDef {
  id: string;
  figure: string;
  target: string;
  scenario: string;
  npm: string;
  unit: string;
  baselineName: string;
  floorName?: string;
  /** The absolute limit drawn on the before/after chart, if the target is absolute. */
  limit?: number;
  measure(report: StoredReport): Measured;
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const obj = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The `summaries` entry of a target (capacity, fanout, cross-node, publish-cost, idle-hold). */
function summary(report: StoredReport, target: string): Record<string, unknown> {
  return obj(arr(report.summaries).find((s) => obj(s).target === target));
}

/** The median over a report's `results` of one figure (NaN and missing skipped); null when none. */
function medianResult(report: StoredReport, pick: (result: Record<string, unknown>) => number | null): number | null {
  const values = arr(report.results)
    .map((r) => pick(obj(r)))
    .filter((v): v is number => v !== null);
  return values.length === 0 ? null : round(median(values), 2);
}

const NOT_MEASURED: Measured = { roomcast: null, baseline: null, ratio: null, verdict: 'not measured' };

/** Roomcast / baseline judged against `ok`; 'not judged' with the reason when the ratio cannot be computed. */
function judgeRatio(roomcast: number | null, baseline: number | null, ok: (ratio: number) => boolean, floor?: number | null): Measured {
  const extra = floor !== undefined ? { floor } : {};
  if (roomcast === null) return { ...NOT_MEASURED, baseline, ...extra };
  if (baseline === null) return { roomcast, baseline, ratio: null, verdict: 'not judged', note: 'no baseline figure in this report', ...extra };
  if (baseline === 0) return { roomcast, baseline, ratio: null, verdict: 'not judged', note: 'the baseline is 0: no ratio', ...extra };
  const ratio = round(roomcast / baseline, 2);
  return { roomcast, baseline, ratio, verdict: ok(ratio) ? 'met' : 'missed', ...extra };
}

/** An absolute target: Roomcast's figure against `ok`; the baseline only shown. */
/**
 * A publish-cost figure judged on the worse of memory and one-Redis mode: a target met only without Redis
 * is not met for a cluster. Both figures are named in the note.
 */
function judgeWorseMode(r: StoredReport, field: 'cpuPerPublicationMs' | 'cpuPerBatchMs', baseline: number | null, ok: (value: number) => boolean): Measured {
  const memory = num(summary(r, 'roomcast')[field]);
  const redis = num(summary(r, 'roomcast-redis')[field]);
  const worst = memory === null || redis === null ? memory : Math.max(memory, redis);
  return withNote(judgeAbsolute(worst, baseline, ok, num(summary(r, 'http-floor')[field])), redis === null ? undefined : `memory mode ${memory} ms, one-Redis mode ${redis} ms`);
}

function judgeAbsolute(roomcast: number | null, baseline: number | null, ok: (value: number) => boolean, floor?: number | null): Measured {
  const extra = floor !== undefined ? { floor } : {};
  if (roomcast === null) return { ...NOT_MEASURED, baseline, ...extra };
  const ratio = baseline !== null && baseline !== 0 ? round(roomcast / baseline, 2) : null;
  return { roomcast, baseline, ratio, verdict: ok(roomcast) ? 'met' : 'missed', ...extra };
}

const withNote = (measured: Measured, note: string | undefined): Measured => (note === undefined ? measured : { ...measured, note: measured.note !== undefined ? `${measured.note}; ${note}` : note });

export const TARGETS_16: TargetDef[] = [
  {
    id: 'rss-per-connection',
    figure: 'RSS per idle connection',
    target: '<= 1.0x plain Socket.IO (moonshot <= 10 KiB)',
    scenario: 'capacity',
    npm: 'npm run bench:capacity',
    unit: 'KiB',
    baselineName: 'plain Socket.IO',
    floorName: 'bare ws',
    measure: (r) => {
      const rc = num(summary(r, 'roomcast').rssPerConnKiB);
      const m = judgeRatio(rc, num(summary(r, 'socketio').rssPerConnKiB), (x) => x <= 1, num(summary(r, 'bare-ws').rssPerConnKiB));
      return withNote(m, rc === null ? undefined : `moonshot <= 10 KiB: ${rc <= 10 ? 'met' : 'missed'}`);
    },
  },
  {
    id: 'cpu-per-connection',
    figure: 'server CPU per accepted connection (JWT + join)',
    target: '<= 1.2x plain Socket.IO',
    scenario: 'capacity',
    npm: 'npm run bench:capacity',
    unit: 'µs',
    baselineName: 'plain Socket.IO',
    floorName: 'bare ws',
    measure: (r) => judgeRatio(num(summary(r, 'roomcast').cpuPerConnUs), num(summary(r, 'socketio').cpuPerConnUs), (x) => x <= 1.2, num(summary(r, 'bare-ws').cpuPerConnUs)),
  },
  {
    id: 'cpu-per-delivery',
    figure: 'server CPU per delivery, 1,000-member room',
    target: '<= 1.0x plain Socket.IO',
    scenario: 'fanout',
    npm: 'npm run bench:fanout',
    unit: 'µs',
    baselineName: 'plain Socket.IO',
    floorName: 'bare ws',
    measure: (r) => judgeRatio(num(summary(r, 'roomcast').cpuPerDeliveryUs), num(summary(r, 'socketio').cpuPerDeliveryUs), (x) => x <= 1, num(summary(r, 'bare-ws').cpuPerDeliveryUs)),
  },
  {
    id: 'max-fanout-rate',
    figure: 'highest fan-out rate with p99 <= 50 ms',
    target: '>= 1.0x plain Socket.IO',
    scenario: 'fanout',
    npm: 'npm run bench:fanout',
    unit: 'publications/s',
    baselineName: 'plain Socket.IO',
    floorName: 'bare ws',
    measure: (r) => {
      const rc = num(summary(r, 'roomcast').maxRateOk);
      const sio = num(summary(r, 'socketio').maxRateOk);
      const floor = num(summary(r, 'bare-ws').maxRateOk);
      const perRun = (target: string): string => arr(summary(r, target).maxRatesOk).map((v) => num(v) ?? 'n/a').join(', ');
      const runs = `per run: Roomcast ${perRun('roomcast')}; plain Socket.IO ${perRun('socketio')}`;
      // A 0 baseline has no ratio: say what the figures are instead of inventing one.
      if (rc !== null && sio === 0) {
        return rc > 0
          ? { roomcast: rc, baseline: sio, floor, ratio: null, verdict: 'met', note: `plain Socket.IO held no tried rate (0/s), Roomcast ${rc}/s: no ratio, Roomcast is ahead; ${runs}` }
          : { roomcast: rc, baseline: sio, floor, ratio: null, verdict: 'not judged', note: `both 0/s: the lowest rate tried already breaks p99 <= 50 ms on this machine; ${runs}` };
      }
      return withNote(
        judgeRatio(rc, sio, (x) => x >= 1, floor),
        rc === null ? undefined : runs,
      );
    },
  },
  {
    id: 'cpu-per-publication',
    figure: 'server CPU per HTTP publication',
    target: '<= 0.35 ms',
    scenario: 'publish-cost',
    npm: 'npm run bench:publish-cost',
    unit: 'ms',
    baselineName: 'plain Socket.IO',
    floorName: 'node:http',
    limit: 0.35,
    measure: (r) => judgeWorseMode(r, 'cpuPerPublicationMs', num(summary(r, 'socketio').cpuPerPublicationMs), (x) => x <= 0.35),
  },
  {
    id: 'cpu-per-batch',
    figure: 'server CPU per POST /api/v1/batch of 100',
    target: '<= 5 ms',
    scenario: 'publish-cost',
    npm: 'npm run bench:publish-cost',
    unit: 'ms',
    baselineName: 'plain Socket.IO (no batch route)',
    floorName: 'node:http',
    limit: 5,
    measure: (r) => judgeWorseMode(r, 'cpuPerBatchMs', null, (x) => x <= 5),
  },
  ...(['P50', 'P99'] as const).map(
    (q): TargetDef => ({
      id: `redis-hop-${q.toLowerCase()}`,
      figure: `Redis hop ${q.toLowerCase()}, 500 HTTP publications/s, small rooms, 2 nodes`,
      target: `<= 1.5x plain Socket.IO + redis-adapter`,
      scenario: 'cross-node',
      npm: 'npm run bench:cross-node',
      unit: 'ms',
      baselineName: 'plain Socket.IO + redis-adapter',
      measure: (r) => {
        const nodes = num(obj(r.options).nodes) ?? 3;
        return withNote(
          judgeRatio(num(summary(r, 'roomcast')[`hop${q}`]), num(summary(r, 'socketio')[`hop${q}`]), (x) => x <= 1.5),
          nodes === 2 ? undefined : `measured over ${nodes} nodes`,
        );
      },
    }),
  ),
  {
    id: 'canary-publishing-node',
    figure: 'canary p99 on the publishing node at that load',
    target: '< 10 ms',
    scenario: 'cross-node',
    npm: 'npm run bench:cross-node',
    unit: 'ms',
    baselineName: '- (plain Socket.IO has no canary)',
    limit: 10,
    measure: (r) => {
      // Node 1 publishes; reports before issue 16 keep it per run only (canaryLoad[0]).
      const stored = num(summary(r, 'roomcast').canaryLoadPublisherP99);
      const fromRuns = medianResult({ ...r, results: arr(r.results).filter((x) => obj(x).target === 'roomcast' && obj(x).profiled !== true) }, (x) => num(obj(arr(x.canaryLoad)[0]).p99Ms));
      return judgeAbsolute(stored ?? fromRuns, null, (x) => x < 10);
    },
  },
  {
    id: 'drain',
    figure: 'drain of a node holding 15,000 clients: all recovered',
    target: 'within DRAIN_TIMEOUT_MS (30 s), 0 lost',
    scenario: 'reconnect-storm',
    npm: 'npm run bench:storm',
    unit: 's',
    baselineName: '- (plain Socket.IO has no drain)',
    measure: (r) => {
      const windowS = (num(obj(r.options).drainMs) ?? 30_000) / 1000;
      const recovered = medianResult(r, (x) => num(x.allRecoveredS));
      const lost = arr(r.results).reduce<number>((a, x) => a + (num(obj(obj(x).verdict).lost) ?? 0) + (num(obj(obj(x).verdict).duplicates) ?? 0), 0);
      const clients = num(obj(r.options).connections);
      const m = judgeAbsolute(recovered, null, (x) => x <= windowS && lost === 0);
      return withNote(m, recovered === null ? undefined : `${clients ?? '?'} clients, window ${windowS} s, lost + duplicated ${lost}`);
    },
  },
  {
    id: 'headline-p99',
    figure: '100,000 connections over 6 nodes: delivery p99',
    target: '< 250 ms, 0 lost (moonshot < 50 ms)',
    scenario: 'headline',
    npm: 'npm run bench:headline',
    unit: 'ms',
    baselineName: '-',
    limit: 250,
    measure: (r) => {
      const p99 = medianResult(r, (x) => num(x.p99));
      const lost = arr(r.results).reduce<number>((a, x) => a + (num(obj(obj(x).verdict).lost) ?? 0) + (num(obj(obj(x).verdict).duplicates) ?? 0), 0);
      const held = medianResult(r, (x) => num(x.connected));
      const m = judgeAbsolute(p99, null, (x) => x < 250 && lost === 0);
      return withNote(m, p99 === null ? undefined : `${held ?? '?'} held over ${num(obj(r.options).nodes) ?? '?'} nodes, lost + duplicated ${lost}; moonshot < 50 ms: ${p99 < 50 ? 'met' : 'missed'}`);
    },
  },
  {
    id: 'idle-cpu',
    figure: 'node CPU to hold 100,000 idle connections (no publications)',
    target: '<= 1.0x plain Socket.IO holding the same',
    scenario: 'idle-hold',
    npm: 'npm run bench:idle-hold',
    unit: '% of a core (all nodes)',
    baselineName: 'plain Socket.IO + redis-adapter',
    measure: (r) => {
      const held = num(summary(r, 'roomcast').connected);
      return withNote(
        judgeRatio(num(summary(r, 'roomcast').nodesCpuPct), num(summary(r, 'socketio').nodesCpuPct), (x) => x <= 1),
        held === null ? undefined : `${held} held over ${num(obj(r.options).nodes) ?? '?'} nodes`,
      );
    },
  },
  {
    id: 'ramp',
    figure: 'connection ramp, 100,000 over 6 nodes',
    target: '>= 1,000/s',
    scenario: 'headline',
    npm: 'npm run bench:headline',
    unit: 'connections/s',
    baselineName: '-',
    limit: 1000,
    measure: (r) => judgeAbsolute(medianResult(r, (x) => (num(x.connected) !== null && num(x.rampS) ? round((num(x.connected) ?? 0) / (num(x.rampS) ?? 1), 0) : null)), null, (x) => x >= 1000),
  },
  {
    id: 'publish-errors',
    figure: 'HTTP publications failing without an answer under load (headline)',
    target: '0',
    scenario: 'headline',
    npm: 'npm run bench:headline',
    unit: 'publications',
    baselineName: '-',
    measure: (r) => {
      if (!arr(r.results).some((x) => num(obj(x).publishErrors) !== null)) return NOT_MEASURED;
      const errors = arr(r.results).reduce<number>((a, x) => a + (num(obj(x).publishErrors) ?? 0), 0);
      const published = arr(r.results).reduce<number>((a, x) => a + (num(obj(x).published) ?? 0), 0);
      const first = arr(r.results)
        .map((x) => obj(x).firstPublishError)
        .find((e): e is string => typeof e === 'string');
      return { roomcast: errors, baseline: null, ratio: null, verdict: errors === 0 ? 'met' : 'missed', note: `${errors} of ${published}${first !== undefined ? `; first: "${first}"` : ''}` };
    },
  },
];

/** One row of the table: a target, its figures in its scenario's report, and the command that produced them. */
export interface TargetRow {
  def: TargetDef;
  measured: Measured;
  command: string | null;
  at: string | null;
}

export function targetRows(reports: ReadonlyMap<string, StoredReport>, defs: TargetDef[] = TARGETS_16): TargetRow[] {
  return defs.map((def) => {
    const report = reports.get(def.scenario);
    if (!report) return { def, measured: NOT_MEASURED, command: null, at: null };
    let measured: Measured;
    try {
      measured = def.measure(report);
    } catch (error) {
      // A report of an unexpected shape is "not measured", never a crash of the whole doc.
      measured = { ...NOT_MEASURED, note: `unreadable report: ${String(error)}` };
    }
    return { def, measured, command: report.command ?? null, at: report.at ?? null };
  });
}

const cell = (value: number | null | undefined, unit: string): string => (value === null || value === undefined ? 'n/a' : `${value} ${unit}`);

/** The Markdown table docs/performance.md shows at its top. */
export function targetsMarkdown(rows: TargetRow[]): string {
  const header = '| # | figure (issue 16) | target | Roomcast | baseline in the same run | floor | ratio to baseline | verdict | command |';
  const lines = rows.map((row, i) => {
    const { def, measured } = row;
    const verdict = measured.verdict === 'met' || measured.verdict === 'missed' ? `**${measured.verdict}**` : measured.verdict;
    const roomcast = measured.verdict === 'not measured' && measured.roomcast === null ? `not measured (no \`${def.scenario}\` report${row.command === null ? '' : ' with this figure'})` : cell(measured.roomcast, def.unit);
    const baseline = def.baselineName.startsWith('-') ? def.baselineName : `${def.baselineName}: ${cell(measured.baseline, def.unit)}`;
    const floor = def.floorName !== undefined ? `${def.floorName}: ${cell(measured.floor, def.unit)}` : '-';
    const ratio = measured.ratio !== null ? `${measured.ratio}x` : '-';
    const note = measured.note !== undefined ? ` (${measured.note})` : '';
    const command = row.command !== null ? `\`${row.command}\`` : `\`${def.npm}\``;
    return `| ${i + 1} | ${def.figure} | ${def.target} | ${roomcast}${note} | ${baseline} | ${floor} | ${ratio} | ${verdict} | ${command} |`;
  });
  return [header, `|${header.split('|').slice(1, -1).map(() => '---').join('|')}|`, ...lines].join('\n');
}

/** One before/after chart's data: each series' figure before and after. */
export interface BeforeAfter {
  id: string;
  title: string;
  unit: string;
  limit?: number;
  bars: Array<{ when: 'before issue 16' | 'after'; series: string; value: number }>;
}

export function beforeAfter(before: ReadonlyMap<string, StoredReport>, after: ReadonlyMap<string, StoredReport>, defs: TargetDef[] = TARGETS_16): BeforeAfter[] {
  const beforeRows = targetRows(before, defs);
  // A report that is the before one itself (same scenario, same time: the doc not yet regenerated) is no "after".
  const fresh = new Map([...after].filter(([scenario, report]) => report.at === undefined || before.get(scenario)?.at !== report.at));
  const afterRows = targetRows(fresh, defs);
  return defs.map((def, i) => {
    const bars: BeforeAfter['bars'] = [];
    for (const [when, row] of [['before issue 16', beforeRows[i]], ['after', afterRows[i]]] as const) {
      if (!row) continue;
      const { roomcast, baseline, floor } = row.measured;
      if (roomcast !== null) bars.push({ when, series: 'Roomcast', value: roomcast });
      if (baseline !== null && !def.baselineName.startsWith('-')) bars.push({ when, series: def.baselineName.replace(/ \(.*\)$/, ''), value: baseline });
      if (floor !== null && floor !== undefined && def.floorName !== undefined) bars.push({ when, series: def.floorName, value: floor });
    }
    return { id: def.id, title: `${def.figure} (${def.unit}), before and after issue 16`, unit: def.unit, ...(def.limit !== undefined ? { limit: def.limit } : {}), bars };
  });
}
