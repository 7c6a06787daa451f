/**
 * Scenario 7, a large room: one Roomcast node (memory mode) with N members in
 * one room (held by several workers, each from its own source addresses), while
 * small rooms (other connections, their own worker) keep receiving publications
 * over HTTP at a steady rate, and the large room receives broadcasts at a low
 * rate (e.g. 2/s, then 5/s: one phase each). Measured per phase: the small
 * rooms' p50/p99, the large room's delivery latency to its first and last
 * member, loss in both, and heartbeats: the gaps between the Engine.IO pings a
 * few probe connections receive (PING_INTERVAL_MS is lowered so a phase sees
 * several). Compared: sliced fan-out on (LARGE_ROOM_MEMBERS below N) vs off
 * (LARGE_ROOM_MEMBERS=1000000). CPU per process.
 *
 *   npm run bench:large-room -- [--members 15000] [--large-workers 3] [--small-rooms 50] [--small-size 10]
 *     [--small-rate 100] [--large-rates 2,5] [--phase-s 10] [--warm-s 2] [--ping-interval-ms 5000] [--probes 20]
 *     [--variants on,off] [--large-room-members N] [--slice-size N] [--namespace /] [--runs 3] [--smoke]
 *
 * Members join namespace `/` (presence on): presence:join is broadcast only while
 * a room has at most PRESENCE_EVENTS_MAX_MEMBERS (default 100) members.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { drainAndCollect, expectedDeliveries, httpPublisher, mergeClasses, mergeSpread, publishPhase, quantileOf, startRoomsWorkers, withCpuPercent, type Stream } from '../lib/rooms-run.js';
import { medianOf, reportHeader, runScenario, type ScenarioArgs } from '../lib/scenario-runner.js';
import type { RoomsGroup, RoomsWorkerStart } from '../lib/rooms-worker.js';
import { BENCH_JWT_SECRET, repoRoot, round, sourceAddresses, startTarget, stopServer, stopWorkers, table, type ChartSpec, type WorkerHandle } from '../lib/harness.js';

const LARGE_ROOM = 'bench:large';
const PROBE_ROOM = 'bench:probe';
const OFF_MEMBERS = 1_000_000;

type Variant = 'on' | 'off';
const VARIANTS: readonly Variant[] = ['on', 'off'];

interface Options {
  members: number;
  largeWorkers: number;
  smallRooms: number;
  smallSize: number;
  smallRate: number;
  largeRates: number[];
  phaseMs: number;
  warmMs: number;
  pingIntervalMs: number;
  probes: number;
  variants: Variant[];
  /** LARGE_ROOM_MEMBERS for "on"; undefined: the server's default. */
  largeRoomMembers: number | undefined;
  sliceSize: number | undefined;
  runs: number;
  smoke: boolean;
}

function parseOptions({ get, number, list, smoke }: ScenarioArgs): Options {
  const lrm = get('large-room-members') ?? (smoke ? '20' : undefined);
  const slice = get('slice-size') ?? (smoke ? '16' : undefined);
  return {
    smoke,
    variants: list('variants', VARIANTS, VARIANTS),
    members: number('members', smoke ? 60 : 15_000),
    largeWorkers: number('large-workers', smoke ? 1 : 3),
    smallRooms: number('small-rooms', smoke ? 5 : 50),
    smallSize: number('small-size', smoke ? 4 : 10),
    smallRate: number('small-rate', smoke ? 20 : 100),
    largeRates: (get('large-rates') ?? '2,5').split(',').map(Number),
    phaseMs: number('phase-s', smoke ? 2 : 10) * 1000,
    warmMs: number('warm-s', smoke ? 0.5 : 2) * 1000,
    pingIntervalMs: number('ping-interval-ms', smoke ? 1000 : 5000),
    probes: number('probes', smoke ? 3 : 20),
    largeRoomMembers: lrm !== undefined ? Number(lrm) : undefined,
    sliceSize: slice !== undefined ? Number(slice) : undefined,
    runs: number('runs', smoke ? 1 : 3),
  };
}

