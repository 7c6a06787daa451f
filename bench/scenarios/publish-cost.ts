/**
 * Scenario 10, the cost of one HTTP publication on the server: one server process at a time,
 * N small publications (no subscribers: the publish path alone) over a keep-alive
 * agent at a fixed concurrency, then B POST /api/v1/batch of 100 publications;
 * server CPU (utime + stime from /proc/<pid>/stat) per publication and per batch.
 *
 * Targets (issue 16): server CPU per HTTP publication <= 0.35 ms and a batch of
 * 100 publications <= 5 ms (Roomcast, memory mode). Measured in the same run:
 * - `roomcast`: one node, memory mode, settings as shipped except the bench's
 *   lifted abuse limits (bench/lib/harness.ts roomcastBenchEnv);
 * - `roomcast-redis`: the same node with REDIS_URL (one redis-server for the run);
 * - `socketio`: plain Socket.IO's HTTP publish handler (bench/baselines/
 *   plain-socketio-server.ts POST /pub: node:http + JSON.parse + io.to().emit(); no batch);
 * - `http-floor`: a bare node:http JSON handler that answers 200 and does nothing
 *   (bench/baselines/http-floor-server.ts): the floor, Node's HTTP server alone.
 * Targets run interleaved per run; medians over `--runs`.
 *
 *   npm run bench:publish-cost -- [--targets roomcast,roomcast-redis,socketio,http-floor]
 *     [--publications 5000] [--batches 200] [--concurrency 16] [--runs 3] [--smoke]
 *
 * Output: tables on stdout, JSON + Markdown in bench/reports/.
 */
import { Agent, request } from 'node:http';
import { processCpuSeconds } from '../lib/proc-cpu.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { medianOf, reportHeader, runScenario } from '../lib/scenario-runner.js';
import { BENCH_API_KEY, round, sleep, startHttpFloor, startTarget, stopServer, table, type ChartSpec } from '../lib/harness.js';
import { BATCH_SIZE, PUBLISH_TARGETS, publishCostSummaryMarkdown, type PublishCostSummary, type PublishTarget } from '../lib/publish-cost-summary.js';

const ROOMS = 100;

interface Options {
  targets: PublishTarget[];
  publications: number;
  batches: number;
  concurrency: number;
  warmup: number;
  runs: number;
  smoke: boolean;
}

interface Phase {
  count: number;
  errors: number;
  firstError: string | null;
  wallS: number;
  perS: number;
  cpuS: number;
  /** Server CPU per request, ms (a publication, or a batch of 100). */
  cpuPerRequestMs: number;
}

interface RunResult {
  target: PublishTarget;
  run: number;
  single: Phase;
  /** null: the target has no batch route (plain Socket.IO). */
  batch: Phase | null;
}

interface Route {
  path: string;
  headers: Record<string, string>;
  body: (i: number) => string;
}

function routes(target: PublishTarget): { single: Route; batch: Route | null } {
  const data = (i: number): { n: number; t: number } => ({ n: i, t: Date.now() });
  const room = (i: number): string => `bench:p${i % ROOMS}`;
  if (target === 'roomcast' || target === 'roomcast-redis') {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` };
    return {
      single: { path: '/api/v1/publish', headers, body: (i) => JSON.stringify({ room: room(i), event: 'bench', data: data(i) }) },
      batch: {
        path: '/api/v1/batch',
        headers,
        body: (i) => JSON.stringify({ publications: Array.from({ length: BATCH_SIZE }, (_, k) => ({ room: room(i * BATCH_SIZE + k), event: 'bench', data: data(k) })) }),
      },
    };
  }
  const headers = { 'content-type': 'application/json' };
  const single: Route = { path: '/pub', headers, body: (i) => JSON.stringify({ room: room(i), data: data(i) }) };
  if (target === 'socketio') return { single, batch: null };
  return {
    single,
    batch: { path: '/batch', headers, body: (i) => JSON.stringify({ publications: Array.from({ length: BATCH_SIZE }, (_, k) => ({ room: room(i * BATCH_SIZE + k), data: data(k) })) }) },
  };
}

/** One POST; resolves with null on a 200 whose body does not say ok:false, else the error's text. */
function post(agent: Agent, port: number, route: Route, i: number): Promise<string | null> {
  return new Promise((resolveDone) => {
    const body = route.body(i);
    const req = request({ agent, host: '127.0.0.1', port, path: route.path, method: 'POST', headers: { ...route.headers, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolveDone(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`);
        const text = Buffer.concat(chunks).toString();
        resolveDone(/"ok":false/.test(text) ? `ok:false in ${text.slice(0, 200)}` : null);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolveDone(String(error)));
    req.end(body);
  });
}

/** `count` requests, `concurrency` in flight; the server's CPU over exactly that span. */
async function phase(pid: number, agent: Agent, port: number, route: Route, count: number, concurrency: number): Promise<Phase> {
  let next = 0;
  let errors = 0;
  let firstError: string | null = null;
  const cpu0 = processCpuSeconds(pid);
  const began = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const error = await post(agent, port, route, next++);
        if (error !== null) {
          errors++;
          firstError ??= error;
        }
      }
    }),
  );
  const wallS = Number(process.hrtime.bigint() - began) / 1e9;
  const cpuS = processCpuSeconds(pid) - cpu0;
  return { count, errors, firstError, wallS: round(wallS, 3), perS: round(count / wallS, 1), cpuS: round(cpuS, 2), cpuPerRequestMs: round((cpuS / count) * 1000, 3) };
}

