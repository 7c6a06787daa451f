/**
 * Scenario 11, holding idle connections: what the nodes spend to keep
 * `--connections` idle clients (no publications at all) over `--nodes` nodes on one
 * redis-server, Roomcast against plain Socket.IO + redis-adapter holding the same
 * clients through the same load workers (bench/lib/capacity-worker.ts: each client
 * in a personal room and a group room of about 10, with a JWT that both verify; a
 * Roomcast client is joined to its personal room by the server, as the SDK is). What
 * remains is per-connection upkeep: heartbeats, timers, sweeps, the adapter's own traffic.
 *
 * Per target: the ramp (connections/s through handshake + auth + 2 joins, the same
 * load for both), a settle pause, then `--hold-s` seconds without publications:
 * CPU % of one core of all nodes together, of redis-server and of the workers, RSS
 * per node. Targets run one after the other within a run (the order rotates per run);
 * medians over `--runs`.
 *
 * Target (issue 16): node CPU to hold 100,000 idle connections <= 1.0x plain Socket.IO.
 *
 * --load-s N (default 0: none; 1 with --smoke): after the hold, a loaded phase of N seconds with the
 * headline's publication load (`--rate` publications/s into random group rooms and
 * `--user-rate` into random personal rooms, over the HTTP API of each target, the
 * nodes in turn, `data: { bt }`): every client times each delivery from `bt`, and the
 * report gives p50/p99/max per target with the nodes' CPU over the phase. This is
 * the headline's load without its churn and offset checks, on plain Socket.IO +
 * redis-adapter too, so the headline's p99 has a baseline from the same machine.
 *
 *   npm run bench:idle-hold -- [--targets roomcast,socketio] [--connections 100000] [--nodes 6]
 *     [--workers 8] [--hold-s 60] [--settle-s 10] [--concurrency 50] [--runs 1] [--smoke]
 *     [--profile-dir <dir>] [--perf-dir <dir>] [--load-s 0] [--rate 200] [--user-rate 20]
 *
 * --profile-dir: every node is started with its inspector on a loopback port and
 * sampled (V8 CPU profile, 1 ms) over the hold window only, the ramp left out; the
 * profiles are kept as <dir>/<target>-run<N>-node<M>.cpuprofile and the report sums
 * each target's self time by package and function over its nodes. Sampling costs
 * both targets alike, so the CPU figures of a profiled run are read as a pair only.
 *
 * --perf-dir: the nodes are started with --perf-basic-prof and Linux `perf` samples
 * all of them over the hold (bench/lib/perf-record.ts; needs linux-perf), kept as
 * <dir>/<target>-run<N>.perf.data; the report splits each target's samples by owner
 * (kernel, V8 GC, each JavaScript package, native code with no JavaScript on the
 * stack) side by side (bench/perf-summary.ts, which also reads the files later).
 * perf sees what the inspector's "(program)" hides; its cost is small and alike. With
 * --load-s, the loaded phase is sampled too (<dir>/<target>-run<N>-loaded.perf.data).
 *
 * Settings: Roomcast as shipped (AUTO_JOIN_USER_ROOM on, PING_INTERVAL_MS default)
 * with the bench's lifted per-address and rate limits (bench/lib/harness.ts
 * roomcastBenchEnv: the load comes from a few loopback addresses); plain Socket.IO
 * with its defaults (pingInterval 25 s).
 */
import type { CapacityStart } from '../lib/capacity-worker.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { cpuBetween, cpuMark, publishFor, rssMB, sumOf, type ProcessRef, type RoomPublisher } from '../lib/room-fleet.js';
import { httpPublisher } from '../lib/rooms-run.js';
import { LatencyHistogram, nowMs } from '../lib/lean-client.js';
import { inspectArgs, profileNodes } from '../lib/inspector-profile.js';
import { mergeProfiles, profileMarkdown, summarizeProfile, type ProfileSummary } from '../profile-summary.js';
import { ownersMarkdown, perfOwners, type PerfOwners } from '../perf-summary.js';
import { PERF_NODE_ARGS, recordPerf } from '../lib/perf-record.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { medianOf, reportHeader, runScenario } from '../lib/scenario-runner.js';
import {
  BENCH_JWT_SECRET,
  Progress,
  askAll,
  forkWorker,
  ratioText,
  round,
  sleep,
  sourceAddresses,
  startTarget,
  stopServer,
  stopWorkers,
  table,
  waitFor,
  type ServerHandle,
  type WorkerHandle,
} from '../lib/harness.js';

