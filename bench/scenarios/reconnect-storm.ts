/**
 * Scenario 5, reconnect storm: 2-3 Roomcast nodes on one Redis; one node (A)
 * holds 15,000 clients, the others a few; publishers keep publishing into the
 * clients' rooms over the HTTP API of the other nodes. Then A is drained
 * (SIGTERM): it tells each client `server:draining { reconnectInMs }` spread
 * over 60% of DRAIN_TIMEOUT_MS, and each client, as the SDK does, closes after
 * that delay (+ up to 500 ms of jitter), connects to another node and rejoins its
 * two rooms with `since` = its last offset (bench/lib/room-worker.ts).
 *
 * Measured: time from SIGTERM until every client is reconnected and recovered,
 * per-client time from disconnect to its `recovered: true` rejoin (p50/p99/max),
 * messages lost / duplicated across the storm (every client checks every offset
 * of its rooms), recovered:false, CPU per process during the storm.
 *
 *   npm run bench:storm -- [--connections 15000] [--others 300] [--nodes 3]
 *     [--drain-ms 30000] [--rate 200] [--user-rate 20] [--runs 3] [--smoke] [--perf-dir <dir>]
 *
 * --perf-dir: the nodes start with --perf-basic-prof and Linux `perf` samples all
 * of them from SIGTERM for --drain-ms (bench/lib/perf-record.ts; needs linux-perf),
 * kept as <dir>/storm-run<N>.perf.data; the report splits the samples by owner
 * (kernel, GC, each JavaScript package; bench/perf-summary.ts reads the file later
 * with --symbols for the functions).
 *
 * Output: a table on stdout, JSON + Markdown in bench/reports/.
 * ROOMCAST_BENCH_LOG_DIR=<dir> keeps each node's log (e.g. the drained node's Redis timeouts);
 * ROOMCAST_BENCH_PROFILE_DIR=<dir> writes a CPU profile of the drained node (node 1) when it exits.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { nowMs } from '../lib/lean-client.js';
import { PERF_NODE_ARGS, recordPerf } from '../lib/perf-record.js';
import { ownersMarkdown, perfOwners, type PerfOwners } from '../perf-summary.js';
import { processCpuSeconds, tcpListenCounters } from '../lib/proc-cpu.js';
import {
  Publisher,
  RECONNECT_SCALE,
  clusterProcesses,
  collectAll,
  percentiles,
  publishFor,
  settle,
  startCluster,
  startFleet,
  stopCluster,
  stopFleet,
  totals,
  verifyAll,
  type Cluster,
  type Fleet,
  type FleetStats,
  type Verdict,
} from '../lib/room-fleet.js';
import { Progress, median, round, sleep, table, type ChartSpec } from '../lib/harness.js';
import { medianOf, reportHeader, runScenario, type ScenarioArgs } from '../lib/scenario-runner.js';

const GROUP_SIZE = 10;
const PER_WORKER = 14_000;

interface Options {
  connections: number;
  others: number;
  nodes: number;
  workers: number;
  drainMs: number;
  rate: number;
  userRate: number;
  warmupS: number;
  concurrency: number;
  runs: number;
  smoke: boolean;
  /** Where the storm's perf recordings go (--perf-dir), or undefined: not sampled. */
  perfDir: string | undefined;
}

function parseOptions({ number, get, smoke }: ScenarioArgs): Options {
  const connections = number('connections', smoke ? 100 : 15_000);
  const options: Options = {
    smoke,
    connections,
    others: number('others', smoke ? 20 : 300),
    nodes: number('nodes', smoke ? 2 : 3),
    workers: number('workers', Math.max(2, Math.ceil(connections / PER_WORKER))),
    drainMs: number('drain-ms', smoke ? 3000 : 30_000),
    rate: number('rate', smoke ? 20 : 200),
    userRate: number('user-rate', smoke ? 5 : 20),
    warmupS: number('warmup-s', smoke ? 1 : 5),
    concurrency: number('concurrency', 50),
    runs: number('runs', smoke ? 1 : 3),
    perfDir: get('perf-dir'),
  };
  if (options.nodes < 2) throw new Error('--nodes: at least 2 (one drained, one to move to)');
  if (options.connections >= 20_000) throw new Error('--connections: node A may hold fewer than 20,000 connections');
  return options;
}