/** Whether the server build uses server/transports/socketio/sliced-fanout (a check kept from before it was wired in). */
function slicingWired(): boolean {
  const dir = join(repoRoot, 'dist/server');
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.js') && e.name !== 'sliced-fanout.js' ? [join(d, e.name)] : []));
  try {
    return walk(dir).some((file) => readFileSync(file, 'utf8').includes('sliced-fanout.js'));
  } catch {
    return false;
  }
}

interface PhaseResult {
  phase: number;
  largeRate: number;
  smallRate: number;
  publishedSmall: number;
  publishedLarge: number;
  pubErrors: number;
  small: { p50: number; p99: number; max: number; lost: number; deliveries: number };
  large: {
    members: number;
    p50: number;
    p99: number;
    lost: number;
    deliveries: number;
    /** Over the large room's publications: latency to the first member and to the last member. */
    firstP50: number;
    firstMax: number;
    lastP50: number;
    lastMax: number;
  };
  ping: { gaps: number; p50: number; max: number; maxExcess: number };
  disconnects: number;
  cpuPct: Record<string, number>;
}

interface RunResult {
  variant: Variant;
  run: number;
  largeRoomMembers: number | 'default';
  members: number;
  connectedLarge: number;
  connectedOther: number;
  connectMs: number;
  phases: PhaseResult[];
}