type HoldTarget = 'roomcast' | 'socketio';
const HOLD_TARGETS: readonly HoldTarget[] = ['roomcast', 'socketio'];
const GROUP_SIZE = 10;
/** Under the 20,000 open files of a process, as the headline's nodes. */
const PER_NODE = 16_700;
/** Under 15,000 connections per load worker, as the headline's workers. */
const PER_WORKER = 14_000;
/** After the loaded phase's last answer: deliveries still on their way. */
const LOAD_DRAIN_MS = 3000;

interface Options {
  targets: HoldTarget[];
  connections: number;
  nodes: number;
  workers: number;
  holdMs: number;
  settleMs: number;
  concurrency: number;
  runs: number;
  smoke: boolean;
  /** Where the hold-window profiles go (--profile-dir), or undefined: not profiled. */
  profileDir: string | undefined;
  /** Where the hold window's perf recordings go (--perf-dir), or undefined: not sampled. */
  perfDir: string | undefined;
  /** The loaded phase after the hold (--load-s; 0: none), its group and personal publication rates. */
  loadMs: number;
  groupRate: number;
  userRate: number;
}

/** The loaded phase of one run (--load-s). */
interface LoadResult {
  published: number;
  failedPublications: number;
  /** Deliveries the answered publications owe the clients held (group members, personal rooms). */
  expectedDeliveries: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  nodesCpuPct: number;
  redisCpuPct: number;
  workersCpuPct: number;
  /** perf samples over the loaded phase by owner, all nodes together (--perf-dir). */
  perf?: PerfOwners;
}

interface RunResult {
  target: HoldTarget;
  run: number;
  connected: number;
  failed: number;
  dropped: number;
  firstError: string | null;
  rampS: number;
  connectPerS: number;
  /** CPU ms per connected client spent over the ramp by the nodes + redis-server, and by the load workers. */
  rampServerMsPerConnection: number;
  rampWorkersMsPerConnection: number;
  /** Sum over the nodes, % of one core, during the hold. */
  nodesCpuPct: number;
  redisCpuPct: number;
  workersCpuPct: number;
  perProcess: Array<{ name: string; cpuPct: number; cpuSeconds: number }>;
  nodeRssMB: number[];
  /** Self time over the hold, all nodes of the run together (--profile-dir). */
  holdProfile?: ProfileSummary;
  /** perf samples over the hold by owner, all nodes together (--perf-dir). */
  holdPerf?: PerfOwners;
  load?: LoadResult;
}

interface Grown {
  connected: number;
  failed: number;
  dropped: number;
  error?: string;
}

async function startNodes(target: HoldTarget, options: Options, redis: RedisProcess, inspectorPorts: number[]): Promise<ServerHandle[]> {
  // Started side by side: a node's start is mostly waiting (module loading, Redis connect).
  const started = await Promise.allSettled(
    Array.from({ length: options.nodes }, async (_, n) => {
      const inspector = options.profileDir !== undefined ? await inspectArgs() : undefined;
      if (inspector !== undefined) inspectorPorts[n] = inspector.port;
      const nodeArgs = [...(inspector?.args ?? []), ...(options.perfDir !== undefined ? PERF_NODE_ARGS : [])];
      return startTarget(target, { env: { REDIS_URL: redis.url, NODE_ID: `bench-idle${n + 1}`, JWT_SECRET: BENCH_JWT_SECRET }, nodeArgs });
    }),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const node of nodes) await stopServer(node);
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return nodes;
}

function groupsOf(options: Options): number {
  return Math.max(1, Math.round(options.connections / GROUP_SIZE));
}

/** Members of group room g: the clients i < connections with i % groups === g (capacity-worker.ts). */
function groupMembers(g: number, options: Options): number {
  return g < options.connections ? Math.floor((options.connections - 1 - g) / groupsOf(options)) + 1 : 0;
}

/**
 * Publishes `{ bt }` into the rooms each target's clients are in (capacity-worker.ts names them), over
 * each target's own HTTP route, the nodes in turn; counts what was answered and the deliveries it owes.
 */
