/**
 * What the cross-node scenario's report says, from its figures alone: latencies
 * and the Redis hop per target, CPU per process, Roomcast's ratios to plain
 * Socket.IO and its targets for the Redis hop and the canary. Kept apart from the
 * scenario so bench/report.ts can rebuild the text from a stored report's
 * `summaries` and `options` (a fix to the wording reaches docs/performance.md
 * without a new run).
 */
import { ratioText, table } from './harness.js';

/** Issue 16's target is over 2 nodes; reports written before it used 3 (their options carry no `nodes`). */
export const CROSS_NODE_DEFAULT_NODES = 2;
const NODES_BEFORE_ISSUE_16 = 3;
/** Issue 16: the Redis hop's p50 and p99, at most this many times plain Socket.IO + redis-adapter's. */
export const HOP_RATIO_TARGET = 1.5;
export const CANARY_P99_TARGET_MS = 10;

/** Per target, medians over runs (null: NaN read back from JSON). */
export interface CrossNodeTargetSummary {
  target: 'roomcast' | 'socketio';
  runs: number;
  publishedPerS: number | null;
  lost: number;
  sameP50: number | null;
  sameP99: number | null;
  remoteP50: number | null;
  remoteP99: number | null;
  hopP50: number | null;
  hopP99: number | null;
  /** Worst node per run, median over runs. */
  canaryIdleP50: number | null;
  canaryIdleP99: number | null;
  canaryLoadP50: number | null;
  canaryLoadP99: number | null;
  /** The publishing node's (node 1) canary p99 under load; absent in reports before issue 16. */
  canaryLoadPublisherP99?: number | null;
  cpuPct: Record<string, number | null>;
}

/** The options the summary quotes. */
export interface CrossNodeSummaryOptions {
  rooms: number;
  roomSize: number;
  rate: number;
  idleMs: number;
  loadMs: number;
  runs: number;
  nodes?: number;
}

const finite = (value: number | null): value is number => typeof value === 'number' && Number.isFinite(value);

const verdict = (ok: boolean | null, figure: number | null, unit = 'ms'): string => (ok === null || !finite(figure) ? 'n/a (not measured)' : `${ok ? 'met' : 'missed'} (${figure} ${unit})`);

/** Roomcast's targets (issue 16) for the Redis hop and the canary, judged (null: not measured). */
export function crossNodeTargets(summaries: CrossNodeTargetSummary[]): { markdown: string; met: Record<string, boolean | null> } {
  const rc = summaries.find((s) => s.target === 'roomcast');
  if (!rc) return { markdown: '', met: {} };
  const sio = summaries.find((s) => s.target === 'socketio');
  const hopRatio = (q: 'hopP50' | 'hopP99'): number | null => (sio && finite(rc[q]) && finite(sio[q]) && sio[q] > 0 ? Math.round((rc[q] / sio[q]) * 100) / 100 : null);
  const judge = (value: number | null | undefined, ok: (value: number) => boolean): boolean | null => (value !== undefined && finite(value) ? ok(value) : null);
  const p50 = hopRatio('hopP50');
  const p99 = hopRatio('hopP99');
  const publisher = rc.canaryLoadPublisherP99 ?? null;
  const met = {
    hopP50: judge(p50, (v) => v <= HOP_RATIO_TARGET),
    hopP99: judge(p99, (v) => v <= HOP_RATIO_TARGET),
    canaryLoadPublisherP99: judge(publisher, (v) => v < CANARY_P99_TARGET_MS),
    canaryIdleP99: judge(rc.canaryIdleP99, (v) => v < CANARY_P99_TARGET_MS),
  };
  const hop = (ok: boolean | null, value: number | null, q: 'hopP50' | 'hopP99'): string =>
    ok === null || value === null ? 'n/a (not measured, or no baseline)' : `${ok ? 'met' : 'missed'} (${value}x: ${rc[q]} vs ${sio?.[q]} ms)`;
  const markdown = table(
    ["Roomcast's target (issue 16)", 'Roomcast (median over runs)'],
    [
      [`Redis hop p50 <= ${HOP_RATIO_TARGET}x plain Socket.IO + redis-adapter`, hop(met.hopP50, p50, 'hopP50')],
      [`Redis hop p99 <= ${HOP_RATIO_TARGET}x plain Socket.IO + redis-adapter`, hop(met.hopP99, p99, 'hopP99')],
      [`canary lag p99 < ${CANARY_P99_TARGET_MS} ms under load on the publishing node`, verdict(met.canaryLoadPublisherP99, publisher)],
      [`canary lag p99 < ${CANARY_P99_TARGET_MS} ms at idle (worst node)`, verdict(met.canaryIdleP99, rc.canaryIdleP99)],
    ],
  );
  return { markdown, met };
}

const pair = (a: number | null, b: number | null): string => `${finite(a) ? a : 'n/a'} / ${finite(b) ? b : 'n/a'}`;

export function crossNodeSummaryMarkdown(summaries: CrossNodeTargetSummary[], options: CrossNodeSummaryOptions): string {
  const processes = [...new Set(summaries.flatMap((s) => Object.keys(s.cpuPct)))];
  const rc = summaries.find((s) => s.target === 'roomcast');
  const sio = summaries.find((s) => s.target === 'socketio');
  const lat = table(
    ['target', 'runs', 'published/s', 'lost', 'same-node p50 / p99 ms', 'remote p50 / p99 ms', 'Redis hop p50 / p99 ms', 'canary p50 / p99 idle ms', 'canary p50 / p99 load ms'],
    summaries.map((s) => [
      s.target,
      s.runs,
      s.publishedPerS,
      s.lost,
      pair(s.sameP50, s.sameP99),
      pair(s.remoteP50, s.remoteP99),
      pair(s.hopP50, s.hopP99),
      s.target === 'roomcast' ? pair(s.canaryIdleP50, s.canaryIdleP99) : '-',
      s.target === 'roomcast' ? pair(s.canaryLoadP50, s.canaryLoadP99) : '-',
    ]),
  );
  const cpu = table(['target', ...processes.map((p) => `${p} CPU %`)], summaries.map((s) => [s.target, ...processes.map((p) => (p in s.cpuPct ? s.cpuPct[p] : '-'))]));
  const versus = { baseline: 'plain Socket.IO', suffix: '' };
  const ratios =
    rc && sio
      ? table(
          ['Roomcast vs socketio', 'ratio'],
          [
            ['remote p99 latency', ratioText(rc.remoteP99, sio.remoteP99, versus)],
            ['Redis hop p50', ratioText(rc.hopP50, sio.hopP50, versus)],
            ['publishing node CPU', ratioText(rc.cpuPct.node1, sio.cpuPct.node1, versus)],
            ['redis-server CPU', ratioText(rc.cpuPct.redis, sio.cpuPct.redis, versus)],
          ],
        )
      : '';
  return [
    `${options.rooms} rooms x ${options.roomSize} members over ${options.nodes ?? NODES_BEFORE_ISSUE_16} nodes (member j of a room on node j mod ${options.nodes ?? NODES_BEFORE_ISSUE_16}), ${options.rate} publications/s over HTTP on node 1 for ${options.loadMs / 1000} s; medians over ${options.runs} run(s); canary: worst node, its last 30 probes, after ${options.idleMs / 1000} s idle and at the end of the loaded phase.`,
    '',
    lat,
    '',
    'CPU per process over the loaded phase (median over runs):',
    '',
    cpu,
    '',
    ratios,
    '',
    crossNodeTargets(summaries).markdown,
  ].join('\n');
}
