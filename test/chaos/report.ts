/**
 * The end of a run: the table on stdout, a one-line summary, and the JSON report on disk.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeHandOver, type ChurnStats } from './churn.js';
import type { LossSummary } from './diagnostics.js';
import type { FaultRecord } from './faults.js';
import type { HistoryAudit } from './history-audit.js';
import type { Verdict } from './ledger.js';
import type { ChaosOptions } from './options.js';
import type { ProbeResult } from './probe.js';
import type { PublisherStats } from './publishers.js';
import type { RecoveryEpisode } from './consumers.js';

export interface RecoveryStats {
  disconnects: number;
  recovered: number;
  /** Episodes still open when the run ended. */
  unfinished: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  byCause: Record<string, number>;
}

export interface ChaosReport {
  /** chaos-<topology>-<profile>[-<label>]: the report's and the logs' name. */
  name: string;
  profile: string;
  topology: string;
  durability: string;
  /** Whether a fault of the run can lose data (new epochs and gaps with them allowed). */
  lossAllowed: boolean;
  seed: number;
  command: string;
  startedAt: string;
  /** Wall-clock time (ms since 1970) of t=0, the start of publishing: to line up times here with the gateway and NGINX logs. */
  originEpochMs: number;
  durationMs: number;
  options: ChaosOptions;
  passed: boolean;
  /** Why the run failed: the verdict's broken rules, then the rest (a fault that could not run, a timeout, the probe, the audit). */
  failures: string[];
  totals: Verdict['totals'];
  recovery: RecoveryStats;
  publishers: PublisherStats;
  /** Refused publications by answer and by the fault running when they were sent. */
  refusedBy: Record<string, number>;
  /** reached: every consumer at its rooms' last offsets, within catchUpMs after the publishers stopped (ms) and again after the probe. */
  catchUp: { reached: boolean; ms: number; afterPublishers: boolean; afterProbe: boolean; lagging: unknown[] };
  probe: ProbeResult | null;
  /** The churn fault's hand-overs and their checks; null without churn. */
  churn: ChurnStats | null;
  /** Redis read directly after the run; null when it could not be read or there is no Redis (see historyAuditSkipped). */
  historyAudit: HistoryAudit | null;
  historyAuditSkipped?: string;
  faults: FaultRecord[];
  rooms: Verdict['rooms'];
  /** Silent loss by room, by the consumer's node, by the publishing node. */
  loss: LossSummary;
  problems: unknown[];
  consumers: {
    /** Churn rooms of the run (0 without the churn fault). */
    churnRooms: number;
    sdk: number;
    sse: number;
    churn: number;
    websocketOnly: number;
    inTwoRooms: number;
    memberships: number;
    errors: Record<string, number>;
  };
  nginx: { errorLogTail: string };
  /** Every consumer's connection timeline (states, nodes, cuts, drains, joins, leaves, rejoins), times in ms after publishing started. */
  timelines: Record<string, { kind: string; transport: string; node?: string; rooms: readonly string[]; events: string[] }>;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? null;
}

export function recoveryStats(episodes: readonly RecoveryEpisode[]): RecoveryStats {
  const durations = episodes
    .filter((episode) => episode.end !== undefined)
    .map((episode) => (episode.end as number) - episode.start)
    .sort((a, b) => a - b);
  const byCause: Record<string, number> = {};
  for (const episode of episodes) byCause[episode.cause] = (byCause[episode.cause] ?? 0) + 1;
  return {
    disconnects: episodes.length,
    recovered: durations.length,
    unfinished: episodes.length - durations.length,
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    maxMs: durations.at(-1) ?? null,
    byCause,
  };
}

/** The run in one line: what CI prints per run. */
export function summaryLine(report: Pick<ChaosReport, 'name' | 'passed' | 'totals' | 'seed'>): string {
  const t = report.totals;
  return (
    `${report.name}: ${report.passed ? 'PASS' : 'FAIL'} (seed ${report.seed})  published ${t.published}  delivered ${t.delivered}  silent lost ${t.lost}  gapped ${t.gapped}` +
    `  duplicated ${t.duplicated}  reordered ${t.reordered}  recovered:false ${t.recoveredFalse}`
  );
}