function holdPublisher(target: HoldTarget, urls: string[], options: Options): RoomPublisher & { published: number; failed: number; expected: number; close(): void } {
  const publishers = urls.map((url) => httpPublisher(target, url));
  let next = 0;
  const counts = {
    published: 0,
    failed: 0,
    expected: 0,
    publish(kind: 'group' | 'user', n: number): Promise<void> {
      const room = kind === 'group' ? (target === 'roomcast' ? `bench:g${n}` : `g${n}`) : target === 'roomcast' ? `user:bench-${n}` : `user:${n}`;
      const publisher = publishers[next++ % publishers.length];
      if (publisher === undefined) return Promise.resolve();
      return publisher.publish(room, { bt: nowMs() }).then((ok) => {
        if (!ok) {
          counts.failed++;
          return;
        }
        counts.published++;
        counts.expected += kind === 'group' ? groupMembers(n, options) : 1;
      });
    },
    close(): void {
      for (const publisher of publishers) publisher.close();
    },
  };
  return counts;
}

/** The loaded phase: the headline's publication rates for options.loadMs, every delivery timed by its client. */
async function loadPhase(target: HoldTarget, options: Options, run: number, nodes: ServerHandle[], workers: WorkerHandle[], processes: ProcessRef[]): Promise<LoadResult> {
  const urls = nodes.map((node) => node.url);
  type LatencyReply = { histogram: ReturnType<LatencyHistogram['toJSON']>; received: number };
  // Anything timed before (nothing is published before this phase) is dropped.
  await askAll<LatencyReply>(workers, { type: 'latency', reset: true }, 'latency');
  const publisher = holdPublisher(target, urls, options);
  const perfFile = options.perfDir !== undefined ? join(options.perfDir, `${target}-run${run + 1}-loaded.perf.data`) : undefined;
  const from = cpuMark(processes);
  try {
    await Promise.all([
      publishFor(publisher, { ms: options.loadMs, groupRate: options.groupRate, groups: groupsOf(options), userRate: options.userRate, users: options.connections }),
      perfFile !== undefined ? recordPerf(nodes.map((node) => node.pid), options.loadMs, perfFile) : undefined,
    ]);
  } finally {
    publisher.close();
  }
  const perProcess = cpuBetween(processes, from, cpuMark(processes));
  await sleep(LOAD_DRAIN_MS);
  const replies = await askAll<LatencyReply>(workers, { type: 'latency', reset: false }, 'latency');
  const merged = new LatencyHistogram();
  for (const reply of replies) merged.merge(reply.histogram);
  const pct = (prefix: string): number => round(sumOf(perProcess.filter((p) => p.name.startsWith(prefix)).map((p) => p.cpuPct)), 1);
  return {
    published: publisher.published,
    failedPublications: publisher.failed,
    expectedDeliveries: publisher.expected,
    received: replies.reduce((a, r) => a + r.received, 0),
    p50Ms: round(merged.quantile(0.5), 2),
    p99Ms: round(merged.quantile(0.99), 2),
    p999Ms: round(merged.quantile(0.999), 2),
    maxMs: round(merged.max, 1),
    nodesCpuPct: pct('node'),
    redisCpuPct: pct('redis'),
    workersCpuPct: pct('worker'),
    ...(perfFile !== undefined ? { perf: await perfOwners(perfFile) } : {}),
  };
}