interface RunResult {
  run: number;
  connected: number;
  othersConnected: number;
  failed: number;
  rampS: number;
  /** SIGTERM -> every loaded client reconnected / recovered, s. */
  allReconnectedS: number;
  allRecoveredS: number;
  complete: boolean;
  drainedNodeExitS: number;
  drainedNodeExitCode: number | null;
  /** Per client: disconnect -> connected again / -> both rooms rejoined with recovered: true, ms. */
  reconnect: ReturnType<typeof percentiles>;
  recover: ReturnType<typeof percentiles>;
  drainNotices: number;
  /** Clients the drained node closed before they left on their own (past their turn + grace). */
  closedByServer: number;
  connectRetries: number;
  /** The storm's retried reconnect attempts by cause (bench/lib/room-worker.ts retryCause). */
  retryCauses: { connectTimeout: number; ackTimeout: number; refused: number; closed: number };
  published: number;
  publishErrors: number;
  firstPublishError?: string;
  /** Failed publications by cause (Publisher.errorsBy). */
  publishErrorsBy?: Record<string, number>;
  /** The machine's listen-queue counters over the storm (SIGTERM until every client recovered): see tcpListenCounters. */
  listenQueue: { overflows: number; drops: number; syncookies: number };
  recoveredMessages: number;
  verdict: Verdict;
  /** Live delivery latency of the clients that stayed on the other nodes during the storm. */
  othersLatency: ReturnType<typeof percentiles>;
  cpuStorm: Array<{ name: string; cpuPct: number; cpuSeconds: number }>;
  /** [seconds since SIGTERM, clients] cumulative. */
  reconnectedOverTime: Array<[number, number]>;
  recoveredOverTime: Array<[number, number]>;
  met: boolean;
  /** perf samples of every node from SIGTERM over --drain-ms, by owner (--perf-dir). */
  stormPerf?: PerfOwners;
}

/** Counts by key, summed over runs. */
function sumCounts(all: Array<Record<string, number>>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const counts of all) for (const [key, count] of Object.entries(counts)) sum[key] = (sum[key] ?? 0) + count;
  return sum;
}

/** Cumulative count of `times` (nowMs) per 250 ms step since `from`. */
function cumulative(times: number[], from: number, untilS: number): Array<[number, number]> {
  const sorted = times.map((t) => (t - from) / 1000).sort((a, b) => a - b);
  const points: Array<[number, number]> = [];
  let i = 0;
  for (let s = 0; s <= untilS + 0.25; s += 0.25) {
    while (i < sorted.length && (sorted[i] as number) <= s) i++;
    points.push([round(s), i]);
  }
  return points;
}

