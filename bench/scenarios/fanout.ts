/**
 * Scenario 2, fan-out: one server process (Roomcast single node or a baseline),
 * N members in one room held by load-generator worker processes, a publisher at
 * increasing rates. Per rate step: deliveries/s, p50/p99/max latency, lost,
 * server CPU % and CPU per delivery, load-generator CPU %; per target the
 * highest rate with p99 <= 50 ms and nothing lost; ratios vs each baseline.
 *
 *   npm run bench:fanout -- [--targets roomcast,bare-ws,socketio] [--members 1000]
 *     [--workers 2] [--rates 10,25,50,100,200,400] [--step-s 5] [--runs 3] [--all-steps] [--smoke]
 *     [--cpu-prof-dir DIR]   (a V8 CPU profile of each server process)
 *     [--perf-dir DIR]       (Linux perf samples of the server over each rate step, by owner: bench/perf-summary.ts)
 *
 * Rates climb until a step's p99 exceeds 500 ms or loses messages (unless --all-steps).
 * Latency buckets stop at 10 s: a p50/p99 of 10001 means "10 s or more".
 *
 * Output: a table on stdout, JSON + Markdown in bench/reports/.
 */
import { BareWsClient, LatencyHistogram, nowMs } from '../lib/lean-client.js';
import { processCpuSeconds } from '../lib/proc-cpu.js';
import { PERF_NODE_ARGS, recordPerf } from '../lib/perf-record.js';
import { ownersMarkdown, perfOwners, type PerfOwners } from '../perf-summary.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { httpPublisher } from '../lib/rooms-run.js';
import type { FanoutTarget, WorkerStart } from '../lib/fanout-worker.js';
import { fanoutRatios, fanoutRatioTable, fanoutSummaryMarkdown, fanoutSummaryTable, type FanoutTargetSummary } from '../lib/fanout-summary.js';
import { reportHeader, runScenario } from '../lib/scenario-runner.js';
import {
  BENCH_JWT_SECRET as JWT_SECRET,
  Progress,
  askAll,
  cpuProfileArgs,
  forkWorker,
  median,
  round,
  sleep,
  sourceAddresses,
  startTarget,
  stopServer,
  stopWorkers,
  table,
  waitFor,
  type ChartSpec,
  type ServerHandle,
  type WorkerHandle,
} from '../lib/harness.js';

const ROOM = 'bench:fan';
const TARGETS: readonly FanoutTarget[] = ['roomcast', 'bare-ws', 'socketio'];
const SLO_P99_MS = 50;

interface Options {
  targets: FanoutTarget[];
  members: number;
  workers: number;
  rates: number[];
  stepMs: number;
  drainMs: number;
  drainMaxMs: number;
  runs: number;
  /** Keep perf recordings of the server over each rate step here (`--perf-dir`). */
  perfDir?: string;
  /** Write a CPU profile of each server process here (`--cpu-prof-dir`). */
  cpuProfDir?: string;
  smoke: boolean;
  allSteps: boolean;
}

// ---------- publisher

interface Publisher {
  publish(seq: number, step: number): Promise<boolean>;
  close(): void;
}

async function makePublisher(server: ServerHandle): Promise<Publisher> {
  if (server.target === 'bare-ws') {
    const client = await BareWsClient.connect(server.url);
    return {
      publish: (seq, step) => {
        client.publish(ROOM, { bseq: seq, bs: step, bt: nowMs() });
        return Promise.resolve(true);
      },
      close: () => client.close(),
    };
  }
  const http = httpPublisher(server.target === 'roomcast' ? 'roomcast' : 'socketio', server.url);
  return {
    publish: (seq, step) => http.publish(ROOM, { bseq: seq, bs: step, bt: nowMs() }),
    close: () => http.close(),
  };
}

// ---------- the run

interface StepResult {
  rate: number;
  published: number;
  pubErrors: number;
  deliveries: number;
  deliveriesPerS: number;
  p50: number;
  p99: number;
  max: number;
  lost: number;
  serverCpuPct: number;
  serverCpuPerDeliveryUs: number;
  loadGenCpuPct: number;
  ok: boolean;
  /** perf samples of the server over the step's publishing window, by owner (--perf-dir). */
  perf?: PerfOwners;
}

