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
export const HOP_P50_TARGET_MS = 2;
export const HOP_P99_TARGET_MS = 5;
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

/** Roomcast's targets for the Redis hop and the canary, judged (null: not measured). */
export function crossNodeTargets(summaries: CrossNodeTargetSummary[]): { markdown: string; met: Record<string, boolean | null> } {
  const rc = summaries.find((s) => s.target === 'roomcast');
  if (!rc) return { markdown: '', met: {} };
  const judge = (value: number | null, ok: (value: number) => boolean): boolean | null => (finite(value) ? ok(value) : null);
  const met = {
    hopP50: judge(rc.hopP50, (v) => v <= HOP_P50_TARGET_MS),
    hopP99: judge(rc.hopP99, (v) => v <= HOP_P99_TARGET_MS),
    canaryIdleP99: judge(rc.canaryIdleP99, (v) => v < CANARY_P99_TARGET_MS),
    canaryLoadP99: judge(rc.canaryLoadP99, (v) => v < CANARY_P99_TARGET_MS),
  };
  const markdown = table(
    ["Roomcast's target", 'Roomcast (median over runs)'],
    [
      [`Redis hop p50 <= ${HOP_P50_TARGET_MS} ms`, verdict(met.hopP50, rc.hopP50)],
      [`Redis hop p99 <= ${HOP_P99_TARGET_MS} ms`, verdict(met.hopP99, rc.hopP99)],
      [`canary lag p99 < ${CANARY_P99_TARGET_MS} ms at idle (worst node)`, verdict(met.canaryIdleP99, rc.canaryIdleP99)],
      [`canary lag p99 < ${CANARY_P99_TARGET_MS} ms under load (worst node)`, verdict(met.canaryLoadP99, rc.canaryLoadP99)],
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