async function runTarget(target: HoldTarget, options: Options, run: number): Promise<RunResult> {
  const redis = await startRedis({ extraArgs: ['--maxclients', '10000'] });
  let nodes: ServerHandle[] = [];
  const workers: WorkerHandle[] = [];
  try {
    const inspectorPorts: number[] = [];
    nodes = await startNodes(target, options, redis, inspectorPorts);
    const urls = nodes.map((node) => node.url);
    const perWorker = Math.ceil(options.connections / options.workers);
    const bar = new Progress(`${target} run ${run + 1}: connecting`, options.connections);
    const progress = new Map<number, number>();
    const servers: ProcessRef[] = [...nodes.map((node, n) => ({ name: `node ${n + 1}`, pid: node.pid })), { name: 'redis-server', pid: redis.pid }];
    const rampFrom = cpuMark(servers);
    const began = Date.now();
    const replies = await Promise.all(
      Array.from({ length: options.workers }, (_, w) => {
        const worker = forkWorker('capacity-worker.js');
        workers.push(worker);
        const count = Math.min(perWorker, options.connections - w * perWorker);
        const start: CapacityStart = {
          type: 'start',
          target,
          url: urls[0] ?? '',
          urls,
          firstIndex: w * perWorker,
          groups: groupsOf(options),
          concurrency: options.concurrency,
          addresses: sourceAddresses(w),
          // Both verify a JWT per connection (plain Socket.IO in io.use, bench/baselines/plain-socketio-server.ts).
          jwtSecret: BENCH_JWT_SECRET,
        };
        worker.child.send(start);
        const reply = waitFor<Grown>(worker, 'grown', 900_000, (m) => {
          if (m.type === 'progress') {
            progress.set(w, Number(m.connected));
            bar.update([...progress.values()].reduce((a, b) => a + b, 0));
          }
        });
        worker.child.send({ type: 'grow', upTo: Math.max(0, count) });
        return reply;
      }),
    );
    const rampS = (Date.now() - began) / 1000;
    const connected = replies.reduce((a, r) => a + r.connected, 0);
    bar.update(connected, 'done');
    const processes: ProcessRef[] = [...servers, ...workers.map((worker, w) => ({ name: `worker ${w + 1}`, pid: worker.pid }))];
    // The workers were forked at the ramp's start: all their CPU so far is the ramp's.
    const ramp = cpuBetween(processes, { at: rampFrom.at, cpu: new Map([...rampFrom.cpu, ...workers.map((w) => [w.pid, 0] as [number, number])]) }, cpuMark(processes));
    const rampMsPerConnection = (prefixes: string[]): number =>
      round((sumOf(ramp.filter((p) => prefixes.some((prefix) => p.name.startsWith(prefix))).map((p) => p.cpuSeconds)) * 1000) / Math.max(1, connected), 2);
    await sleep(options.settleMs);
    const from = cpuMark(processes);
    // Profiled, the hold is the sampling window; otherwise just the wait.
    const perfFile = options.perfDir !== undefined ? join(options.perfDir, `${target}-run${run + 1}.perf.data`) : undefined;
    if (perfFile !== undefined) mkdirSync(options.perfDir as string, { recursive: true });
    const [profiles] = await Promise.all([
      options.profileDir !== undefined ? profileNodes(inspectorPorts, options.holdMs, options.profileDir, `${target}-run${run + 1}`) : sleep(options.holdMs).then(() => []),
      perfFile !== undefined ? recordPerf(nodes.map((node) => node.pid), options.holdMs, perfFile) : undefined,
    ]);
    const perProcess = cpuBetween(processes, from, cpuMark(processes));
    const pct = (prefix: string): number => round(sumOf(perProcess.filter((p) => p.name.startsWith(prefix)).map((p) => p.cpuPct)), 1);
    const load = options.loadMs > 0 ? await loadPhase(target, options, run, nodes, workers, processes) : undefined;
    // Asking a worker to grow to what it holds opens nothing and answers its counters: drops during the hold (and load) count.
    const after = await Promise.all(
      workers.map((worker, w) => {
        const reply = waitFor<Grown>(worker, 'grown', 60_000);
        worker.child.send({ type: 'grow', upTo: Math.max(0, Math.min(perWorker, options.connections - w * perWorker)) });
        return reply;
      }),
    );
    const result: RunResult = {
      target,
      run,
      connected,
      failed: replies.reduce((a, r) => a + r.failed, 0),
      dropped: after.reduce((a, r) => a + r.dropped, 0),
      firstError: replies.find((r) => r.error !== undefined)?.error ?? null,
      rampS: round(rampS, 1),
      connectPerS: round(connected / rampS, 0),
      rampServerMsPerConnection: rampMsPerConnection(['node', 'redis']),
      rampWorkersMsPerConnection: rampMsPerConnection(['worker']),
      nodesCpuPct: pct('node'),
      redisCpuPct: pct('redis'),
      workersCpuPct: pct('worker'),
      perProcess,
      nodeRssMB: rssMB(processes.filter((p) => p.name.startsWith('node'))).map((p) => p.rssMB),
      ...(profiles.length > 0 ? { holdProfile: summarizeProfile(mergeProfiles(profiles), 25) } : {}),
      ...(perfFile !== undefined ? { holdPerf: await perfOwners(perfFile) } : {}),
      ...(load !== undefined ? { load } : {}),
    };
    process.stderr.write(
      `  ${target} run ${run + 1}: ${connected} held (${result.failed} failed), ramp ${result.connectPerS}/s, nodes ${result.nodesCpuPct}% of a core over ${options.holdMs / 1000} s idle, redis ${result.redisCpuPct}%\n`,
    );
    if (load !== undefined) {
      process.stderr.write(
        `  ${target} run ${run + 1} loaded: ${load.published} published (${load.failedPublications} failed), ${load.received}/${load.expectedDeliveries} delivered, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, max ${load.maxMs} ms, nodes ${load.nodesCpuPct}% of a core\n`,
      );
    }
    return result;
  } finally {
    await stopWorkers(workers);
    for (const node of nodes) await stopServer(node);
    await redis.stop();
  }
}

