/**
 * Scenario 1, capacity: N idle authenticated connections on one server process
 * (Roomcast single node in memory, bare ws, plain Socket.IO), each in two rooms
 * (a personal room and one of `--groups` group rooms), opened by forked
 * load-generator workers from several 127.0.x.y source addresses with a
 * bounded connect concurrency.
 *
 * The server runs with `--expose-gc --import dist/bench/lib/measure-preload.js`
 * and answers {type:'measure'} over IPC with its memory after forced GCs. It is
 * measured at 0 connections and every `--step` connections on the way up:
 *   per connection = (value at N - value at 0) / N, for RSS and V8 heapUsed;
 *   server CPU per accepted connection (connect + auth + 2 joins) = server CPU
 *   during the ramp (GC measurements left out) / connections.
 * Targets (issue 16): RSS per idle connection <= 1.0x plain Socket.IO (moonshot <= 10 KiB);
 * server CPU per accepted connection (JWT + 2 joins) <= 1.2x plain Socket.IO. Bare ws is shown as the floor.
 * When Roomcast misses it (or with --profile), a heap snapshot of Roomcast is
 * taken after a warm-up and again after --profile-at more connections: heap
 * growth per connection by class, and what retains the biggest classes.
 *
 *   npm run bench:capacity -- [--connections 19500] [--step 2500] [--workers 3]
 *     [--concurrency 16] [--groups 100] [--targets roomcast,bare-ws,socketio]
 *     [--runs 3] [--profile | --no-profile] [--profile-at 2500] [--cpu-prof] [--smoke]
 *
 * --cpu-prof: a V8 CPU profile of each target during its first ramp, summarized in the report
 *   (ROOMCAST_BENCH_PROFILE_DIR=<dir> also keeps the .cpuprofile there).
 *
 * Output: tables on stdout, JSON + Markdown in bench/reports/.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processCpuSeconds } from '../lib/proc-cpu.js';
import type { CapacityStart } from '../lib/capacity-worker.js';
import { HeapSnapshot, diffClasses, topGrowth } from '../soak-heapdiff.js';
import { profileMarkdown as cpuProfileTables, summarizeProfile, type ProfileSummary } from '../profile-summary.js';
import { medianOf, reportHeader, runScenario, type ScenarioArgs } from '../lib/scenario-runner.js';
import {
  BENCH_JWT_SECRET,
  Progress,
  cpuProfileArgs,
  TARGETS,
  forkWorker,
  ipcHandle,
  median,
  ratio,
  repoRoot,
  round,
  sleep,
  sourceAddresses,
  startTarget,
  stopServer,
  stopWorkers,
  table,
  waitFor,
  type ServerHandle,
  type Target,
  type WorkerHandle,
} from '../lib/harness.js';

/** Issue 16: RSS per idle connection, at most this many times plain Socket.IO's. */
const TARGET_RSS_RATIO = 1;
const MOONSHOT_RSS_KIB = 10;
/** Issue 16: server CPU per accepted connection, at most this many times plain Socket.IO's. */
const TARGET_CPU_RATIO = 1.2;
const PRELOAD = join(repoRoot, 'dist/bench/lib/measure-preload.js');
const KIB = 1024;
const MIB = 1024 * 1024;

interface Options {
  targets: Target[];
  connections: number;
  step: number;
  workers: number;
  concurrency: number;
  groups: number;
  runs: number;
  settleMs: number;
  profile: 'auto' | 'on' | 'off';
  profileAt: number;
  /** A V8 CPU profile of Roomcast during its first ramp (--cpu-prof). */
  cpuProf: boolean;
  smoke: boolean;
}

