/**
 * The end of a run: the table on stdout and the JSON report on disk.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultRecord } from './faults.js';
import type { HistoryAudit } from './history-audit.js';
import type { Verdict } from './ledger.js';
import type { ChaosOptions } from './options.js';
import type { PublisherStats } from './publishers.js';
import type { RecoveryEpisode } from './subscribers.js';

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
  profile: string;
  seed: number;
  command: string;
  startedAt: string;
  /** Wall-clock time (ms since 1970) of t=0, the start of publishing: to line up times here with the gateway and NGINX logs. */
  originEpochMs: number;
  durationMs: number;
  options: ChaosOptions;
  passed: boolean;
  /** Why the run failed besides the figures (a fault that could not run, a timeout). */
  failures: string[];
  totals: Verdict['totals'];
  recovery: RecoveryStats;
  publishers: PublisherStats;
  /** Refused publications by answer and by the fault running when they were sent. */
  refusedBy: Record<string, number>;
  catchUp: { reached: boolean; ms: number; lagging: unknown[] };
  /** Redis read directly after the run; null when it could not be read. */
  historyAudit: HistoryAudit | null;
  faults: FaultRecord[];
  rooms: Verdict['rooms'];
  problems: unknown[];
  clients: { total: number; websocketOnly: number; inTwoRooms: number; errors: Record<string, number> };
  nginx: { errorLogTail: string };
  /** Every client's connection timeline (states, nodes, cuts, drains, rejoins), times in ms after publishing started. */
  timelines: Record<string, { transport: string; rooms: readonly string[]; events: string[] }>;
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

export function formatTable(report: ChaosReport): string {
  const t = report.totals;
  const r = report.recovery;
  const o = report.options;
  const a = report.historyAudit;
  const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`);
  const drains = report.faults.flatMap((fault) => fault.drains ?? []);
  const rows: Array<[string, string | number, string?]> = [
    ['published', t.published, '2xx answers: stored'],
    ['refused', t.refused, `error answers: not stored, not retried (${Object.entries(report.refusedBy).map(([why, count]) => `${count} ${why}`).join(', ') || 'none'})`],
    ['unknown', t.unknown, 'no answer even after retries with the same key'],
    ['retried', t.noAnswerAttempts + t.unreachableAttempts, `attempts sent again to another node: ${t.noAnswerAttempts} without answer, ${t.unreachableAttempts} node down`],
    ['expected', t.expected, 'deliveries: each stored offset after the join, to each member'],
    ['delivered', t.delivered],
    ['lost', t.lost],
    ['duplicated', t.duplicated],
    ['reordered', t.reordered],
    ['recovered:false', t.recoveredFalse, 'gap events'],
    ['refused delivered', t.refusedDelivered, 'deliveries of a publication answered with an error'],
    ['mismatched', t.mismatched, 'deliveries whose data is not what the 2xx answer gave that offset'],
    ['new epochs', t.roomsWithNewEpoch, 'rooms whose history restarted'],
    ['history audit', a === null ? 'n/a' : a.ok ? 'ok' : 'DIFF', a === null ? 'Redis could not be read' : `${a.entries} entries; acknowledged missing ${a.acknowledgedMissing}, stored but refused ${a.storedRefused}, stored but unanswered ${a.storedUnknown}, stored elsewhere ${a.storedElsewhere}, holes ${a.holes}`],
    ['drains', `${drains.filter((drain) => drain.clean).length}/${drains.length}`, `SIGTERMs that exited 0 within DRAIN_TIMEOUT_MS; slowest ${Math.max(0, ...drains.map((drain) => drain.tookMs))} ms`],
    ['disconnects', r.disconnects, Object.entries(r.byCause).map(([cause, count]) => `${cause} ${count}`).join(', ')],
    ['recovery p50', ms(r.p50Ms), 'disconnect -> connected again with every room rejoined'],
    ['recovery p99', ms(r.p99Ms), `max ${ms(r.maxMs)}, never recovered ${r.unfinished}`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  const lines = [
    `chaos ${report.profile}: seed ${report.seed}, ${o.seconds} s, ${o.nodes} nodes + NGINX + Redis (AOF), ${report.clients.total} clients in ${o.rooms} rooms ` +
      `(${report.clients.inTwoRooms} in two, ${report.clients.websocketOnly} WebSocket-only), ${o.rate} publications/s by ${o.publishers} publishers`,
    '',
    ...rows.map(([name, value, note]) => `  ${name.padEnd(width)}  ${String(value).padStart(valueWidth)}${note === undefined || note === '' ? '' : `   ${note}`}`),
    '',
    `  catch-up: ${report.catchUp.reached ? `every client reached every room's last offset in ${report.catchUp.ms} ms` : `NOT reached after ${report.catchUp.ms} ms (${report.catchUp.lagging.length} client-rooms behind)`}`,
    `  faults (seconds after publishing started):`,
    ...report.faults.map(
      (fault) =>
        `    ${(fault.startedAt / 1000).toFixed(1).padStart(5)}-${fault.endedAt === undefined ? '?' : (fault.endedAt / 1000).toFixed(1).padEnd(5)} ${fault.kind.padEnd(7)} ${fault.target}${fault.error === undefined ? '' : `  ERROR: ${fault.error}`}`,
    ),
    ...(report.failures.length === 0 ? [] : ['', ...report.failures.map((failure) => `  FAILURE: ${failure}`)]),
    '',
    `verdict: ${report.passed ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(0)} s (reproduce: ${report.command})`,
  ];
  return lines.join('\n');
}

export async function writeReport(report: ChaosReport): Promise<string> {
  await mkdir(report.options.artifactsDir, { recursive: true });
  const path = join(report.options.artifactsDir, `chaos-${report.profile}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