export interface IdleHoldSummary {
  target: HoldTarget;
  runs: number;
  connected: number;
  failed: number;
  dropped: number;
  connectPerS: number;
  rampServerMsPerConnection: number;
  rampWorkersMsPerConnection: number;
  nodesCpuPct: number;
  nodesCpuPctRuns: number[];
  redisCpuPct: number;
  workersCpuPct: number;
  nodeRssMB: number;
  /** The loaded phase (--load-s): medians over the runs that had one. */
  load?: LoadSummary;
}

interface LoadSummary {
  published: number;
  failedPublications: number;
  /** Summed over runs: a missing delivery is counted, never averaged away. */
  received: number;
  expectedDeliveries: number;
  p50Ms: number;
  p99Ms: number;
  p99MsRuns: number[];
  maxMs: number;
  nodesCpuPct: number;
  workersCpuPct: number;
}

function summarizeLoad(mine: RunResult[]): LoadSummary | undefined {
  const loads = mine.flatMap((r) => (r.load !== undefined ? [r.load] : []));
  if (loads.length === 0) return undefined;
  return {
    published: medianOf(loads, (l) => l.published, 0),
    failedPublications: loads.reduce((a, l) => a + l.failedPublications, 0),
    received: loads.reduce((a, l) => a + l.received, 0),
    expectedDeliveries: loads.reduce((a, l) => a + l.expectedDeliveries, 0),
    p50Ms: medianOf(loads, (l) => l.p50Ms, 2),
    p99Ms: medianOf(loads, (l) => l.p99Ms, 2),
    p99MsRuns: loads.map((l) => l.p99Ms),
    maxMs: medianOf(loads, (l) => l.maxMs, 1),
    nodesCpuPct: medianOf(loads, (l) => l.nodesCpuPct, 1),
    workersCpuPct: medianOf(loads, (l) => l.workersCpuPct, 1),
  };
}

function summarize(results: RunResult[], targets: readonly HoldTarget[]): IdleHoldSummary[] {
  return targets.map((target) => {
    const mine = results.filter((r) => r.target === target);
    const load = summarizeLoad(mine);
    return {
      target,
      runs: mine.length,
      connected: medianOf(mine, (r) => r.connected, 0),
      failed: mine.reduce((a, r) => a + r.failed, 0),
      dropped: mine.reduce((a, r) => a + r.dropped, 0),
      connectPerS: medianOf(mine, (r) => r.connectPerS, 0),
      rampServerMsPerConnection: medianOf(mine, (r) => r.rampServerMsPerConnection, 2),
      rampWorkersMsPerConnection: medianOf(mine, (r) => r.rampWorkersMsPerConnection, 2),
      nodesCpuPct: medianOf(mine, (r) => r.nodesCpuPct, 1),
      nodesCpuPctRuns: mine.map((r) => r.nodesCpuPct),
      redisCpuPct: medianOf(mine, (r) => r.redisCpuPct, 1),
      workersCpuPct: medianOf(mine, (r) => r.workersCpuPct, 1),
      nodeRssMB: medianOf(mine, (r) => sumOf(r.nodeRssMB), 1),
      ...(load !== undefined ? { load } : {}),
    };
  });
}