async function runVariant(variant: Variant, options: Options, run: number): Promise<RunResult> {
  const env: Record<string, string> = { PING_INTERVAL_MS: String(options.pingIntervalMs) };
  if (variant === 'off') env.LARGE_ROOM_MEMBERS = String(OFF_MEMBERS);
  else if (options.largeRoomMembers !== undefined) env.LARGE_ROOM_MEMBERS = String(options.largeRoomMembers);
  if (options.sliceSize !== undefined) env.FANOUT_SLICE_SIZE = String(options.sliceSize);
  const server = await startTarget('roomcast', { env });
  let workers: WorkerHandle[] = [];
  try {
    const starts: RoomsWorkerStart[] = [];
    const perLarge = Math.ceil(options.members / options.largeWorkers);
    for (let w = 0; w < options.largeWorkers; w++) {
      const count = Math.min(perLarge, options.members - w * perLarge);
      if (count <= 0) break;
      starts.push({
        type: 'start',
        target: 'roomcast',
        groups: [{ url: server.url, room: LARGE_ROOM, count, cls: 'large' }],
        addresses: sourceAddresses(w),
        subPrefix: `large${w}`,
        jwtSecret: BENCH_JWT_SECRET,
        spreadRooms: [LARGE_ROOM],
      });
    }
    const smallGroups: RoomsGroup[] = Array.from({ length: options.smallRooms }, (_, r) => ({ url: server.url, room: `bench:s${r}`, count: options.smallSize, cls: 'small' }));
    smallGroups.push({ url: server.url, room: PROBE_ROOM, count: options.probes, cls: 'probe', probe: true });
    starts.push({ type: 'start', target: 'roomcast', groups: smallGroups, addresses: sourceAddresses(options.largeWorkers), subPrefix: 'small', jwtSecret: BENCH_JWT_SECRET });
    const started = await startRoomsWorkers(starts, `slicing ${variant} run ${run + 1}: joining`);
    workers = started.workers;
    const largeWorkerCount = starts.length - 1;

    const membersPerRoom: Record<string, number> = { [LARGE_ROOM]: options.members };
    for (let r = 0; r < options.smallRooms; r++) membersPerRoom[`bench:s${r}`] = options.smallSize;
    const smallStream: Stream = { rate: options.smallRate, room: (seq) => `bench:s${seq % options.smallRooms}` };
    const publisher = httpPublisher('roomcast', server.url);
    const seq = { next: 0 };
    const phases: PhaseResult[] = [];
    try {
      if (options.warmMs > 0) {
        await publishPhase(publisher, [smallStream, { rate: options.largeRates[0] ?? 1, room: () => LARGE_ROOM }], 0, options.warmMs, seq);
        await drainAndCollect(workers, 0, {}, 0, 0, 0);
      }
      for (let k = 0; k < options.largeRates.length; k++) {
        const phase = k + 1;
        const largeRate = options.largeRates[k] ?? 1;
        const pids: Record<string, number> = { server: server.pid };
        workers.forEach((worker, w) => (pids[w < largeWorkerCount ? `large-worker${w + 1}` : 'small-worker'] = worker.pid));
        const { value: outcome, cpuPct } = await withCpuPercent(pids, () =>
          publishPhase(publisher, [smallStream, { rate: largeRate, room: () => LARGE_ROOM }], phase, options.phaseMs, seq),
        );
        const wanted = expectedDeliveries(outcome.published, membersPerRoom);
        const stats = await drainAndCollect(workers, phase, outcome.published, wanted, options.smoke ? 500 : 2000, options.smoke ? 5000 : 30_000);
        const classes = mergeClasses(stats);
        const spread = mergeSpread(stats);
        const gaps = stats.flatMap((s) => s.pingGaps);
        const small = classes.get('small');
        const large = classes.get('large');
        const firsts = spread.map((s) => s.firstMs);
        const lasts = spread.map((s) => s.lastMs);
        const pingMax = gaps.length > 0 ? Math.max(...gaps) : Number.NaN;
        const result: PhaseResult = {
          phase,
          largeRate,
          smallRate: options.smallRate,
          publishedSmall: Object.entries(outcome.published).reduce((a, [room, n]) => (room === LARGE_ROOM ? a : a + n), 0),
          publishedLarge: outcome.published[LARGE_ROOM] ?? 0,
          pubErrors: outcome.errors,
          small: {
            p50: round(small?.histogram.quantile(0.5) ?? Number.NaN),
            p99: round(small?.histogram.quantile(0.99) ?? Number.NaN),
            max: round(small?.histogram.max ?? Number.NaN),
            lost: small?.lost ?? 0,
            deliveries: small?.received ?? 0,
          },
          large: {
            members: large?.members ?? 0,
            p50: round(large?.histogram.quantile(0.5) ?? Number.NaN),
            p99: round(large?.histogram.quantile(0.99) ?? Number.NaN),
            lost: large?.lost ?? 0,
            deliveries: large?.received ?? 0,
            firstP50: round(quantileOf(firsts, 0.5)),
            firstMax: round(quantileOf(firsts, 1)),
            lastP50: round(quantileOf(lasts, 0.5)),
            lastMax: round(quantileOf(lasts, 1)),
          },
          ping: { gaps: gaps.length, p50: round(quantileOf(gaps, 0.5)), max: round(pingMax), maxExcess: round(pingMax - options.pingIntervalMs) },
          disconnects: stats.reduce((a, s) => a + s.disconnects, 0),
          cpuPct,
        };
        phases.push(result);
        process.stderr.write(
          `  slicing ${variant} @ large ${largeRate}/s + small ${options.smallRate}/s: small p50 ${result.small.p50} p99 ${result.small.p99} ms lost ${result.small.lost}; large first ${result.large.firstP50} last ${result.large.lastP50} (max ${result.large.lastMax}) ms lost ${result.large.lost}; ping gap max ${result.ping.max} ms (${result.ping.gaps} gaps); disconnects ${result.disconnects}; CPU % ${JSON.stringify(cpuPct)}\n`,
        );
      }
    } finally {
      publisher.close();
    }
    return {
      variant,
      run,
      largeRoomMembers: variant === 'off' ? OFF_MEMBERS : (options.largeRoomMembers ?? 'default'),
      members: options.members,
      connectedLarge: phases[0]?.large.members ?? 0,
      connectedOther: started.connected - (phases[0]?.large.members ?? 0),
      connectMs: started.connectMs,
      phases,
    };
  } finally {
    await stopWorkers(workers);
    await stopServer(server);
  }
}

interface Summary {
  variant: Variant;
  largeRate: number;
  runs: number;
  smallP50: number;
  smallP99: number;
  smallLost: number;
  largeFirstP50: number;
  largeLastP50: number;
  largeLastMax: number;
  largeLost: number;
  pingGapMax: number;
  pingExcessMax: number;
  disconnects: number;
  cpuPct: Record<string, number>;
}

