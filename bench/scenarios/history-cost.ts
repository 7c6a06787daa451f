/**
 * Scenario 6, the cost of guarantees: Roomcast with history on (HISTORY_SIZE=1000,
 * the default) against history off (HISTORY_SIZE=0: offsets still assigned, no
 * entries kept), at the same load, on one node in memory mode and on one node
 * with REDIS_URL (a redis-server started here on a free port, fresh per
 * configuration). Load: `--members` connections spread over `--rooms` rooms,
 * publications over the HTTP API at `--rate` per second round-robin over the
 * rooms, a warm-up step then `--steps` measured steps of `--step-s` seconds,
 * each drained until every member has every publication.
 *
 * Per step: deliveries, p50/p99 latency (HTTP publish to delivery), lost,
 * server CPU per delivery and per publication, redis-server CPU. Per
 * configuration the median over steps, then medians over `--runs` (on/off
 * order alternates per run). Target: history on costs <= 15% more
 * server CPU per delivery than off, judged per mode.
 *
 *   npm run bench:history-cost -- [--modes memory,redis] [--members 500] [--rooms 50]
 *     [--rate 200] [--steps 3] [--step-s 8] [--workers 2] [--runs 3] [--smoke]
 *
 * Output: tables on stdout, JSON + Markdown in bench/reports/.
 */
import { processCpuSeconds } from '../lib/proc-cpu.js';
import { LatencyHistogram } from '../lib/lean-client.js';
import type { RoomsWorkerStart } from '../lib/rooms-worker.js';
import { drainAndCollect, expectedDeliveries, httpPublisher, mergeClasses, publishPhase, startRoomsWorkers } from '../lib/rooms-run.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { medianOf, reportHeader, runScenario } from '../lib/scenario-runner.js';
import {
  BENCH_JWT_SECRET,
  median,
  ratio,
  round,
  sleep,
  sourceAddresses,
  startTarget,
  stopServer,
  stopWorkers,
  table,
  type ChartSpec,
  type ServerHandle,
  type WorkerHandle,
} from '../lib/harness.js';

type Mode = 'memory' | 'redis';
const MODES: readonly Mode[] = ['memory', 'redis'];
const TARGET_OVERHEAD = 0.15;
const HISTORY_ON = '1000';

interface Options {
  modes: Mode[];
  members: number;
  rooms: number;
  rate: number;
  steps: number;
  stepMs: number;
  warmMs: number;
  workers: number;
  runs: number;
  stallMs: number;
  drainMaxMs: number;
  smoke: boolean;
}

interface StepResult {
  published: number;
  pubErrors: number;
  deliveries: number;
  lost: number;
  p50: number;
  p99: number;
  serverCpuPct: number;
  serverCpuPerDeliveryUs: number;
  serverCpuPerPublicationUs: number;
  redisCpuPct: number;
  redisCpuPerDeliveryUs: number;
}

interface ConfigRun {
  mode: Mode;
  history: boolean;
  run: number;
  connected: number;
  steps: StepResult[];
  /** medians over the measured steps */
  cpuPerDeliveryUs: number;
  cpuPerPublicationUs: number;
  serverCpuPct: number;
  redisCpuPct: number;
  redisCpuPerDeliveryUs: number;
  p50: number;
  p99: number;
  lost: number;
  pubErrors: number;
}

function roomName(r: number): string {
  return `bench:h${r}`;
}