/** The loaded phase's table (--load-s): latency of every delivery and the nodes' CPU, Roomcast beside plain Socket.IO. */
function loadMarkdown(summaries: IdleHoldSummary[], options: Options): string[] {
  const loaded = summaries.filter((s) => s.load !== undefined);
  if (loaded.length === 0) return [];
  const rc = loaded.find((s) => s.target === 'roomcast')?.load;
  const sio = loaded.find((s) => s.target === 'socketio')?.load;
  return [
    '',
    `## Under the headline's publication load: ${options.groupRate} publications/s into random group rooms + ${options.userRate}/s into personal rooms for ${options.loadMs / 1000} s (--load-s)`,
    '',
    'Every client times each delivery from the send time its publisher put in `data`; the publisher runs in the scenario process. No churn and no offset checks (the headline has both), the same load for both targets.',
    '',
    table(
      ['target', 'published (median)', 'failed', 'delivered / owed (all runs)', 'p50 ms', 'p99 ms (median; per run)', 'max ms', 'nodes CPU % of a core', 'workers CPU %'],
      loaded.map((s) => {
        const l = s.load as LoadSummary;
        return [s.target, l.published, l.failedPublications, `${l.received} / ${l.expectedDeliveries}`, l.p50Ms, `${l.p99Ms} (${l.p99MsRuns.join(', ')})`, l.maxMs, l.nodesCpuPct, l.workersCpuPct];
      }),
    ),
    '',
    `- Delivery p99 under load against plain Socket.IO: ${ratioText(rc?.p99Ms, sio?.p99Ms, { baseline: 'plain Socket.IO' })}; p50 ${ratioText(rc?.p50Ms, sio?.p50Ms, { baseline: 'plain Socket.IO' })}; nodes' CPU ${ratioText(rc?.nodesCpuPct, sio?.nodesCpuPct, { baseline: 'plain Socket.IO' })}`,
  ];
}

function summaryMarkdown(summaries: IdleHoldSummary[], options: Options): string {
  const rc = summaries.find((s) => s.target === 'roomcast');
  const sio = summaries.find((s) => s.target === 'socketio');
  const ratioValue = rc && sio && sio.nodesCpuPct > 0 ? round(rc.nodesCpuPct / sio.nodesCpuPct, 2) : Number.NaN;
  const verdict = Number.isFinite(ratioValue) ? (ratioValue <= 1 ? '**met**' : '**missed**') : 'not judged';
  return [
    `${options.connections} idle connections (a personal room and a group room of ${GROUP_SIZE} each) over ${options.nodes} nodes on one redis-server, held by ${options.workers} load workers; ${options.holdMs / 1000} s without publications after ${options.settleMs / 1000} s settle; medians over ${options.runs} run(s).`,
    '',
    table(
      [
        'target',
        'runs',
        'held',
        'failed',
        'dropped',
        'ramp connections/s',
        'ramp CPU ms per connection: nodes + redis / load workers',
        'nodes CPU % of a core (median; per run)',
        'redis-server CPU %',
        'workers CPU %',
        'nodes RSS MB',
      ],
      summaries.map((s) => [
        s.target,
        s.runs,
        s.connected,
        s.failed,
        s.dropped,
        s.connectPerS,
        `${s.rampServerMsPerConnection} / ${s.rampWorkersMsPerConnection}`,
        `${s.nodesCpuPct} (${s.nodesCpuPctRuns.join(', ')})`,
        s.redisCpuPct,
        s.workersCpuPct,
        s.nodeRssMB,
      ]),
    ),
    '',
    `- Node CPU to hold the idle connections against plain Socket.IO (target <= 1.0x): ${ratioText(rc?.nodesCpuPct, sio?.nodesCpuPct, { baseline: 'plain Socket.IO' })}, ${verdict}`,
    `- Server CPU per connection over the ramp (nodes + redis-server) against plain Socket.IO: ${ratioText(rc?.rampServerMsPerConnection, sio?.rampServerMsPerConnection, { baseline: 'plain Socket.IO' })}; the load workers' share on the same 2 cores: ${rc?.rampWorkersMsPerConnection ?? '-'} ms (Roomcast's clients) and ${sio?.rampWorkersMsPerConnection ?? '-'} ms (plain Socket.IO's)`,
    ...loadMarkdown(summaries, options),
  ].join('\n');
}