function parseOptions({ has, number, list, smoke }: ScenarioArgs): Options {
  const targets = list('targets', TARGETS, TARGETS);
  const connections = number('connections', smoke ? 60 : 19_500);
  const workers = number('workers', smoke ? 2 : Math.max(3, Math.ceil(connections / 9000)));
  if (Math.ceil(connections / workers) >= 10_000) throw new Error('keep each worker under 10,000 connections (--workers)');
  return {
    targets,
    smoke,
    connections,
    workers,
    step: number('step', smoke ? 20 : 2500),
    concurrency: number('concurrency', smoke ? 4 : 16),
    groups: number('groups', smoke ? 5 : 100),
    runs: number('runs', smoke ? 1 : 3),
    settleMs: smoke ? 200 : 1000,
    // The smoke run exercises the profile path on a tiny heap.
    profile: has('no-profile') ? 'off' : has('profile') || smoke ? 'on' : 'auto',
    profileAt: number('profile-at', smoke ? 20 : 2500),
    cpuProf: has('cpu-prof'),
  };
}

// ---------- the server's own view of its memory (measure-preload.ts)

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

interface Point extends Memory {
  connections: number;
  /** server CPU per connection accepted since the previous point, µs (does it grow with N?) */
  cpuPerConnUs: number;
}

function startMeasured(target: Target, cpuProfDir?: string): Promise<ServerHandle> {
  return startTarget(target, {
    nodeArgs: ['--expose-gc', '--import', PRELOAD, ...cpuProfileArgs(cpuProfDir)],
    ipc: true,
    // JWT_SECRET: plain Socket.IO verifies the same tokens (bench/baselines/plain-socketio-server.ts); bare ws ignores it.
    // Profiled: a short drain, so the SIGTERM that writes the profile ends well within stopServer's grace.
    env: { JWT_SECRET: BENCH_JWT_SECRET, ...(cpuProfDir !== undefined ? { DRAIN_TIMEOUT_MS: '3000' } : {}) },
  });
}

async function measure(server: WorkerHandle): Promise<Memory> {
  const reply = waitFor<Memory>(server, 'measured', 60_000);
  server.child.send({ type: 'measure' });
  const { rss, heapUsed, external, arrayBuffers } = await reply;
  return { rss, heapUsed, external, arrayBuffers };
}

async function snapshot(server: WorkerHandle, path: string): Promise<void> {
  const reply = waitFor(server, 'snapshotted', 300_000);
  server.child.send({ type: 'snapshot', path });
  await reply;
}

// ---------- workers

async function startWorkers(target: Target, server: ServerHandle, options: Options): Promise<WorkerHandle[]> {
  const perWorker = Math.ceil(options.connections / options.workers);
  const workers: WorkerHandle[] = [];
  for (let w = 0; w < options.workers; w++) {
    const worker = forkWorker('capacity-worker.js');
    workers.push(worker);
    const start: CapacityStart = {
      type: 'start',
      target,
      url: server.url,
      firstIndex: w * perWorker,
      groups: options.groups,
      concurrency: options.concurrency,
      addresses: sourceAddresses(w),
      // Roomcast and plain Socket.IO verify a JWT per connection (issue 16 counts "JWT + join"); bare ws has no auth.
      ...(target !== 'bare-ws' ? { jwtSecret: BENCH_JWT_SECRET } : {}),
    };
    worker.child.send(start);
  }
  return workers;
}

interface Grown {
  connected: number;
  failed: number;
  dropped: number;
  error?: string;
}

/** Grows the workers to `total` connections between them; resolves with their sums. */
async function growTo(workers: WorkerHandle[], total: number, bar: Progress, progress = new Map<number, number>()): Promise<Grown & { errors: string[] }> {
  const replies = await Promise.all(
    workers.map((worker, w) => {
      const upTo = Math.floor((total * (w + 1)) / workers.length) - Math.floor((total * w) / workers.length);
      const reply = waitFor<Grown>(worker, 'grown', 600_000, (m) => {
        if (m.type === 'progress') {
          progress.set(w, Number(m.connected));
          bar.update([...progress.values()].reduce((a, b) => a + b, 0));
        }
      });
      worker.child.send({ type: 'grow', upTo });
      return reply;
    }),
  );
  return {
    connected: replies.reduce((a, r) => a + r.connected, 0),
    failed: replies.reduce((a, r) => a + r.failed, 0),
    dropped: replies.reduce((a, r) => a + r.dropped, 0),
    errors: replies.flatMap((r) => (r.error !== undefined ? [r.error] : [])),
  };
}