interface TargetResult {
  target: FanoutTarget;
  run: number;
  members: number;
  connected: number;
  connectMs: number;
  steps: StepResult[];
  maxRateOk: number;
  cpuPerDeliveryUs: number;
}

async function runTarget(target: FanoutTarget, options: Options, run: number): Promise<TargetResult> {
  const server = await startTarget(target, { nodeArgs: [...cpuProfileArgs(options.cpuProfDir), ...(options.perfDir !== undefined ? PERF_NODE_ARGS : [])] });
  if (options.perfDir !== undefined) mkdirSync(options.perfDir, { recursive: true });
  const workers: WorkerHandle[] = [];
  try {
    const perWorker = Math.ceil(options.members / options.workers);
    const connectStart = Date.now();
    const progress = new Map<number, number>();
    const bar = new Progress(`${target} run ${run + 1}: joining`, options.members);
    const readies: Array<Promise<{ connected: number; failed: number; error?: string }>> = [];
    for (let w = 0; w < options.workers; w++) {
      const count = Math.min(perWorker, options.members - w * perWorker);
      if (count <= 0) break;
      const worker = forkWorker('fanout-worker.js');
      workers.push(worker);
      readies.push(
        waitFor(worker, 'ready', 120_000, (m) => {
          if (m.type === 'progress') {
            progress.set(w, Number(m.connected));
            bar.update([...progress.values()].reduce((a, b) => a + b, 0));
          }
        }),
      );
      const start: WorkerStart = {
        type: 'start',
        target,
        url: server.url,
        room: ROOM,
        count,
        firstIndex: w * perWorker,
        addresses: sourceAddresses(w),
        ...(target === 'roomcast' ? { jwtSecret: JWT_SECRET } : {}),
      };
      worker.child.send(start);
    }
    const ready = await Promise.all(readies);
    const connected = ready.reduce((a, r) => a + r.connected, 0);
    const connectMs = Date.now() - connectStart;
    bar.done(`${connected}/${options.members} members joined in ${connectMs} ms`);
    const errors = ready.filter((r) => r.error !== undefined).map((r) => r.error);
    if (errors.length > 0) process.stderr.write(`  ${target}: connect errors, first: ${errors[0]}\n`);
    if (connected === 0) throw new Error(`${target}: no member connected`);

    const publisher = await makePublisher(server);
    const steps: StepResult[] = [];
    let seq = 0;
    try {
      for (let s = 0; s < options.rates.length; s++) {
        const rate = options.rates[s] ?? 0;
        const stepStart = nowMs();
        const serverCpu0 = processCpuSeconds(server.pid);
        const genCpu0 = workers.reduce((a, w) => a + processCpuSeconds(w.pid), 0);
        const perfFile = options.perfDir !== undefined ? join(options.perfDir, `${target}-run${run + 1}-rate${rate}.perf.data`) : undefined;
        const recording = perfFile !== undefined ? recordPerf([server.pid], options.stepMs, perfFile) : undefined;
        // Awaited after the step's publishing; a failure before that (no perf installed) must not be an unhandled rejection.
        recording?.catch(() => undefined);
        const inflight: Array<Promise<boolean>> = [];
        let sent = 0;
        while (true) {
          const elapsed = nowMs() - stepStart;
          if (elapsed >= options.stepMs) break;
          const due = Math.floor((elapsed * rate) / 1000) - sent;
          for (let i = 0; i < due; i++) {
            inflight.push(publisher.publish(seq++, s));
            sent++;
          }
          await sleep(2);
        }
        const oks = await Promise.all(inflight);
        await recording;
        const published = oks.filter(Boolean).length;
        // Drain: wait until every member has every publication, or deliveries stop
        // growing for drainMs, or drainMaxMs passed (the rest counts as lost).
        const wanted = published * connected;
        const drainStart = Date.now();
        let last = -1;
        let lastChange = Date.now();
        while (Date.now() - drainStart < options.drainMaxMs) {
          const counts = await askAll<{ received: number }>(workers, { type: 'count', step: s }, 'count');
          const total = counts.reduce((a, c) => a + c.received, 0);
          if (total >= wanted) break;
          if (total !== last) {
            last = total;
            lastChange = Date.now();
          } else if (Date.now() - lastChange >= options.drainMs) break;
          await sleep(100);
        }
        const stats = await askAll<{ histogram: ReturnType<LatencyHistogram['toJSON']>; received: number; lost: number }>(
          workers,
          { type: 'collect', step: s, expected: published },
          'stats',
        );
        const wall = (nowMs() - stepStart) / 1000;
        const serverCpu = processCpuSeconds(server.pid) - serverCpu0;
        const genCpu = workers.reduce((a, w) => a + processCpuSeconds(w.pid), 0) - genCpu0;
        const h = new LatencyHistogram();
        let deliveries = 0;
        let lost = 0;
        for (const stat of stats) {
          h.merge(stat.histogram);
          deliveries += stat.received;
          lost += stat.lost;
        }
        const p99 = h.quantile(0.99);
        const step: StepResult = {
          rate,
          published,
          pubErrors: sent - published,
          deliveries,
          deliveriesPerS: Math.round(deliveries / (options.stepMs / 1000)),
          p50: round(h.quantile(0.5)),
          p99: round(p99),
          max: round(h.max),
          lost,
          serverCpuPct: round((serverCpu / wall) * 100),
          serverCpuPerDeliveryUs: deliveries > 0 ? round((serverCpu / deliveries) * 1e6) : Number.NaN,
          loadGenCpuPct: round((genCpu / wall) * 100),
          ok: p99 <= SLO_P99_MS && lost === 0 && sent === published && deliveries > 0,
          ...(perfFile !== undefined ? { perf: await perfOwners(perfFile) } : {}),
        };
        steps.push(step);
        process.stderr.write(
          `  ${target} @${rate}/s: ${step.deliveriesPerS} deliveries/s, p50 ${step.p50} p99 ${step.p99} max ${step.max} ms, lost ${lost}, server CPU ${step.serverCpuPct}% (${step.serverCpuPerDeliveryUs} µs/delivery)\n`,
        );
        if (!options.allSteps && !step.ok && !(step.p99 <= 10 * SLO_P99_MS)) {
          process.stderr.write(`  ${target}: p99 over ${10 * SLO_P99_MS} ms or loss: higher rates skipped (--all-steps runs them)\n`);
          break;
        }
      }
    } finally {
      publisher.close();
    }
    // The highest rate whose step met the SLO (a noisy lower step does not hide it).
    const maxRateOk = steps.reduce((best, step) => (step.ok && step.rate > best ? step.rate : best), 0);
    const okSteps = steps.filter((step) => step.lost === 0 && step.deliveries > 0);
    const cpuPerDeliveryUs = median(okSteps.map((step) => step.serverCpuPerDeliveryUs));
    return { target, run, members: options.members, connected, connectMs, steps, maxRateOk, cpuPerDeliveryUs };
  } finally {
    await stopWorkers(workers);
    await stopServer(server, options.cpuProfDir !== undefined ? 'SIGTERM' : 'SIGKILL');
  }
}