async function runConfig(mode: Mode, history: boolean, options: Options, run: number): Promise<ConfigRun> {
  const label = `${mode} history ${history ? 'on' : 'off'} run ${run + 1}`;
  let redis: RedisProcess | null = null;
  let server: ServerHandle | null = null;
  let workers: WorkerHandle[] = [];
  const publisher: { close(): void }[] = [];
  try {
    if (mode === 'redis') redis = await startRedis();
    server = await startTarget('roomcast', { env: { HISTORY_SIZE: history ? HISTORY_ON : '0', ...(redis ? { REDIS_URL: redis.url } : {}) } });
    // Members spread evenly over the rooms; rooms split over the workers.
    const membersPerRoom: Record<string, number> = {};
    for (let m = 0; m < options.members; m++) membersPerRoom[roomName(m % options.rooms)] = (membersPerRoom[roomName(m % options.rooms)] ?? 0) + 1;
    const starts: RoomsWorkerStart[] = Array.from({ length: options.workers }, (_, w) => ({
      type: 'start',
      target: 'roomcast',
      groups: Object.entries(membersPerRoom)
        .filter((_entry, r) => r % options.workers === w)
        .map(([room, count]) => ({ url: server?.url ?? '', room, count, cls: 'member' })),
      addresses: sourceAddresses(w),
      jwtSecret: BENCH_JWT_SECRET,
      subPrefix: `hist-w${w}`,
    }));
    const started = await startRoomsWorkers(
      starts.filter((s) => s.groups.length > 0),
      `${label}: joining`,
    );
    workers = started.workers;
    const http = httpPublisher('roomcast', server.url);
    publisher.push(http);
    const stream = { rate: options.rate, room: (seq: number) => roomName(seq % options.rooms) };
    const seqBase = { next: 0 };
    const steps: StepResult[] = [];
    // Phase 0 warms up the JIT and the connections; not counted.
    for (let phase = 0; phase <= options.steps; phase++) {
      const durationMs = phase === 0 ? options.warmMs : options.stepMs;
      const cpu0 = processCpuSeconds(server.pid);
      const redisCpu0 = redis ? processCpuSeconds(redis.pid) : 0;
      const began = performance.now();
      const outcome = await publishPhase(http, [stream], phase, durationMs, seqBase);
      const wanted = expectedDeliveries(outcome.published, membersPerRoom);
      const stats = await drainAndCollect(workers, phase, outcome.published, wanted, options.stallMs, options.drainMaxMs);
      const wall = (performance.now() - began) / 1000;
      const serverCpu = processCpuSeconds(server.pid) - cpu0;
      const redisCpu = redis ? processCpuSeconds(redis.pid) - redisCpu0 : 0;
      const merged = mergeClasses(stats).get('member');
      const h = merged?.histogram ?? new LatencyHistogram();
      const deliveries = merged?.received ?? 0;
      const published = Object.values(outcome.published).reduce((a, b) => a + b, 0);
      if (phase === 0) continue;
      const step: StepResult = {
        published,
        pubErrors: outcome.errors,
        deliveries,
        lost: merged?.lost ?? wanted,
        p50: round(h.quantile(0.5)),
        p99: round(h.quantile(0.99)),
        serverCpuPct: round((serverCpu / wall) * 100),
        serverCpuPerDeliveryUs: deliveries > 0 ? round((serverCpu / deliveries) * 1e6) : Number.NaN,
        serverCpuPerPublicationUs: published > 0 ? round((serverCpu / published) * 1e6) : Number.NaN,
        redisCpuPct: round((redisCpu / wall) * 100),
        redisCpuPerDeliveryUs: deliveries > 0 ? round((redisCpu / deliveries) * 1e6, 3) : Number.NaN,
      };
      steps.push(step);
      process.stderr.write(
        `  ${label} step ${phase}: ${published} published, ${deliveries} deliveries, lost ${step.lost}, p50 ${step.p50} p99 ${step.p99} ms, ` +
          `server ${step.serverCpuPct}% (${step.serverCpuPerDeliveryUs} µs/delivery)${redis ? `, redis ${step.redisCpuPct}%` : ''}\n`,
      );
    }
    return {
      mode,
      history,
      run,
      connected: started.connected,
      steps,
      cpuPerDeliveryUs: round(median(steps.map((s) => s.serverCpuPerDeliveryUs))),
      cpuPerPublicationUs: round(median(steps.map((s) => s.serverCpuPerPublicationUs))),
      serverCpuPct: round(median(steps.map((s) => s.serverCpuPct))),
      redisCpuPct: round(median(steps.map((s) => s.redisCpuPct))),
      redisCpuPerDeliveryUs: round(median(steps.map((s) => s.redisCpuPerDeliveryUs)), 3),
      p50: round(median(steps.map((s) => s.p50))),
      p99: round(median(steps.map((s) => s.p99))),
      lost: steps.reduce((a, s) => a + s.lost, 0),
      pubErrors: steps.reduce((a, s) => a + s.pubErrors, 0),
    };
  } finally {
    for (const p of publisher) p.close();
    await stopWorkers(workers);
    if (server) await stopServer(server);
    await redis?.stop();
  }
}

// ---------- summary

interface ConfigSummary {
  mode: Mode;
  history: boolean;
  runs: number;
  cpuPerDeliveryUs: number;
  cpuPerDeliveryRuns: number[];
  cpuPerPublicationUs: number;
  serverCpuPct: number;
  redisCpuPct: number;
  redisCpuPerDeliveryUs: number;
  p50: number;
  p99: number;
  lost: number;
  pubErrors: number;
}