export function formatTable(report: ChaosReport): string {
  const t = report.totals;
  const r = report.recovery;
  const o = report.options;
  const a = report.historyAudit;
  const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`);
  const drains = report.faults.flatMap((fault) => fault.drains ?? []);
  const allowed = report.lossAllowed ? 'allowed: a fault can lose data' : 'must be 0: no fault can lose data';
  const probe = report.probe;
  const rows: Array<[string, string | number, string?]> = [
    ['published', t.published, '2xx answers: stored'],
    ['refused', t.refused, `error answers: not stored, not retried (${Object.entries(report.refusedBy).map(([why, count]) => `${count} ${why}`).join(', ') || 'none'})`],
    ['unknown', t.unknown, 'no answer even after retries with the same key'],
    ['retried', t.noAnswerAttempts + t.unreachableAttempts, `attempts sent again to another node: ${t.noAnswerAttempts} without answer, ${t.unreachableAttempts} node down`],
    ['expected', t.expected, 'deliveries: each stored offset after the join, to each membership (SDK and SSE)'],
    ['delivered', t.delivered],
    ['silent lost', t.lost, 'expected, never delivered, in no gap the consumer was told about'],
    ['gapped', t.gapped, `expected, not delivered, inside a reported gap (${allowed})`],
    ['duplicated', t.duplicated],
    ['reordered', t.reordered],
    ['recovered:false', t.recoveredFalse, `gap events (SDK gap, SSE recovered:false); not allowed: ${t.unjustifiedGaps}`],
    ['refused delivered', t.refusedDelivered, 'deliveries of a publication answered with an error'],
    ['mismatched', t.mismatched, 'deliveries whose data is not what the 2xx answer gave that offset'],
    ['reused offsets', t.reused, 'offsets answered 2xx for two publications in one epoch'],
    ['lost-epoch', t.lostEpochDeliveries, `deliveries in an epoch then lost, stored again by the retry (${allowed})`],
    ['new epochs', t.roomsWithNewEpoch, `rooms whose history restarted (${allowed})`],
    ['probe stalls', probe === null ? 'n/a' : probe.stalls.length, probe === null ? 'not run' : `each node published in every room in turn; members that did not get it within ${o.probeWaitMs} ms (${probe.steps.map((step) => `via ${step.via}: ${step.stalls}`).join(', ')})`],
    [
      'churn stalls',
      report.churn === null ? 'n/a' : report.churn.stalls.length,
      report.churn === null
        ? 'no churn fault'
        : `hand-overs whose new holder did not get a publication made on another node within ${o.checkMs} ms (${report.churn.checks} checked of ${report.churn.handovers}; slowest pass ${report.churn.slowestCheckMs} ms)`,
    ],
    [
      'history audit',
      a === null ? (report.historyAuditSkipped === undefined ? 'n/a' : 'skip') : a.ok ? 'ok' : 'DIFF',
      a === null
        ? (report.historyAuditSkipped ?? 'Redis could not be read')
        : `${a.entries} entries; acknowledged missing ${a.acknowledgedMissing}, lost with an epoch ${a.lostWithEpoch}, stored but refused ${a.storedRefused}, stored but unanswered ${a.storedUnknown}, stored elsewhere ${a.storedElsewhere}, holes ${a.holes}`,
    ],
    ['drains', `${drains.filter((drain) => drain.clean).length}/${drains.length}`, `SIGTERMs that exited 0 within DRAIN_TIMEOUT_MS; slowest ${Math.max(0, ...drains.map((drain) => drain.tookMs))} ms`],
    ['disconnects', r.disconnects, Object.entries(r.byCause).map(([cause, count]) => `${cause} ${count}`).join(', ')],
    ['recovery p50', ms(r.p50Ms), 'disconnect -> connected again with every room rejoined (SSE: stream open again)'],
    ['recovery p99', ms(r.p99Ms), `max ${ms(r.maxMs)}, never recovered ${r.unfinished}`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  const redis = report.topology === 'memory' ? 'no Redis' : report.topology === 'cluster' ? 'Redis Cluster (3 masters, AOF always)' : 'Redis (AOF always)';
  const c = report.consumers;
  const loss = report.loss;
  const lines = [
    `${report.name}: seed ${report.seed}, ${o.seconds} s, ${o.nodes} node${o.nodes === 1 ? '' : 's'} + NGINX + ${redis}${report.topology === 'memory' ? '' : `, REDIS_DURABILITY=${report.durability}`}; ` +
      `${c.sdk} SDK clients (${c.inTwoRooms} in two rooms, ${c.websocketOnly} WebSocket-only) and ${c.sse} SSE streams through NGINX, ${c.churn} churn consumers; ` +
      `${o.rooms} rooms + ${c.churnRooms} churn rooms, ${c.memberships} memberships; ${o.rate} publications/s by ${o.publishers} publishers`,
    '',
    ...rows.map(([name, value, note]) => `  ${name.padEnd(width)}  ${String(value).padStart(valueWidth)}${note === undefined || note === '' ? '' : `   ${note}`}`),
    '',
    `  catch-up: ${
      report.catchUp.reached
        ? `every consumer reached every room's last offset in ${report.catchUp.ms} ms, and again after the probe`
        : `NOT reached (after the publishers stopped: ${report.catchUp.afterPublishers ? 'yes' : 'no'}, waited ${report.catchUp.ms} ms; after the probe: ${report.catchUp.afterProbe ? 'yes' : 'no'}; ${report.catchUp.lagging.length} consumer-rooms behind)`
    }`,
    ...(t.lost === 0
      ? []
      : [
          `  silent loss by consumer node: ${fmt(loss.byConsumerNode)}; by publishing node: ${fmt(loss.byPublishingNode)}; by kind: ${fmt(loss.byKind)}`,
          `  silent loss by room: ${fmt(loss.byRoom)}`,
          ...loss.lines.slice(0, 12).map((line) => `    ${line}`),
          ...(loss.lines.length > 12 ? [`    ... ${loss.lines.length - 12} more memberships (see the report)`] : []),
        ]),
    ...(probe === null || probe.stalls.length === 0
      ? []
      : [
          `  probe stalls (room, published via -> consumer on node, where it stood):`,
          ...probe.stalls.slice(0, 12).map((stall) => `    ${stall.room} via ${stall.via} ${stall.epoch}:${stall.offset} -> ${stall.consumer} (${stall.kind}) on ${stall.node}, at ${stall.position}`),
          ...(probe.stalls.length > 12 ? [`    ... ${probe.stalls.length - 12} more`] : []),
        ]),
    ...(report.churn === null || report.churn.stalls.length === 0
      ? []
      : [`  churn stalls (the hand-over, then the check publication the new holder never got):`, ...report.churn.stalls.slice(0, 12).map((stall) => `    ${describeHandOver(stall)}`)]),
    `  faults (seconds after publishing started):`,
    ...report.faults.map(
      (fault) =>
        `    ${(fault.startedAt / 1000).toFixed(1).padStart(5)}-${fault.endedAt === undefined ? '?' : (fault.endedAt / 1000).toFixed(1).padEnd(5)} ${fault.kind.padEnd(8)} ${fault.target}${fault.error === undefined ? '' : `  ERROR: ${fault.error}`}`,
    ),
    ...(report.failures.length === 0 ? [] : ['', ...report.failures.map((failure) => `  FAILURE: ${failure}`)]),
    '',
    `verdict: ${report.passed ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(0)} s (reproduce: ${report.command})`,
  ];
  return lines.join('\n');
}

function fmt(record: Record<string, number>): string {
  return Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
}

export async function writeReport(report: ChaosReport): Promise<string> {
  await mkdir(report.options.artifactsDir, { recursive: true });
  const path = join(report.options.artifactsDir, `${report.name}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