function summarize(results: RunResult[], options: Options): Summary[] {
  return options.variants.flatMap((variant) =>
    options.largeRates.map((largeRate) => {
      const phases = results.filter((r) => r.variant === variant).flatMap((r) => r.phases.filter((p) => p.largeRate === largeRate));
      const m = (f: (p: PhaseResult) => number): number => medianOf(phases, f);
      const processes = [...new Set(phases.flatMap((p) => Object.keys(p.cpuPct)))];
      return {
        variant,
        largeRate,
        runs: phases.length,
        smallP50: m((p) => p.small.p50),
        smallP99: m((p) => p.small.p99),
        smallLost: phases.reduce((a, p) => a + p.small.lost, 0),
        largeFirstP50: m((p) => p.large.firstP50),
        largeLastP50: m((p) => p.large.lastP50),
        largeLastMax: m((p) => p.large.lastMax),
        largeLost: phases.reduce((a, p) => a + p.large.lost, 0),
        pingGapMax: m((p) => p.ping.max),
        pingExcessMax: m((p) => p.ping.maxExcess),
        disconnects: Math.max(0, ...phases.map((p) => p.disconnects)),
        cpuPct: Object.fromEntries(processes.map((name) => [name, m((p) => p.cpuPct[name] ?? Number.NaN)])),
      };
    }),
  );
}

function summaryMarkdown(summaries: Summary[], options: Options, wired: boolean): string {
  const processes = [...new Set(summaries.flatMap((s) => Object.keys(s.cpuPct)))];
  const main = table(
    [
      'slicing',
      'large room /s',
      'runs',
      'small rooms p50 / p99 ms',
      'small lost',
      'large room: first member p50 ms',
      'last member p50 / max ms',
      'large lost',
      `ping gap max ms (interval ${options.pingIntervalMs})`,
      'disconnects',
    ],
    summaries.map((s) => [
      s.variant,
      s.largeRate,
      s.runs,
      `${s.smallP50} / ${s.smallP99}`,
      s.smallLost,
      s.largeFirstP50,
      `${s.largeLastP50} / ${s.largeLastMax}`,
      s.largeLost,
      s.pingGapMax,
      s.disconnects,
    ]),
  );
  const cpu = table(['slicing', 'large room /s', ...processes.map((p) => `${p} CPU %`)], summaries.map((s) => [s.variant, s.largeRate, ...processes.map((p) => s.cpuPct[p] ?? '-')]));
  const compare = options.largeRates.map((rate) => {
    const on = summaries.find((s) => s.variant === 'on' && s.largeRate === rate);
    const off = summaries.find((s) => s.variant === 'off' && s.largeRate === rate);
    if (!on || !off) return null;
    return [
      rate,
      `${on.smallP99} vs ${off.smallP99} (${on.smallP99 <= off.smallP99 ? 'better or equal with slicing' : 'worse with slicing'})`,
      `${on.pingGapMax} vs ${off.pingGapMax}`,
      `${on.largeLastP50} vs ${off.largeLastP50}`,
      on.smallLost + on.largeLost === 0 && off.smallLost + off.largeLost === 0 ? 'met (0)' : `missed (${on.smallLost + on.largeLost} / ${off.smallLost + off.largeLost})`,
    ];
  });
  const compareTable = compare.some((row) => row !== null)
    ? table(['large room /s', 'small-room p99 ms, on vs off', 'ping gap max ms, on vs off', 'large room last member p50 ms, on vs off', 'lost = 0 (on / off)'], compare.filter((row) => row !== null))
    : '';
  return [
    `One Roomcast node (memory), ${options.members} members in one room, ${options.smallRooms} small rooms x ${options.smallSize} at ${options.smallRate} publications/s in all (HTTP), the large room at ${options.largeRates.join(' then ')}/s, ${options.phaseMs / 1000} s per phase; ${options.probes} probe connections time Engine.IO pings (PING_INTERVAL_MS=${options.pingIntervalMs}). Slicing on: LARGE_ROOM_MEMBERS=${options.largeRoomMembers ?? 'default (10000)'}${options.sliceSize !== undefined ? `, FANOUT_SLICE_SIZE=${options.sliceSize}` : ''}; off: LARGE_ROOM_MEMBERS=${OFF_MEMBERS}. Medians over ${options.runs} run(s); latencies of 10001 ms mean 10 s or more (histogram cap); first/last member: per large-room broadcast, the latency to the first and to the last of its members (p50 and max over broadcasts).${wired ? '' : ' NOTE: the server build does not use sliced-fanout yet; both variants ran the same (unsliced) code.'}`,
    '',
    main,
    '',
    compareTable,
    '',
    'CPU per process during each phase (median over runs):',
    '',
    cpu,
  ].join('\n');
}