async function runOnce(options: Options, run: number): Promise<RunResult> {
  let cluster: Cluster | null = null;
  let loaded: Fleet | null = null;
  let others: Fleet | null = null;
  try {
    process.stderr.write(`  starting redis-server and ${options.nodes} nodes (DRAIN_TIMEOUT_MS ${options.drainMs})\n`);
    cluster = await startCluster(
      options.nodes,
      { DRAIN_TIMEOUT_MS: String(options.drainMs) },
      process.env.ROOMCAST_BENCH_PROFILE_DIR,
      false,
      options.perfDir !== undefined ? PERF_NODE_ARGS : [],
    );
    const [drained, ...rest] = cluster.nodes;
    if (!drained) throw new Error('no node');
    const restUrls = rest.map((node) => node.url);
    loaded = await startFleet({
      connections: options.connections,
      workers: options.workers,
      urls: [drained.url],
      reconnectUrls: restUrls,
      groupSize: GROUP_SIZE,
      concurrency: options.concurrency,
      label: `run ${run + 1}: connecting to node 1`,
    });
    if (options.others > 0) {
      others = await startFleet({
        connections: options.others,
        workers: 1,
        firstIndex: options.connections,
        urls: restUrls,
        groupSize: GROUP_SIZE,
        concurrency: options.concurrency,
        label: `run ${run + 1}: connecting to the other nodes`,
      });
    }
    const l = loaded;
    const fleets = [l, ...(others ? [others] : [])];
    const otherPids = new Set(others?.workers.map((w) => w.pid) ?? []);
    const processes = clusterProcesses(cluster, fleets.flatMap((f) => f.workers)).map((p) => (otherPids.has(p.pid) ? { ...p, name: `${p.name} (clients on the other nodes)` } : p));
    const groups = Math.ceil((options.connections + options.others) / GROUP_SIZE);
    const publisher = new Publisher(restUrls);
    let stopPublishing = false;
    const t0 = nowMs();
    for (const f of fleets) for (const worker of f.workers) worker.child.send({ type: 't0', t0, windowMs: 1000 });
    const publishing = publishFor(publisher, {
      ms: 3_600_000,
      groupRate: options.rate,
      groups,
      userRate: options.userRate,
      users: options.connections + options.others,
      stop: () => stopPublishing,
    });
    await sleep(options.warmupS * 1000);

    // ---- the storm
    const lastCpu = new Map(processes.map((p) => [p.pid, processCpuSeconds(p.pid)]));
    const cpu0 = new Map(lastCpu);
    const drainedExit = new Promise<number | null>((resolveExit) => drained.child.once('exit', (code) => resolveExit(code)));
    let exitAt = 0;
    let exitCode: number | null = null;
    void drainedExit.then((code) => {
      exitAt = nowMs();
      exitCode = code;
    });
    const listen0 = tcpListenCounters();
    const tDrain = nowMs();
    const cpuStart = Date.now();
    const perfFile = options.perfDir !== undefined ? join(options.perfDir, `storm-run${run + 1}.perf.data`) : undefined;
    if (perfFile !== undefined) mkdirSync(options.perfDir as string, { recursive: true });
    const perf = perfFile !== undefined ? recordPerf(cluster.nodes.map((node) => node.pid), options.drainMs, perfFile) : undefined;
    perf?.catch(() => undefined); // awaited below; no unhandled rejection before that
    drained.child.kill('SIGTERM');
    const bar = new Progress(`run ${run + 1}: storm`, l.connected);
    const deadline = Date.now() + options.drainMs + 60_000;
    let complete = false;
    while (Date.now() < deadline) {
      for (const p of processes) {
        const seconds = processCpuSeconds(p.pid);
        if (Number.isFinite(seconds)) lastCpu.set(p.pid, seconds);
      }
      const now = totals(l);
      bar.update(now.recoveries, `live ${now.live}, drain notices ${now.drainNotices}, recovered:false ${now.recoveredFalse}`);
      if (now.recoveries >= l.connected && now.live >= l.connected && now.connecting === 0 && exitAt > 0) {
        complete = true;
        break;
      }
      await sleep(100);
    }
    const cpuWall = (Date.now() - cpuStart) / 1000;
    const listen1 = tcpListenCounters();
    const listenQueue = {
      overflows: listen1.listenOverflows - listen0.listenOverflows,
      drops: listen1.listenDrops - listen0.listenDrops,
      syncookies: listen1.syncookiesSent - listen0.syncookiesSent,
    };
    const cpuStorm = processes.map((p) => {
      const seconds = (lastCpu.get(p.pid) ?? Number.NaN) - (cpu0.get(p.pid) ?? Number.NaN);
      return { name: p.name, cpuSeconds: round(seconds), cpuPct: round((seconds / cpuWall) * 100, 1) };
    });
    bar.done(complete ? `every client reconnected and recovered in ${round((nowMs() - tDrain) / 1000, 1)} s` : 'time limit reached before every client recovered');
    // publications keep flowing a moment after the last rejoin, then stop
    await sleep(2000);
    stopPublishing = true;
    await publishing;
    publisher.close();
    for (const f of fleets) await settle(f, 30_000);
    const verdicts = await Promise.all(fleets.map((f) => verifyAll(f, publisher, 30_000)));
    const verdict = verdicts.reduce((a, v) => ({
      lost: a.lost + v.lost,
      lostHoles: a.lostHoles + v.lostHoles,
      lostClients: a.lostClients + v.lostClients,
      duplicates: a.duplicates + v.duplicates,
      overlap: a.overlap + v.overlap,
      recoveredFalse: a.recoveredFalse + v.recoveredFalse,
      gapOffsets: a.gapOffsets + v.gapOffsets,
      verifyMs: Math.max(a.verifyMs, v.verifyMs),
    }));
    if (perf !== undefined) await perf;
    const stats: FleetStats = await collectAll(l);
    const otherStats = others ? await collectAll(others) : null;
    const lastReconnected = Math.max(...stats.reconnectedAt, tDrain);
    const lastRecovered = Math.max(...stats.recoveredAt, tDrain);
    const untilS = (Math.max(lastRecovered, exitAt) - tDrain) / 1000;
    const result: RunResult = {
      run,
      connected: l.connected,
      othersConnected: others?.connected ?? 0,
      failed: l.failed + (others?.failed ?? 0),
      rampS: round(l.rampMs / 1000, 1),
      allReconnectedS: round((lastReconnected - tDrain) / 1000),
      allRecoveredS: round((lastRecovered - tDrain) / 1000),
      complete,
      drainedNodeExitS: exitAt > 0 ? round((exitAt - tDrain) / 1000) : Number.NaN,
      drainedNodeExitCode: exitCode,
      reconnect: percentiles(stats.reconnectMs, RECONNECT_SCALE),
      recover: percentiles(stats.recoverMs, RECONNECT_SCALE),
      drainNotices: stats.counters.drainNotices ?? 0,
      closedByServer: stats.counters.unexpectedCloses ?? 0,
      connectRetries: stats.counters.connectRetries ?? 0,
      retryCauses: {
        connectTimeout: stats.counters.retryConnectTimeout ?? 0,
        ackTimeout: stats.counters.retryAckTimeout ?? 0,
        refused: stats.counters.retryRefused ?? 0,
        closed: stats.counters.retryClosed ?? 0,
      },
      published: publisher.published,
      publishErrors: publisher.errors,
      ...(publisher.firstError !== undefined ? { firstPublishError: publisher.firstError, publishErrorsBy: publisher.errorsBy } : {}),
      recoveredMessages: stats.counters.recoveredMessages ?? 0,
      listenQueue,
      ...(perfFile !== undefined ? { stormPerf: await perfOwners(perfFile) } : {}),
      verdict,
      othersLatency: otherStats ? percentiles(otherStats.latency) : percentiles(stats.latency),
      cpuStorm,
      reconnectedOverTime: cumulative(stats.reconnectedAt, tDrain, untilS),
      recoveredOverTime: cumulative(stats.recoveredAt, tDrain, untilS),
      met: false,
    };
    result.met = complete && result.connected === options.connections && verdict.lost === 0 && verdict.duplicates === 0 && verdict.recoveredFalse === 0 && publisher.errors === 0;
    process.stderr.write(
      `  run ${run + 1}: all ${result.connected} recovered in ${result.allRecoveredS} s; disconnect -> recovered p50 ${result.recover.p50} p99 ${result.recover.p99} max ${result.recover.max} ms; lost ${verdict.lost}, duplicates ${verdict.duplicates}, recovered:false ${verdict.recoveredFalse}\n`,
    );
    return result;
  } finally {
    await stopFleet(loaded);
    await stopFleet(others);
    if (cluster) await stopCluster(cluster);
  }
}