function checkpoints(options: Options, last = options.connections): number[] {
  const points: number[] = [];
  for (let n = options.step; n < last; n += options.step) points.push(n);
  points.push(last);
  return points;
}

// ---------- one run of one target

interface TargetRun {
  target: Target;
  run: number;
  requested: number;
  connected: number;
  failed: number;
  dropped: number;
  baseline: Memory;
  points: Point[];
  /** (value at N - baseline) / N, bytes per connection. */
  rssPerConn: number;
  heapPerConn: number;
  externalPerConn: number;
  rampS: number;
  connectPerS: number;
  serverCpuS: number;
  /** server CPU per accepted connection (connect + auth + 2 joins), µs */
  cpuPerConnUs: number;
  loadGenCpuS: number;
  /** --cpu-prof: where the server's CPU went during this ramp (measurement GCs included, as GC) */
  cpuProfile?: ProfileSummary;
}

async function runTarget(target: Target, options: Options, run: number): Promise<TargetRun> {
  const profileDir = options.cpuProf && run === 0 ? mkdtempSync(join(tmpdir(), 'roomcast-capacity-cpu-')) : undefined;
  const server = await startMeasured(target, profileDir);
  let result: TargetRun | undefined;
  const ipc = ipcHandle(server.child);
  let workers: WorkerHandle[] = [];
  try {
    await sleep(options.settleMs);
    const baseline = await measure(ipc);
    workers = await startWorkers(target, server, options);
    const bar = new Progress(`${target} run ${run + 1}: connecting`, options.connections);
    const points: Point[] = [];
    const progress = new Map<number, number>();
    let rampS = 0;
    let serverCpuS = 0;
    let grown: Grown & { errors: string[] } = { connected: 0, failed: 0, dropped: 0, errors: [] };
    const genCpu0 = workers.reduce((a, w) => a + processCpuSeconds(w.pid), 0);
    for (const total of checkpoints(options)) {
      const cpu0 = processCpuSeconds(server.pid);
      const t0 = performance.now();
      const before = grown.connected;
      grown = await growTo(workers, total, bar, progress);
      rampS += (performance.now() - t0) / 1000;
      const segmentCpuS = processCpuSeconds(server.pid) - cpu0;
      serverCpuS += segmentCpuS;
      if (grown.errors.length > 0) process.stderr.write(`\n  ${target}: connect errors (${grown.failed} failed), first: ${grown.errors[0]}\n`);
      if (grown.connected === 0) throw new Error(`${target}: no connection succeeded`);
      await sleep(options.settleMs);
      points.push({ connections: grown.connected, cpuPerConnUs: round((segmentCpuS / Math.max(1, grown.connected - before)) * 1e6, 0), ...(await measure(ipc)) });
    }
    const loadGenCpuS = workers.reduce((a, w) => a + processCpuSeconds(w.pid), 0) - genCpu0;
    const last = points[points.length - 1] ?? { connections: 0, cpuPerConnUs: Number.NaN, ...baseline };
    const n = last.connections;
    result = {
      target,
      run,
      requested: options.connections,
      connected: grown.connected,
      failed: grown.failed,
      dropped: grown.dropped,
      baseline,
      points,
      rssPerConn: (last.rss - baseline.rss) / n,
      heapPerConn: (last.heapUsed - baseline.heapUsed) / n,
      externalPerConn: (last.external - baseline.external) / n,
      rampS: round(rampS),
      connectPerS: round(n / rampS, 0),
      serverCpuS: round(serverCpuS),
      cpuPerConnUs: round((serverCpuS / n) * 1e6, 1),
      loadGenCpuS: round(loadGenCpuS),
    };
    bar.done(
      `${n}/${options.connections} connected (${grown.failed} failed, ${grown.dropped} dropped) in ${result.rampS} s; ` +
        `RSS ${round(result.rssPerConn / KIB)} KiB/conn, heap ${round(result.heapPerConn / KIB)} KiB/conn, CPU ${result.cpuPerConnUs} µs/conn`,
    );
    return result;
  } finally {
    await stopWorkers(workers);
    // A CPU profile is written on a clean exit: SIGTERM once the clients are gone.
    await stopServer(server, profileDir !== undefined ? 'SIGTERM' : 'SIGKILL');
    if (profileDir !== undefined) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (result && file !== undefined) result.cpuProfile = summarizeProfile(JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as Parameters<typeof summarizeProfile>[0], 20);
      const keepIn = process.env.ROOMCAST_BENCH_PROFILE_DIR;
      if (keepIn !== undefined && file !== undefined) copyFileSync(join(profileDir, file), join(keepIn, `capacity-${target}-${Date.now()}.cpuprofile`));
      rmSync(profileDir, { recursive: true, force: true });
    }
  }
}