function everyRunTable(results: RunResult[]): string {
  return table(
    ['slicing', 'run', 'large members', 'join ms', 'large /s', 'small p50/p99/max ms', 'small lost', 'large p50/p99 ms', 'first p50/max ms', 'last p50/max ms', 'large lost', 'ping gaps n, p50/max ms', 'server CPU %'],
    results.flatMap((r) =>
      r.phases.map((p) => [
        r.variant,
        r.run + 1,
        `${r.connectedLarge}/${r.members}`,
        r.connectMs,
        p.largeRate,
        `${p.small.p50}/${p.small.p99}/${p.small.max}`,
        p.small.lost,
        `${p.large.p50}/${p.large.p99}`,
        `${p.large.firstP50}/${p.large.firstMax}`,
        `${p.large.lastP50}/${p.large.lastMax}`,
        p.large.lost,
        `${p.ping.gaps}, ${p.ping.p50}/${p.ping.max}`,
        p.cpuPct.server ?? '-',
      ]),
    ),
  );
}

function charts(summaries: Summary[], options: Options): ChartSpec[] {
  return [
    {
      id: 'large-room-small-p99',
      title: `Small-room p99 while a ${options.members}-member room receives broadcasts, slicing on vs off`,
      xLabel: 'large-room broadcasts per second',
      yLabel: 'small-room p99 ms (median over runs)',
      series: options.variants.map((variant) => ({
        name: `slicing ${variant}`,
        points: summaries.filter((s) => s.variant === variant).map((s) => [s.largeRate, s.smallP99] as [number, number]),
      })),
    },
    {
      id: 'large-room-last-member',
      title: `Latency to the last of ${options.members} members, slicing on vs off`,
      xLabel: 'large-room broadcasts per second',
      yLabel: 'last-member latency p50 ms (median over runs)',
      series: options.variants.map((variant) => ({
        name: `slicing ${variant}`,
        points: summaries.filter((s) => s.variant === variant).map((s) => [s.largeRate, s.largeLastP50] as [number, number]),
      })),
    },
  ];
}

runScenario({
  name: 'large-room',
  options: parseOptions,
  timeLimitMs: (options) => options.runs * options.variants.length * (180_000 + options.largeRates.length * (options.phaseMs + 35_000)),
  setup: () => {
    const wired = slicingWired();
    if (!wired) process.stderr.write('large-room: the server build does not use sliced-fanout yet (both variants run the same code)\n');
    return Promise.resolve({ wired });
  },
  units: (options) => options.variants,
  describe: (variant, options, run) => `slicing ${variant} run ${run + 1}/${options.runs}: ${options.members} members in one room + ${options.smallRooms} x ${options.smallSize}`,
  run: (variant, { options, run }) => runVariant(variant, options, run),
  report: (results, { options, command, shared: { wired } }) => {
    const summaries = summarize(results, options);
    const summary = summaryMarkdown(summaries, options, wired);
    const markdown = [...reportHeader('A large room', command), summary, '', '## Every run and phase', '', everyRunTable(results), ''].join('\n');
    return { markdown, json: { slicingWired: wired, results, summaries, summaryMarkdown: summary, charts: charts(summaries, options) } };
  },
});