async function runTarget(target: PublishTarget, options: Options, run: number, redis: RedisProcess | null): Promise<RunResult> {
  const server =
    target === 'http-floor'
      ? await startHttpFloor()
      : await startTarget(target === 'socketio' ? 'socketio' : 'roomcast', target === 'roomcast-redis' && redis ? { env: { REDIS_URL: redis.url } } : {});
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  try {
    const { single, batch } = routes(target);
    // Warm-up: JIT, the agent's sockets, the store's first rooms.
    await phase(server.pid, agent, server.port, single, options.warmup, options.concurrency);
    if (batch) await phase(server.pid, agent, server.port, batch, Math.max(2, Math.round(options.warmup / BATCH_SIZE)), options.concurrency);
    await sleep(200);
    const singleResult = await phase(server.pid, agent, server.port, single, options.publications, options.concurrency);
    await sleep(200);
    const batchResult = batch ? await phase(server.pid, agent, server.port, batch, options.batches, Math.min(options.concurrency, 4)) : null;
    const line = `  ${target} run ${run + 1}: ${singleResult.cpuPerRequestMs} ms CPU/publication (${singleResult.perS}/s, ${singleResult.errors} errors)`;
    process.stderr.write(`${line}${batchResult ? `, ${batchResult.cpuPerRequestMs} ms CPU/batch of ${BATCH_SIZE} (${batchResult.errors} errors)` : ''}\n`);
    return { target, run, single: singleResult, batch: batchResult };
  } finally {
    agent.destroy();
    await stopServer(server);
  }
}

// ---------- summary

function summarize(results: RunResult[], targets: PublishTarget[]): PublishCostSummary[] {
  return targets.map((target) => {
    const mine = results.filter((r) => r.target === target);
    const batches = mine.flatMap((r) => (r.batch ? [r.batch] : []));
    return {
      target,
      runs: mine.length,
      cpuPerPublicationMs: medianOf(mine, (r) => r.single.cpuPerRequestMs, 3),
      cpuPerPublicationRuns: mine.map((r) => r.single.cpuPerRequestMs),
      publicationsPerS: medianOf(mine, (r) => r.single.perS, 1),
      cpuPerBatchMs: batches.length > 0 ? medianOf(batches, (b) => b.cpuPerRequestMs, 3) : null,
      cpuPerBatchRuns: batches.map((b) => b.cpuPerRequestMs),
      errors: mine.reduce((a, r) => a + r.single.errors + (r.batch?.errors ?? 0), 0),
      firstError: mine.map((r) => r.single.firstError ?? r.batch?.firstError ?? null).find((e) => e !== null) ?? null,
    };
  });
}

const finite = (value: number | null | undefined): value is number => typeof value === 'number' && Number.isFinite(value);

function charts(summaries: PublishCostSummary[]): ChartSpec[] {
  // One series per target, x = run: how far the machine's noise moves the figure.
  return [
    {
      id: 'publish-cost-cpu',
      title: 'Server CPU per HTTP publication by run (ms)',
      xLabel: 'run',
      yLabel: 'ms of server CPU per publication',
      series: summaries.map((s) => ({ name: s.target, points: s.cpuPerPublicationRuns.flatMap((v, i): Array<[number, number]> => (finite(v) ? [[i + 1, v]] : [])) })),
    },
  ];
}

runScenario<Options, PublishTarget, RunResult, { redis: RedisProcess | null }>({
  name: 'publish-cost',
  options: ({ number, list, smoke }): Options => ({
    targets: list('targets', PUBLISH_TARGETS, PUBLISH_TARGETS),
    smoke,
    publications: number('publications', smoke ? 150 : 5000),
    batches: number('batches', smoke ? 4 : 200),
    concurrency: number('concurrency', 16),
    warmup: number('warmup', smoke ? 30 : 1000),
    runs: number('runs', smoke ? 1 : 3),
  }),
  timeLimitMs: (options) => 60_000 + options.runs * options.targets.length * (30_000 + options.publications * 10 + options.batches * 100),
  setup: async (options) => {
    const redis = options.targets.includes('roomcast-redis') ? await startRedis() : null;
    return { redis, close: async () => redis?.stop() };
  },
  // The order rotates per run, so no target always runs first on a cold machine.
  units: (options, run) => options.targets.map((_, i) => options.targets[(i + run) % options.targets.length] as PublishTarget),
  describe: (target, options, run) => `${target} run ${run + 1}/${options.runs}: ${options.publications} publications, ${options.batches} batches of ${BATCH_SIZE}, concurrency ${options.concurrency}`,
  run: (target, { options, run, shared }) => runTarget(target, options, run, shared.redis),
  report: (results, { options, command }) => {
    const summaries = summarize(results, options.targets);
    const summaryMarkdown = publishCostSummaryMarkdown(summaries);
    const markdown = [
      ...reportHeader('Publish cost: server CPU per HTTP publication', command, `${options.publications} publications + ${options.batches} batches of ${BATCH_SIZE}, concurrency ${options.concurrency}, ${options.runs} run(s)`),
      summaryMarkdown,
      '',
      '## Per run',
      '',
      table(
        ['target', 'run', 'publications', 'errors', 'publications/s', 'server CPU s', 'ms / publication', 'batches', 'ms / batch'],
        results.map((r) => [r.target, r.run + 1, r.single.count, r.single.errors, r.single.perS, r.single.cpuS, r.single.cpuPerRequestMs, r.batch?.count ?? '-', r.batch?.cpuPerRequestMs ?? '-']),
      ),
      '',
    ].join('\n');
    return { markdown, json: { results, summaries, summaryMarkdown, charts: charts(summaries) } };
  },
});