interface ModeVerdict {
  mode: Mode;
  onOffCpuRatio: number;
  overheadPct: number;
  met: boolean | null;
  redisOnOffCpuRatio: number;
  /** on/off of each run (the two ran back to back): how far the machine's noise moves the ratio */
  perRunRatios: number[];
}

function summarize(results: ConfigRun[], options: Options): ConfigSummary[] {
  return options.modes.flatMap((mode) =>
    [true, false].map((history) => {
      const mine = results.filter((r) => r.mode === mode && r.history === history);
      const m = (f: (r: ConfigRun) => number, digits = 2): number => medianOf(mine, f, digits);
      return {
        mode,
        history,
        runs: mine.length,
        cpuPerDeliveryUs: m((r) => r.cpuPerDeliveryUs),
        cpuPerDeliveryRuns: mine.map((r) => r.cpuPerDeliveryUs),
        cpuPerPublicationUs: m((r) => r.cpuPerPublicationUs, 1),
        serverCpuPct: m((r) => r.serverCpuPct, 1),
        redisCpuPct: m((r) => r.redisCpuPct, 1),
        redisCpuPerDeliveryUs: m((r) => r.redisCpuPerDeliveryUs, 3),
        p50: m((r) => r.p50),
        p99: m((r) => r.p99),
        lost: mine.reduce((a, r) => a + r.lost, 0),
        pubErrors: mine.reduce((a, r) => a + r.pubErrors, 0),
      };
    }),
  );
}

function verdicts(summaries: ConfigSummary[], results: ConfigRun[], modes: Mode[]): ModeVerdict[] {
  return modes.map((mode) => {
    const runs = [...new Set(results.map((r) => r.run))];
    const perRunRatios = runs.map((run) => {
      const of = (history: boolean): number => results.find((r) => r.mode === mode && r.history === history && r.run === run)?.cpuPerDeliveryUs ?? Number.NaN;
      return ratio(of(true), of(false));
    });
    const on = summaries.find((s) => s.mode === mode && s.history);
    const off = summaries.find((s) => s.mode === mode && !s.history);
    const r = ratio(on?.cpuPerDeliveryUs ?? Number.NaN, off?.cpuPerDeliveryUs ?? Number.NaN);
    return {
      mode,
      onOffCpuRatio: r,
      overheadPct: Number.isFinite(r) ? round(((on?.cpuPerDeliveryUs ?? 0) / (off?.cpuPerDeliveryUs ?? 1) - 1) * 100, 1) : Number.NaN,
      met: Number.isFinite(r) ? r <= 1 + TARGET_OVERHEAD : null,
      redisOnOffCpuRatio: mode === 'redis' ? ratio(on?.redisCpuPerDeliveryUs ?? Number.NaN, off?.redisCpuPerDeliveryUs ?? Number.NaN) : Number.NaN,
      perRunRatios,
    };
  });
}

/** A ratio computed earlier (NaN where it could not be): its figure, or `n/a`. */
const ratioCell = (value: number): string => (Number.isFinite(value) ? String(value) : 'n/a');

function summarySection(summaries: ConfigSummary[], vs: ModeVerdict[], options: Options): string {
  const lines = vs.map(
    (v) =>
      (Number.isFinite(v.onOffCpuRatio)
        ? `- ${v.mode}: history on costs ${v.overheadPct >= 0 ? '+' : ''}${v.overheadPct}% server CPU per delivery against off (on/off ${v.onOffCpuRatio})`
        : `- ${v.mode}: history on against off: n/a (a figure of history on or off is missing or 0)`) +
      `; target <= ${TARGET_OVERHEAD * 100}%: **${v.met === null ? 'not measured' : v.met ? 'met' : 'missed'}** (on/off per run: ${v.perRunRatios.map(ratioCell).join(', ')})` +
      (v.mode === 'redis' ? `; redis-server CPU per delivery on/off ${ratioCell(v.redisOnOffCpuRatio)}` : ''),
  );
  const configs = table(
    ['mode', 'history', 'runs', 'server µs/delivery (median; per run)', 'server µs/publication', 'server CPU %', 'redis-server CPU %', 'redis µs/delivery', 'p50 ms', 'p99 ms', 'lost', 'publish errors'],
    summaries.map((s) => [
      s.mode,
      s.history ? `on (${HISTORY_ON})` : 'off (0)',
      s.runs,
      `${s.cpuPerDeliveryUs} (${s.cpuPerDeliveryRuns.join(', ')})`,
      s.cpuPerPublicationUs,
      s.serverCpuPct,
      s.mode === 'redis' ? s.redisCpuPct : '-',
      s.mode === 'redis' ? s.redisCpuPerDeliveryUs : '-',
      s.p50,
      s.p99,
      s.lost,
      s.pubErrors,
    ]),
  );
  return [
    `Load: ${options.members} members over ${options.rooms} rooms (${round(options.members / options.rooms, 1)} each), ${options.rate} publications/s over HTTP (${round((options.rate * options.members) / options.rooms, 0)} deliveries/s), ${options.steps} step(s) of ${options.stepMs / 1000} s per configuration.`,
    '',
    ...lines,
    '',
    configs,
  ].join('\n');
}