function summaryMarkdown(results: RunResult[], options: Options): string {
  const m = (pick: (r: RunResult) => number): number => medianOf(results, pick);
  const worst = (pick: (r: RunResult) => number): number => Math.max(...results.map(pick));
  const met = results.every((r) => r.met);
  const verdictLine = `**Storm of ${options.connections.toLocaleString('en-US')} clients (drain window ${options.drainMs / 1000} s): ${met ? 'every client reconnected and recovered, nothing lost' : 'missed'}** — all recovered in ${m((r) => r.allRecoveredS)} s (median of ${results.length}), lost ${worst((r) => r.verdict.lost)}, duplicates ${worst((r) => r.verdict.duplicates)}, recovered:false ${worst((r) => r.verdict.recoveredFalse)}.`;
  const main = table(
    ['figure', `median over ${results.length} run(s)`, 'per run'],
    [
      ['clients on the drained node / on the others', `${m((r) => r.connected)} / ${m((r) => r.othersConnected)}`, results.map((r) => r.connected).join(', ')],
      ['SIGTERM -> every client reconnected', `${m((r) => r.allReconnectedS)} s`, results.map((r) => r.allReconnectedS).join(', ')],
      ['SIGTERM -> every client recovered (both rooms rejoined, recovered: true)', `${m((r) => r.allRecoveredS)} s`, results.map((r) => r.allRecoveredS).join(', ')],
      ['SIGTERM -> drained node exited', `${m((r) => r.drainedNodeExitS)} s`, results.map((r) => `${r.drainedNodeExitS} (code ${r.drainedNodeExitCode})`).join(', ')],
      ['per client disconnect -> reconnected p50 / p99 / max', `${m((r) => r.reconnect.p50)} / ${m((r) => r.reconnect.p99)} / ${m((r) => r.reconnect.max)} ms`, results.map((r) => r.reconnect.p99).join(', ')],
      ['per client disconnect -> recovered p50 / p99 / max', `${m((r) => r.recover.p50)} / ${m((r) => r.recover.p99)} / ${m((r) => r.recover.max)} ms`, results.map((r) => r.recover.p99).join(', ')],
      ['lost / duplicates (worst run)', `${worst((r) => r.verdict.lost)} / ${worst((r) => r.verdict.duplicates)}`, results.map((r) => `${r.verdict.lost}/${r.verdict.duplicates}`).join(', ')],
      ['recovered:false (worst run)', worst((r) => r.verdict.recoveredFalse), results.map((r) => r.verdict.recoveredFalse).join(', ')],
      ['offsets recovered from missed[] / history', m((r) => r.recoveredMessages), results.map((r) => r.recoveredMessages).join(', ')],
      ['clients closed by the node before they left', m((r) => r.closedByServer), results.map((r) => r.closedByServer).join(', ')],
      ['connect retries', m((r) => r.connectRetries), results.map((r) => r.connectRetries).join(', ')],
      [
        'storm retries: connect timeout / ack timeout / refused / closed',
        `${m((r) => r.retryCauses.connectTimeout)} / ${m((r) => r.retryCauses.ackTimeout)} / ${m((r) => r.retryCauses.refused)} / ${m((r) => r.retryCauses.closed)}`,
        results.map((r) => `${r.retryCauses.connectTimeout}/${r.retryCauses.ackTimeout}/${r.retryCauses.refused}/${r.retryCauses.closed}`).join(', '),
      ],
      ['publications (HTTP on the other nodes) / errors', `${m((r) => r.published)} / ${m((r) => r.publishErrors)}`, results.map((r) => `${r.published}/${r.publishErrors}`).join(', ')],
      [
        'listen-queue overflows / SYNs dropped / SYN cookies sent during the storm (whole machine)',
        `${m((r) => r.listenQueue.overflows)} / ${m((r) => r.listenQueue.drops)} / ${m((r) => r.listenQueue.syncookies)}`,
        results.map((r) => `${r.listenQueue.overflows}/${r.listenQueue.drops}/${r.listenQueue.syncookies}`).join(', '),
      ],
      [
        'failed publications by cause (all runs)',
        Object.entries(sumCounts(results.map((r) => r.publishErrorsBy ?? {})))
          .map(([cause, count]) => `${cause}: ${count}`)
          .join('; ') || 'none',
        results.map((r) => Object.values(r.publishErrorsBy ?? {}).reduce((a, b) => a + b, 0)).join(', '),
      ],
      ['latency of clients on the other nodes during the run p50 / p99', `${m((r) => r.othersLatency.p50)} / ${m((r) => r.othersLatency.p99)} ms`, results.map((r) => r.othersLatency.p99).join(', ')],
    ],
  );
  const last = results[results.length - 1] as RunResult;
  const cpu = table(
    ['process', 'CPU % during the storm (median)', 'CPU s (last run)'],
    last.cpuStorm.map((p, i) => [p.name, round(median(results.map((r) => r.cpuStorm[i]?.cpuPct ?? Number.NaN)), 1), p.cpuSeconds]),
  );
  return [verdictLine, '', main, '', 'CPU per process from SIGTERM until every client recovered (% of one core; node 1 is the drained node, counted until it exited; the workers hold the clients of the drained node unless marked):', '', cpu].join('\n');
}

