/**
 * What the fan-out scenario's report says, from its figures alone: the summary
 * (medians per target, Roomcast's ratios to each baseline, the verdicts on its
 * targets). Kept apart from the scenario so bench/report.ts can rebuild the text
 * from a stored report's `summaries` (a fix to the wording reaches
 * docs/performance.md without a new run).
 */
import type { FanoutTarget } from './fanout-worker.js';
import { ratio, ratioText, table } from './harness.js';

/** Issue 16: server CPU per delivery, at most this many times plain Socket.IO's (bare ws shown as the floor). */
export const FANOUT_CPU_RATIO_TARGET = 1;
/** Issue 16: the highest rate with p99 <= 50 ms and nothing lost, at least this many times plain Socket.IO's. */
export const FANOUT_RATE_RATIO_TARGET = 1;

/** Per target, the medians over runs of the figures the targets are judged on (null: NaN read back from JSON). */
export interface FanoutTargetSummary {
  target: FanoutTarget;
  runs: number;
  connectMs: number | null;
  maxRateOk: number | null;
  maxRatesOk: Array<number | null>;
  cpuPerDeliveryUs: number | null;
}

const BASELINE_NAMES: Record<FanoutTarget, string> = { roomcast: 'Roomcast', 'bare-ws': 'bare ws', socketio: 'plain Socket.IO' };

const figure = (value: number | null): number => value ?? Number.NaN;

/** Roomcast's ratios to each baseline, as numbers for the JSON (NaN where one cannot be computed). */
export function fanoutRatios(summaries: FanoutTargetSummary[]): Array<{ baseline: FanoutTarget; cpuPerDeliveryRatio: number; maxRateRatio: number }> {
  const roomcast = summaries.find((r) => r.target === 'roomcast');
  if (!roomcast) return [];
  return summaries
    .filter((r) => r.target !== 'roomcast')
    .map((r) => ({
      baseline: r.target,
      cpuPerDeliveryRatio: ratio(figure(roomcast.cpuPerDeliveryUs), figure(r.cpuPerDeliveryUs)),
      maxRateRatio: ratio(figure(roomcast.maxRateOk), figure(r.maxRateOk)),
    }));
}

/** The same ratios as a Markdown table, `n/a (why)` where one cannot be computed. */
export function fanoutRatioTable(summaries: FanoutTargetSummary[]): string {
  const roomcast = summaries.find((r) => r.target === 'roomcast');
  const baselines = summaries.filter((r) => r.target !== 'roomcast');
  if (!roomcast || baselines.length === 0) return '';
  return table(
    ['Roomcast vs', `CPU per delivery ratio (target <= ${FANOUT_CPU_RATIO_TARGET} vs socketio)`, `max-rate ratio (target >= ${FANOUT_RATE_RATIO_TARGET} vs socketio)`],
    baselines.map((r) => [
      r.target,
      ratioText(roomcast.cpuPerDeliveryUs, r.cpuPerDeliveryUs, { baseline: BASELINE_NAMES[r.target], suffix: '' }),
      ratioText(roomcast.maxRateOk, r.maxRateOk, { baseline: BASELINE_NAMES[r.target], suffix: '' }),
    ]),
  );
}

export function fanoutSummaryTable(summaries: FanoutTargetSummary[]): string {
  return table(
    ['target', 'runs', 'median join time ms', 'highest rate with p99 <= 50 ms, nothing lost (median; per run)', 'median server µs/delivery'],
    summaries.map((s) => [s.target, s.runs, s.connectMs, `${s.maxRateOk ?? 'n/a'} (${s.maxRatesOk.map((rate) => rate ?? 'n/a').join(', ')})`, s.cpuPerDeliveryUs]),
  );
}

/** `met` / `missed` on a ratio, `not judged` when the ratio cannot be computed. */
function verdict(value: number, ok: (value: number) => boolean): string {
  return Number.isFinite(value) ? (ok(value) ? 'met' : 'missed') : 'not judged';
}

/** The summary docs/performance.md shows: the table of medians, then one line per target. */
export function fanoutSummaryMarkdown(summaries: FanoutTargetSummary[]): string {
  const roomcast = summaries.find((r) => r.target === 'roomcast');
  const bare = summaries.find((r) => r.target === 'bare-ws');
  const sio = summaries.find((r) => r.target === 'socketio');
  const lines: string[] = [];
  if (roomcast && sio) {
    const value = ratio(figure(roomcast.cpuPerDeliveryUs), figure(sio.cpuPerDeliveryUs));
    const floor = bare ? `; floor: ${ratioText(roomcast.cpuPerDeliveryUs, bare.cpuPerDeliveryUs, { baseline: BASELINE_NAMES['bare-ws'] })} bare ws` : '';
    lines.push(
      `- Server CPU per delivery against plain Socket.IO (target <= ${FANOUT_CPU_RATIO_TARGET}x): ${ratioText(roomcast.cpuPerDeliveryUs, sio.cpuPerDeliveryUs, { baseline: BASELINE_NAMES.socketio })}, ${verdict(value, (r) => r <= FANOUT_CPU_RATIO_TARGET)}${floor}`,
    );
    const rate = ratio(figure(roomcast.maxRateOk), figure(sio.maxRateOk));
    // A 0 baseline has no ratio: say which is ahead instead.
    const zero = sio.maxRateOk === 0 && roomcast.maxRateOk !== null ? (roomcast.maxRateOk > 0 ? `, met (Roomcast ${roomcast.maxRateOk}/s, plain Socket.IO 0/s)` : ', not judged (both 0/s)') : null;
    lines.push(
      `- Highest fan-out rate with p99 <= 50 ms against plain Socket.IO (target >= ${FANOUT_RATE_RATIO_TARGET}x): ${ratioText(roomcast.maxRateOk, sio.maxRateOk, { baseline: BASELINE_NAMES.socketio })}${zero ?? `, ${verdict(rate, (r) => r >= FANOUT_RATE_RATIO_TARGET)}`}`,
    );
  }
  return [fanoutSummaryTable(summaries), '', ...lines].join('\n');
}