/** Per run and phase, the two targets' perf samples by owner side by side (--perf-dir); Roomcast first. */
function perfSections(results: RunResult[]): string[] {
  const runs = [...new Set(results.map((r) => r.run))];
  const phases: Array<{ name: string; of: (r: RunResult) => PerfOwners | undefined }> = [
    { name: 'the hold', of: (r) => r.holdPerf },
    { name: 'the loaded phase', of: (r) => r.load?.perf },
  ];
  return runs.flatMap((run) =>
    phases.flatMap((phase) => {
      const sampled = HOLD_TARGETS.flatMap((target) => results.filter((r) => r.run === run && r.target === target && phase.of(r) !== undefined));
      if (sampled.length === 0) return [];
      return [
        `## perf samples of all nodes during ${phase.name} by owner, run ${run + 1} (--perf-dir; 499 Hz, same window for both)`,
        '',
        ownersMarkdown(sampled.map((r) => ({ name: r.target, ...(phase.of(r) as PerfOwners) }))),
        '',
      ];
    }),
  );
}

runScenario<Options, HoldTarget, RunResult>({
  name: 'idle-hold',
  options: ({ number, list, get, smoke }): Options => {
    const connections = number('connections', smoke ? 100 : 100_000);
    const options: Options = {
      targets: list('targets', HOLD_TARGETS, HOLD_TARGETS),
      smoke,
      connections,
      nodes: number('nodes', Math.max(2, Math.ceil(connections / PER_NODE))),
      workers: number('workers', Math.max(2, Math.ceil(connections / PER_WORKER))),
      holdMs: number('hold-s', smoke ? 0.5 : 60) * 1000,
      settleMs: number('settle-s', smoke ? 0.2 : 10) * 1000,
      concurrency: number('concurrency', smoke ? 20 : 50),
      runs: number('runs', 1),
      profileDir: get('profile-dir'),
      perfDir: get('perf-dir'),
      // The smoke run takes a short loaded phase, so CI runs its code.
      loadMs: number('load-s', smoke ? 1 : 0) * 1000,
      groupRate: number('rate', 200),
      userRate: number('user-rate', 20),
    };
    if (Math.ceil(options.connections / options.nodes) >= 20_000) throw new Error(`--nodes ${options.nodes}: a node may hold fewer than 20,000 connections`);
    if (Math.ceil(options.connections / options.workers) >= 15_000) throw new Error(`--workers ${options.workers}: a worker should hold fewer than 15,000 connections`);
    return options;
  },
  // A ramp at 300 connections/s at worst, per target and run, plus the hold.
  timeLimitMs: (options) =>
    120_000 + options.runs * options.targets.length * (60_000 + (options.connections / 300) * 1000 + options.settleMs + options.holdMs + (options.loadMs > 0 ? options.loadMs + 60_000 : 0)),
  units: (options, run) => options.targets.map((_, i) => options.targets[(i + run) % options.targets.length] as HoldTarget),
  describe: (target, options, run) =>
    `${target} run ${run + 1}/${options.runs}: ${options.connections} idle connections over ${options.nodes} nodes, ${options.holdMs / 1000} s hold${options.loadMs > 0 ? `, then ${options.loadMs / 1000} s loaded` : ''}`,
  run: (target, { options, run }) => runTarget(target, options, run),
  report: (results, { options, command }) => {
    const summaries = summarize(results, options.targets);
    const summary = summaryMarkdown(summaries, options);
    const processes = [...new Set(results.flatMap((r) => r.perProcess.map((p) => p.name)))];
    const markdown = [
      ...reportHeader('Holding idle connections: node CPU against plain Socket.IO', command),
      summary,
      '',
      '## CPU % per process during the hold, every run',
      '',
      table(['target', 'run', ...processes], results.map((r) => [r.target, r.run + 1, ...processes.map((name) => r.perProcess.find((p) => p.name === name)?.cpuPct ?? '-')])),
      '',
      ...results.flatMap((r) =>
        r.holdProfile !== undefined ? [`## Where the nodes' time goes during the hold: ${r.target}, run ${r.run + 1} (all nodes, --profile-dir)`, '', profileMarkdown(r.holdProfile), ''] : [],
      ),
      ...perfSections(results),
    ].join('\n');
    return { markdown, json: { results, summaries, summaryMarkdown: summary, charts: [] } };
  },
});