function charts(results: RunResult[]): ChartSpec[] {
  return results.map((r) => ({
    id: `storm-recovered-over-time-run-${r.run + 1}`,
    title: `Reconnect storm: ${r.connected} clients leaving a drained node (run ${r.run + 1})`,
    xLabel: 'seconds since SIGTERM',
    yLabel: 'clients',
    series: [
      { name: 'reconnected', points: r.reconnectedOverTime },
      { name: 'recovered (recovered: true rejoin)', points: r.recoveredOverTime },
    ],
  }));
}

runScenario({
  name: 'reconnect-storm',
  options: parseOptions,
  timeLimitMs: (options) => options.runs * (60_000 + (options.connections / 150) * 1000 + options.drainMs + 150_000),
  describe: (_unit, options, run) =>
    `storm run ${run + 1}/${options.runs}: ${options.connections} clients on node 1 (+${options.others} on the others), ${options.nodes} nodes, drain ${options.drainMs} ms, ${options.rate}+${options.userRate} publications/s`,
  run: (_unit, { options, run }) => runOnce(options, run),
  report: (results, { options, command }) => {
    const summary = summaryMarkdown(results, options);
    const markdown = [
      ...reportHeader(
        `Reconnect storm: ${options.connections.toLocaleString('en-US')} clients drained off one node`,
        command,
        `${options.nodes} nodes on one redis-server, clients connect to the nodes directly; ${options.runs} run(s)`,
      ),
      summary,
      '',
      ...results.flatMap((r) =>
        r.stormPerf !== undefined
          ? [`## perf samples of every node from SIGTERM over ${options.drainMs / 1000} s by owner, run ${r.run + 1} (--perf-dir; 499 Hz)`, '', ownersMarkdown([{ name: 'roomcast', ...r.stormPerf }]), '']
          : [],
      ),
    ].join('\n');
    return { markdown, json: { summaryMarkdown: summary, charts: charts(results), results } };
  },
});