function charts(results: ConfigRun[], options: Options): ChartSpec[] {
  return [
    {
      id: 'history-cost-cpu',
      title: `Server CPU per delivery by run, history on vs off (${options.rate} publications/s, ${options.members} members in ${options.rooms} rooms)`,
      xLabel: 'run',
      yLabel: 'server CPU per delivery (µs)',
      series: options.modes.flatMap((mode) =>
        [true, false].map((history) => ({
          name: `${mode}, history ${history ? 'on' : 'off'}`,
          points: results.filter((r) => r.mode === mode && r.history === history).map((r): [number, number] => [r.run + 1, r.cpuPerDeliveryUs]),
        })),
      ),
    },
  ];
}

function markdown(results: ConfigRun[], summary: string, options: Options, command: string): string {
  const steps = table(
    ['mode', 'history', 'run', 'step', 'published', 'deliveries', 'lost', 'p50 ms', 'p99 ms', 'server CPU %', 'server µs/delivery', 'server µs/publication', 'redis CPU %'],
    results.flatMap((r) =>
      r.steps.map((s, i) => [r.mode, r.history ? 'on' : 'off', r.run + 1, i + 1, s.published, s.deliveries, s.lost, s.p50, s.p99, s.serverCpuPct, s.serverCpuPerDeliveryUs, s.serverCpuPerPublicationUs, r.mode === 'redis' ? s.redisCpuPct : '-']),
    ),
  );
  return [
    ...reportHeader(
      'The cost of guarantees: history on vs off',
      command,
      `one Roomcast node per configuration (Redis mode: with its own fresh redis-server); medians over ${options.runs} run(s), on/off order alternating per run`,
    ),
    summary,
    '',
    '## Every step',
    '',
    steps,
    '',
  ].join('\n');
}

runScenario({
  name: 'history-cost',
  options: ({ number, list, smoke }): Options => ({
    modes: list('modes', MODES, MODES),
    smoke,
    members: number('members', smoke ? 20 : 500),
    rooms: number('rooms', smoke ? 4 : 50),
    rate: number('rate', smoke ? 40 : 200),
    steps: number('steps', smoke ? 1 : 3),
    stepMs: number('step-s', smoke ? 1 : 8) * 1000,
    warmMs: smoke ? 500 : 5000,
    workers: number('workers', smoke ? 1 : 2),
    runs: number('runs', smoke ? 1 : 3),
    // A stall ends the drain early only when something is missing: a loaded CI machine may pause that long.
    stallMs: 1000,
    drainMaxMs: smoke ? 3000 : 20_000,
  }),
  timeLimitMs: (options) => options.runs * options.modes.length * 2 * (60_000 + options.warmMs + options.steps * (options.stepMs + options.drainMaxMs + 10_000)),
  // On/off order alternates per run.
  units: (options, run) => options.modes.flatMap((mode) => (run % 2 === 0 ? [true, false] : [false, true]).map((history) => ({ mode, history }))),
  describe: ({ mode, history }, options, run) =>
    `${mode} history ${history ? 'on' : 'off'} run ${run + 1}/${options.runs}: ${options.members} members in ${options.rooms} rooms, ${options.rate} publications/s`,
  run: async ({ mode, history }, { options, run }) => {
    const result = await runConfig(mode, history, options, run);
    await sleep(200);
    return result;
  },
  report: (results, { options, command }) => {
    const summaries = summarize(results, options);
    const vs = verdicts(summaries, results, options.modes);
    const summaryMarkdown = summarySection(summaries, vs, options);
    return {
      markdown: markdown(results, summaryMarkdown, options, command),
      json: { results, summaries, verdicts: vs, targetOverhead: TARGET_OVERHEAD, summaryMarkdown, charts: charts(results, options) },
    };
  },
});