type TargetSummary = FanoutTargetSummary & { maxRateOk: number; cpuPerDeliveryUs: number };

function summarize(results: TargetResult[], targets: FanoutTarget[]): TargetSummary[] {
  return targets.map((target) => {
    const mine = results.filter((r) => r.target === target);
    return {
      target,
      runs: mine.length,
      connectMs: median(mine.map((r) => r.connectMs)),
      maxRateOk: median(mine.map((r) => r.maxRateOk)),
      maxRatesOk: mine.map((r) => r.maxRateOk),
      cpuPerDeliveryUs: round(median(mine.map((r) => r.cpuPerDeliveryUs))),
    };
  });
}

/** Per target and rate, the median over runs of one step figure: the curves of the charts. */
function curve(results: TargetResult[], target: FanoutTarget, pick: (step: StepResult) => number): Array<[number, number]> {
  const byRate = new Map<number, number[]>();
  for (const r of results) {
    if (r.target !== target) continue;
    for (const step of r.steps) byRate.set(step.rate, [...(byRate.get(step.rate) ?? []), pick(step)]);
  }
  return [...byRate.entries()].sort((a, b) => a[0] - b[0]).map(([rate, values]) => [rate, round(median(values))]);
}

function charts(results: TargetResult[], options: Options): ChartSpec[] {
  const per = (pick: (step: StepResult) => number, label: string): ChartSpec['series'] =>
    options.targets.map((target) => ({ name: `${target} ${label}`.trim(), points: curve(results, target, pick) }));
  return [
    {
      id: 'latency',
      title: `Delivery latency against publish rate (${options.members} members, median of runs)`,
      xLabel: 'publications per second',
      yLabel: 'latency ms',
      xLog: true,
      yLog: true,
      series: [...per((s) => s.p50, 'p50'), ...per((s) => s.p99, 'p99')],
    },
    {
      id: 'cpu',
      title: 'Server CPU per delivery against publish rate',
      xLabel: 'publications per second',
      yLabel: 'server CPU µs per delivery',
      xLog: true,
      series: per((s) => s.serverCpuPerDeliveryUs, ''),
    },
  ];
}