// ---------- heap profile of Roomcast: what a connection holds

interface ProfileClass {
  name: string;
  countPerConn: number;
  bytesPerConn: number;
  retainers?: Array<{ retainer: string; edge: string; count: number }>;
}

interface Profile {
  connections: number;
  heapPerConn: number;
  selfBytesPerConn: number;
  classes: ProfileClass[];
}

async function profileRoomcast(options: Options): Promise<Profile> {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-capacity-'));
  const server = await startMeasured('roomcast');
  const ipc = ipcHandle(server.child);
  let workers: WorkerHandle[] = [];
  try {
    // The first snapshot after a warm-up (a fifth as many connections), so code
    // compiled on first use is not counted as held by connections.
    const warm = Math.max(1, Math.round(options.profileAt / 5));
    workers = await startWorkers('roomcast', server, { ...options, connections: warm + options.profileAt });
    const warmed = await growTo(workers, warm, new Progress('roomcast profile: warm-up', warm));
    await sleep(options.settleMs);
    const before = await measure(ipc);
    await snapshot(ipc, join(dir, 'before.heapsnapshot'));
    const grown = await growTo(workers, warm + options.profileAt, new Progress('roomcast profile: connecting', warm + options.profileAt));
    await sleep(options.settleMs);
    const after = await measure(ipc);
    await snapshot(ipc, join(dir, 'after.heapsnapshot'));
    const n = grown.connected - warmed.connected;
    process.stderr.write(`  roomcast profile: snapshots at ${warmed.connected} and ${grown.connected} connections; comparing\n`);
    const beforeClasses = new HeapSnapshot(join(dir, 'before.heapsnapshot')).classes();
    const afterSnapshot = new HeapSnapshot(join(dir, 'after.heapsnapshot'));
    const deltas = diffClasses(beforeClasses, afterSnapshot.classes());
    const selfBytes = deltas.reduce((a, d) => a + d.sizeDelta, 0);
    const top = topGrowth(deltas, 25).bySize.filter((d) => d.sizeDelta > 0);
    // Who holds the biggest few and the named per-connection objects (Socket, IncomingMessage, Timeout...):
    // each is a walk over every edge, slow on a big snapshot, so not for every class.
    const generic = new Set(['Object', 'Array', 'Map', 'Set', 'Generator']);
    const withRetainers = (name: string, index: number): boolean => index < 4 || (/^[A-Z]/.test(name) && !generic.has(name));
    const classes: ProfileClass[] = top.map((d, index) => ({
      name: d.name,
      countPerConn: round(d.countDelta / n, 2),
      bytesPerConn: round(d.sizeDelta / n, 0),
      ...(withRetainers(d.name, index) ? { retainers: afterSnapshot.retainersOf(d.name, 4) } : {}),
    }));
    return { connections: n, heapPerConn: round((after.heapUsed - before.heapUsed) / n, 0), selfBytesPerConn: round(selfBytes / n, 0), classes };
  } finally {
    await stopWorkers(workers);
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------- summary, charts, report

interface TargetSummary {
  target: Target;
  runs: number;
  connected: number;
  rssPerConnKiB: number;
  heapPerConnKiB: number;
  externalPerConnKiB: number;
  rssAtN_MiB: number;
  baselineRssMiB: number;
  cpuPerConnUs: number;
  connectPerS: number;
}

function summarize(results: TargetRun[], targets: Target[]): TargetSummary[] {
  return targets.map((target) => {
    const mine = results.filter((r) => r.target === target);
    const m = (f: (r: TargetRun) => number, digits = 2): number => medianOf(mine, f, digits);
    return {
      target,
      runs: mine.length,
      connected: m((r) => r.connected, 0),
      rssPerConnKiB: m((r) => r.rssPerConn / KIB),
      heapPerConnKiB: m((r) => r.heapPerConn / KIB),
      externalPerConnKiB: m((r) => r.externalPerConn / KIB),
      rssAtN_MiB: m((r) => (r.points[r.points.length - 1]?.rss ?? Number.NaN) / MIB, 1),
      baselineRssMiB: m((r) => r.baseline.rss / MIB, 1),
      cpuPerConnUs: m((r) => r.cpuPerConnUs, 1),
      connectPerS: m((r) => r.connectPerS, 0),
    };
  });
}

interface Ratio {
  of: Target;
  vs: Target;
  rss: number;
  heap: number;
  cpu: number;
}

function ratios(summaries: TargetSummary[]): Ratio[] {
  const pairs: Array<[Target, Target]> = [
    ['roomcast', 'bare-ws'],
    ['roomcast', 'socketio'],
    ['socketio', 'bare-ws'],
  ];
  const out: Ratio[] = [];
  for (const [of, vs] of pairs) {
    const a = summaries.find((s) => s.target === of);
    const b = summaries.find((s) => s.target === vs);
    if (a && b) out.push({ of, vs, rss: ratio(a.rssPerConnKiB, b.rssPerConnKiB), heap: ratio(a.heapPerConnKiB, b.heapPerConnKiB), cpu: ratio(a.cpuPerConnUs, b.cpuPerConnUs) });
  }
  return out;
}

interface Chart {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Array<{ name: string; points: Array<[number, number]> }>;
}

/** Per target, the median over runs at each checkpoint (baseline at 0 first). */
function charts(results: TargetRun[], targets: Target[], connections: number): Chart[] {
  const curve = (target: Target, pick: (m: Memory) => number): Array<[number, number]> => {
    const mine = results.filter((r) => r.target === target);
    if (mine.length === 0) return [];
    const length = Math.min(...mine.map((r) => r.points.length));
    const points: Array<[number, number]> = [[0, round(median(mine.map((r) => pick(r.baseline))) / MIB, 1)]];
    for (let i = 0; i < length; i++) {
      points.push([round(median(mine.map((r) => r.points[i]?.connections ?? Number.NaN)), 0), round(median(mine.map((r) => {
        const point = r.points[i];
        return point ? pick(point) : Number.NaN;
      })) / MIB, 1)]);
    }
    return points;
  };
  const cpuCurve = (target: Target): Array<[number, number]> => {
    const mine = results.filter((r) => r.target === target);
    const length = Math.min(...mine.map((r) => r.points.length));
    return Array.from({ length: mine.length > 0 ? length : 0 }, (_, i): [number, number] => [
      round(median(mine.map((r) => r.points[i]?.connections ?? Number.NaN)), 0),
      round(median(mine.map((r) => r.points[i]?.cpuPerConnUs ?? Number.NaN)), 0),
    ]);
  };
  return [
    {
      id: 'capacity-cpu',
      title: 'Server CPU per accepted connection (connect + auth + 2 joins) against connections already held',
      xLabel: 'connections',
      yLabel: 'server CPU per connection (µs)',
      series: targets.map((t) => ({ name: t, points: cpuCurve(t) })),
    },
    {
      id: 'capacity-rss',
      title: `Server RSS after GC against idle connections (each in 2 rooms), up to ${connections}`,
      xLabel: 'connections',
      yLabel: 'RSS (MiB)',
      series: targets.map((t) => ({ name: t, points: curve(t, (m) => m.rss) })),
    },
    {
      id: 'capacity-heap',
      title: `Server V8 heap used after GC against idle connections (each in 2 rooms), up to ${connections}`,
      xLabel: 'connections',
      yLabel: 'heapUsed (MiB)',
      series: targets.map((t) => ({ name: t, points: curve(t, (m) => m.heapUsed) })),
    },
  ];
}

function targetLine(rs: Ratio[], summaries: TargetSummary[]): { met: boolean | null; text: string } {
  const r = rs.find((x) => x.of === 'roomcast' && x.vs === 'socketio');
  if (!r || !Number.isFinite(r.rss)) return { met: null, text: `Target (RSS per idle connection <= ${TARGET_RSS_RATIO}x plain Socket.IO): not measured (needs roomcast and socketio).` };
  const met = r.rss <= TARGET_RSS_RATIO;
  const cpuMet = Number.isFinite(r.cpu) ? r.cpu <= TARGET_CPU_RATIO : null;
  const floor = rs.find((x) => x.of === 'roomcast' && x.vs === 'bare-ws');
  const kib = summaries.find((s) => s.target === 'roomcast')?.rssPerConnKiB ?? Number.NaN;
  return {
    met,
    text: [
      `- Target RSS per idle connection <= ${TARGET_RSS_RATIO}x plain Socket.IO: **${met ? 'met' : 'missed'}** (Roomcast ${r.rss}x plain Socket.IO, ${kib} KiB; moonshot <= ${MOONSHOT_RSS_KIB} KiB: ${Number.isFinite(kib) && kib <= MOONSHOT_RSS_KIB ? 'met' : 'missed'}` +
        `${floor && Number.isFinite(floor.rss) ? `; floor: Roomcast ${floor.rss}x bare ws` : ''}).`,
      `- Target server CPU per accepted connection (JWT + 2 joins) <= ${TARGET_CPU_RATIO}x plain Socket.IO: ${cpuMet === null ? 'not judged' : `**${cpuMet ? 'met' : 'missed'}**`} (Roomcast ${Number.isFinite(r.cpu) ? r.cpu : 'n/a'}x plain Socket.IO).`,
    ].join('\n'),
  };
}

function profileMarkdown(profile: Profile): string {
  return [
    `### What a Roomcast connection holds (heap snapshots before and after ${profile.connections} more connections, after a warm-up)`,
    '',
    `Heap used after GC: ${round(profile.heapPerConn / KIB)} KiB per connection; the snapshot's self sizes add up to ${round(profile.selfBytesPerConn / KIB)} KiB per connection. Biggest classes by growth:`,
    '',
    table(
      ['class', 'objects per connection', 'bytes per connection', 'held mostly by (retainer --edge--> count)'],
      profile.classes.map((c) => [
        c.name.replace(/\|/g, '\\|').slice(0, 60),
        c.countPerConn,
        c.bytesPerConn,
        (c.retainers ?? []).map((r) => `${r.retainer.replace(/\|/g, '\\|').slice(0, 40)} --${r.edge.slice(0, 30)}--> ${r.count}`).join('; '),
      ]),
    ),
  ].join('\n');
}

/** The key tables: verdict, medians per target, ratios, and the heap profile when taken. */
function summarySection(summaries: TargetSummary[], rs: Ratio[], profile: Profile | null): string {
  const summaryTable = table(
    ['target', 'runs', 'connections (median)', 'RSS at 0 MiB', 'RSS at N MiB', 'RSS KiB/conn', 'heapUsed KiB/conn', 'external KiB/conn', 'server CPU µs/conn (connect+auth+2 joins)', 'connections/s'],
    summaries.map((s) => [s.target, s.runs, s.connected, s.baselineRssMiB, s.rssAtN_MiB, s.rssPerConnKiB, s.heapPerConnKiB, s.externalPerConnKiB, s.cpuPerConnUs, s.connectPerS]),
  );
  const ratioTable = table(
    ['ratio', 'RSS per connection', 'heap per connection', 'CPU per connection'],
    rs.map((r) => [`${r.of} / ${r.vs}`, r.rss, r.heap, r.cpu]),
  );
  return [targetLine(rs, summaries).text, '', summaryTable, '', ratioTable, '', profile ? profileMarkdown(profile) : ''].join('\n');
}

function cpuProfileSection(results: TargetRun[]): string {
  const profiled = results.find((r) => r.cpuProfile !== undefined);
  if (!profiled?.cpuProfile) return '';
  return [
    `## Where Roomcast's CPU goes while accepting connections (--cpu-prof, ${profiled.target} run ${profiled.run + 1}, ${profiled.connected} connections; GC includes the forced measurement GCs)`,
    '',
    cpuProfileTables(profiled.cpuProfile),
    '',
  ].join('\n');
}

function markdown(results: TargetRun[], summary: string, options: Options, command: string): string {
  const runs = table(
    ['target', 'run', 'connected', 'failed', 'dropped', 'RSS KiB/conn', 'heap KiB/conn', 'CPU µs/conn', 'ramp s', 'load-gen CPU s'],
    results.map((r) => [r.target, r.run + 1, r.connected, r.failed, r.dropped, round(r.rssPerConn / KIB), round(r.heapPerConn / KIB), r.cpuPerConnUs, r.rampS, r.loadGenCpuS]),
  );
  const curve = table(
    ['target', 'run', ...['0', ...(results[0]?.points.map((p) => String(p.connections)) ?? [])].map((c) => `@${c}`)],
    results.map((r) => [
      r.target,
      r.run + 1,
      `${round(r.baseline.rss / MIB, 1)} / ${round(r.baseline.heapUsed / MIB, 1)}`,
      ...r.points.map((p) => `${round(p.rss / MIB, 1)} / ${round(p.heapUsed / MIB, 1)} / ${p.cpuPerConnUs}`),
    ]),
  );
  return [
    ...reportHeader(
      `Capacity: ${options.connections} idle connections, each in 2 rooms, one server process`,
      command,
      `${options.workers} load workers, connect concurrency ${options.concurrency} each; ${options.groups} group rooms; memory after forced GC in the server; medians over ${options.runs} run(s), targets interleaved per run`,
    ),
    summary,
    '',
    cpuProfileSection(results),
    '## Every run',
    '',
    runs,
    '',
    '## Memory against connections (RSS MiB / heapUsed MiB / server CPU µs per connection opened since the previous point)',
    '',
    curve,
    '',
  ].join('\n');
}

runScenario({
  name: 'capacity',
  options: parseOptions,
  // ~ 20 s per 1,000 connections at worst per target and run, plus the profile.
  timeLimitMs: (options) => 120_000 + options.runs * options.targets.length * (60_000 + options.connections * 20) + (options.profile === 'off' ? 0 : 300_000),
  units: (options) => options.targets,
  describe: (target, options, run) => `${target} run ${run + 1}/${options.runs}: ${options.connections} connections x 2 rooms, ${options.workers} worker(s)`,
  run: (target, { options, run }) => runTarget(target, options, run),
  report: async (results, { options, command }) => {
    const summaries = summarize(results, options.targets);
    const rs = ratios(summaries);
    const verdict = targetLine(rs, summaries);
    let profile: Profile | null = null;
    if (options.targets.includes('roomcast') && (options.profile === 'on' || (options.profile === 'auto' && verdict.met === false))) {
      process.stderr.write(`roomcast heap profile at ${options.profileAt} connections\n`);
      profile = await profileRoomcast(options);
    }
    const summaryMarkdown = summarySection(summaries, rs, profile);
    return {
      markdown: markdown(results, summaryMarkdown, options, command),
      json: { results, summaries, ratios: rs, target: { rssRatioMaxVsSocketio: TARGET_RSS_RATIO, cpuRatioMaxVsSocketio: TARGET_CPU_RATIO, met: verdict.met }, profile, summaryMarkdown, charts: charts(results, options.targets, options.connections) },
    };
  },
});
