/**
 * What the publish-cost scenario's report says, from its figures alone (kept
 * apart from the scenario so bench/report.ts can rebuild the text from a stored
 * report's `summaries` without running the benchmark again).
 */
import { ratioText, table } from './harness.js';

export const PUBLISH_TARGETS = ['roomcast', 'roomcast-redis', 'socketio', 'http-floor'] as const;
export type PublishTarget = (typeof PUBLISH_TARGETS)[number];
/** Issue 16: server CPU per HTTP publication, ms. */
export const PUBLICATION_CPU_TARGET_MS = 0.35;
/** Issue 16: server CPU per POST /api/v1/batch of 100 publications, ms. */
export const BATCH_CPU_TARGET_MS = 5;
/** Publications per batch request. */
export const BATCH_SIZE = 100;

export interface PublishCostSummary {
  target: PublishTarget;
  runs: number;
  /** Medians over runs (null: NaN read back from JSON, or no batch route). */
  cpuPerPublicationMs: number | null;
  cpuPerPublicationRuns: Array<number | null>;
  publicationsPerS: number | null;
  cpuPerBatchMs: number | null;
  cpuPerBatchRuns: Array<number | null>;
  errors: number;
  firstError: string | null;
}

const finite = (value: number | null | undefined): value is number => typeof value === 'number' && Number.isFinite(value);

/** The summary docs/performance.md shows (bench/report.ts rebuilds it from `summaries`). */
export function publishCostSummaryMarkdown(summaries: PublishCostSummary[]): string {
  const rc = summaries.find((s) => s.target === 'roomcast');
  const floor = summaries.find((s) => s.target === 'http-floor');
  const sio = summaries.find((s) => s.target === 'socketio');
  const list = (values: Array<number | null>): string => values.map((v) => v ?? 'n/a').join(', ');
  const rows = table(
    ['target', 'runs', 'server CPU ms / publication (median; per run)', 'publications/s', 'server CPU ms / batch of 100 (median; per run)', 'errors'],
    summaries.map((s) => [
      s.target,
      s.runs,
      `${s.cpuPerPublicationMs ?? 'n/a'} (${list(s.cpuPerPublicationRuns)})`,
      s.publicationsPerS,
      s.cpuPerBatchMs === null ? '- (no batch route)' : `${s.cpuPerBatchMs} (${list(s.cpuPerBatchRuns)})`,
      s.errors === 0 ? 0 : `${s.errors} (first: ${s.firstError ?? '?'})`,
    ]),
  );
  const judged = (value: number | null | undefined, max: number): string => (finite(value) ? (value <= max ? '**met**' : '**missed**') : 'not measured');
  const lines = [
    `- Server CPU per HTTP publication (target <= ${PUBLICATION_CPU_TARGET_MS} ms): ${rc?.cpuPerPublicationMs ?? 'n/a'} ms, ${judged(rc?.cpuPerPublicationMs, PUBLICATION_CPU_TARGET_MS)}; ${ratioText(rc?.cpuPerPublicationMs, sio?.cpuPerPublicationMs, { baseline: 'plain Socket.IO' })} plain Socket.IO, ${ratioText(rc?.cpuPerPublicationMs, floor?.cpuPerPublicationMs, { baseline: 'the node:http floor' })} the node:http floor`,
    `- Server CPU per POST /api/v1/batch of ${BATCH_SIZE} (target <= ${BATCH_CPU_TARGET_MS} ms): ${rc?.cpuPerBatchMs ?? 'n/a'} ms, ${judged(rc?.cpuPerBatchMs, BATCH_CPU_TARGET_MS)}`,
  ];
  return [rows, '', ...lines].join('\n');
}