function markdown(results: TargetResult[], summaries: TargetSummary[], options: Options, command: string): string {
  const steps = table(
    ['target', 'run', 'rate/s', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'pub errors', 'server CPU %', 'server µs/delivery', 'load-gen CPU %', 'ok'],
    results.flatMap((r) =>
      r.steps.map((s) => [r.target, r.run + 1, s.rate, s.deliveriesPerS, s.p50, s.p99, s.max, s.lost, s.pubErrors, s.serverCpuPct, s.serverCpuPerDeliveryUs, s.loadGenCpuPct, s.ok]),
    ),
  );
  return [
    ...reportHeader(`Fan-out: ${options.members} members in one room`, command, `step ${options.stepMs / 1000} s; ${options.runs} run(s), targets interleaved per run`),
    fanoutSummaryTable(summaries),
    '',
    fanoutRatioTable(summaries),
    '',
    '## Every step',
    '',
    steps,
    '',
    ...perfSections(results),
  ].join('\n');
}

/** Per run and rate, the server's perf samples by owner, Roomcast beside plain Socket.IO (--perf-dir). */
function perfSections(results: TargetResult[]): string[] {
  const keys = [...new Set(results.flatMap((r) => r.steps.filter((s) => s.perf !== undefined).map((s) => `${r.run}:${s.rate}`)))];
  return keys.flatMap((key) => {
    const [run, rate] = key.split(':').map(Number) as [number, number];
    const named = (['roomcast', 'socketio', 'bare-ws'] as const).flatMap((target) => {
      const step = results.find((r) => r.run === run && r.target === target)?.steps.find((s) => s.rate === rate);
      return step?.perf !== undefined ? [{ name: target, ...step.perf }] : [];
    });
    return [`## perf samples of the server by owner, run ${run + 1}, ${rate} publications/s (--perf-dir; 499 Hz over the step)`, '', ownersMarkdown(named.slice(0, 2)), ''];
  });
}

const perRunMs = (options: Options): number => 60_000 + options.rates.length * (options.stepMs + options.drainMaxMs + 35_000);

runScenario({
  name: 'fanout',
  options: ({ get, has, number, list, smoke }): Options => ({
    targets: list('targets', TARGETS, TARGETS),
    smoke,
    allSteps: has('all-steps'),
    runs: number('runs', smoke ? 1 : 3),
    ...(get('cpu-prof-dir') !== undefined ? { cpuProfDir: get('cpu-prof-dir') } : {}),
    ...(get('perf-dir') !== undefined ? { perfDir: get('perf-dir') } : {}),
    members: number('members', smoke ? 20 : 1000),
    workers: number('workers', smoke ? 1 : 2),
    rates: (get('rates') ?? (smoke ? '20,50' : '10,25,50,100,200,400')).split(',').map(Number),
    stepMs: number('step-s', smoke ? 1 : 5) * 1000,
    drainMs: smoke ? 300 : 1000,
    drainMaxMs: smoke ? 3000 : 20_000,
  }),
  timeLimitMs: (options) => options.runs * options.targets.length * perRunMs(options),
  units: (options) => options.targets,
  describe: (target, options, run) => `${target} run ${run + 1}/${options.runs}: ${options.members} members, ${options.workers} worker(s), rates ${options.rates.join(', ')}/s`,
  run: (target, { options, run }) => runTarget(target, options, run),
  report: (results, { options, command }) => {
    const summaries = summarize(results, options.targets);
    return {
      markdown: markdown(results, summaries, options, command),
      json: { summaryMarkdown: fanoutSummaryMarkdown(summaries), charts: charts(results, options), results, summaries, ratios: fanoutRatios(summaries) },
    };
  },
});
