/**
 * Scenario 2, fan-out: one server process (Roomcast single node or a baseline),
 * N members in one room held by load-generator worker processes, a publisher at
 * increasing rates. Per rate step: deliveries/s, p50/p99/max latency, lost,
 * server CPU % and CPU per delivery, load-generator CPU %; per target the
 * highest rate with p99 <= 50 ms and nothing lost; ratios vs each baseline.
 *
 *   npm run bench:fanout -- [--targets roomcast,bare-ws,socketio] [--members 1000]
 *     [--workers 2] [--rates 10,25,50,100,200,400] [--step-s 5] [--all-steps] [--smoke]
 *
 * Rates climb until a step's p99 exceeds 500 ms or loses messages (unless --all-steps).
 * Latency buckets stop at 10 s: a p50/p99 of 10001 means "10 s or more".
 *
 * Output: a table on stdout, JSON + Markdown in bench/reports/.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createServer, Agent, request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { BareWsClient, LatencyHistogram, nowMs } from '../lib/lean-client.js';
import { processCpuSeconds } from '../lib/proc-cpu.js';
import type { FanoutTarget, WorkerStart } from '../lib/fanout-worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..'); // dist/bench/scenarios -> repo
const JWT_SECRET = 'bench-fanout-secret-0123456789abcdef0123456789';
const API_KEY = 'bench-fanout-api-key-0123456789';
const ROOM = 'bench:fan';
const SLO_P99_MS = 50;

interface Options {
  targets: FanoutTarget[];
  members: number;
  workers: number;
  rates: number[];
  stepMs: number;
  drainMs: number;
  drainMaxMs: number;
  smoke: boolean;
  allSteps: boolean;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const smoke = argv.includes('--smoke');
  const targets = (get('targets') ?? 'roomcast,bare-ws,socketio').split(',').map((t) => t.trim()) as FanoutTarget[];
  for (const t of targets) if (!['roomcast', 'bare-ws', 'socketio'].includes(t)) throw new Error(`unknown target ${t}`);
  return {
    targets,
    smoke,
    allSteps: argv.includes('--all-steps'),
    members: Number(get('members') ?? (smoke ? 20 : 1000)),
    workers: Number(get('workers') ?? (smoke ? 1 : 2)),
    rates: (get('rates') ?? (smoke ? '20,50' : '10,25,50,100,200,400')).split(',').map(Number),
    stepMs: Number(get('step-s') ?? (smoke ? 1 : 5)) * 1000,
    drainMs: smoke ? 300 : 1000,
    drainMaxMs: smoke ? 3000 : 20_000,
  };
}

// ---------- child processes (all killed at the end, also on error / SIGINT)

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ServerHandle {
  target: FanoutTarget;
  url: string;
  pid: number;
  child: ChildProcess;
}

async function startServer(target: FanoutTarget): Promise<ServerHandle> {
  const port = await freePort();
  if (target === 'roomcast') {
    const child = track(
      spawn(process.execPath, [join(repoRoot, 'dist/server/main.js')], {
        env: {
          ...process.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          NODE_ID: 'bench-fanout',
          JWT_SECRET,
          API_KEYS: API_KEY,
          LOG_LEVEL: 'warn',
          RATE_LIMIT_PER_S: '100000',
          RATE_LIMIT_BURST: '100000',
          MAX_CONNECTIONS_PER_USER: '0',
          ACCEPT_RATE_PER_S: '0',
          REDIS_URL: '',
          REDIS_CLUSTER_NODES: '',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`roomcast exited with ${child.exitCode}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) return { target, url, pid: child.pid ?? 0, child };
      } catch {
        /* not yet */
      }
      await sleep(100);
    }
    throw new Error('roomcast did not become healthy in 20 s');
  }
  const script = target === 'bare-ws' ? 'bare-ws-server.js' : 'plain-socketio-server.js';
  const env = { ...process.env };
  delete env.REDIS_URL;
  const child = track(spawn(process.execPath, [join(repoRoot, 'dist/bench/baselines', script), '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'inherit'] }));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target} not ready in 20 s`)), 20_000);
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('"ready":true')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${target} exited with ${code}`));
    });
  });
  return { target, url: `http://127.0.0.1:${port}`, pid: child.pid ?? 0, child };
}

async function stopServer(server: ServerHandle): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => server.child.once('exit', () => r()));
  server.child.kill('SIGKILL');
  await Promise.race([exited, sleep(3000)]);
}

// ---------- workers

interface WorkerHandle {
  child: ChildProcess;
  pid: number;
  waiters: Array<(message: { type: string; [key: string]: unknown }) => boolean>;
}

function forkWorker(): WorkerHandle {
  const child = track(fork(join(here, '../lib/fanout-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const handle: WorkerHandle = { child, pid: child.pid ?? 0, waiters: [] };
  child.on('message', (message: { type: string; [key: string]: unknown }) => {
    handle.waiters = handle.waiters.filter((waiter) => !waiter(message));
  });
  return handle;
}

function waitFor<T>(worker: WorkerHandle, type: string, timeoutMs: number, onOther?: (message: { type: string; [key: string]: unknown }) => void): Promise<T> {
  return new Promise((resolveMessage, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`worker exited with ${code}`));
    const timer = setTimeout(() => {
      worker.child.off('exit', onExit);
      reject(new Error(`worker: no ${type} in ${timeoutMs} ms`));
    }, timeoutMs);
    worker.child.once('exit', onExit);
    worker.waiters.push((message) => {
      if (message.type === type) {
        clearTimeout(timer);
        worker.child.off('exit', onExit);
        resolveMessage(message as T);
        return true;
      }
      onOther?.(message);
      return false;
    });
  });
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
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const { hostname, port } = new URL(server.url);
  const path = server.target === 'roomcast' ? '/api/v1/publish' : '/pub';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (server.target === 'roomcast') headers.authorization = `Bearer ${API_KEY}`;
  return {
    publish: (seq, step) =>
      new Promise<boolean>((resolveOk) => {
        const data = { bseq: seq, bs: step, bt: nowMs() };
        const body = JSON.stringify(server.target === 'roomcast' ? { room: ROOM, event: 'bench', data } : { room: ROOM, data });
        const req = request({ agent, hostname, port, path, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => resolveOk(res.statusCode === 200));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolveOk(false));
        req.end(body);
      }),
    close: () => agent.destroy(),
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
}

interface TargetResult {
  target: FanoutTarget;
  members: number;
  connected: number;
  connectMs: number;
  steps: StepResult[];
  maxRateOk: number;
  cpuPerDeliveryUs: number;
}

async function runTarget(target: FanoutTarget, options: Options): Promise<TargetResult> {
  const server = await startServer(target);
  const workers: WorkerHandle[] = [];
  try {
    const perWorker = Math.ceil(options.members / options.workers);
    const connectStart = Date.now();
    const progress = new Map<number, number>();
    const readies: Array<Promise<{ connected: number; failed: number; error?: string }>> = [];
    for (let w = 0; w < options.workers; w++) {
      const count = Math.min(perWorker, options.members - w * perWorker);
      if (count <= 0) break;
      const worker = forkWorker();
      workers.push(worker);
      readies.push(
        waitFor(worker, 'ready', 120_000, (m) => {
          if (m.type === 'progress') {
            progress.set(w, Number(m.connected));
            const total = [...progress.values()].reduce((a, b) => a + b, 0);
            process.stderr.write(`\r  ${target}: connecting ${total}/${options.members}   `);
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
        addresses: Array.from({ length: 4 }, (_, i) => `127.0.0.${2 + w * 4 + i}`),
        ...(target === 'roomcast' ? { jwtSecret: JWT_SECRET } : {}),
      };
      worker.child.send(start);
    }
    const ready = await Promise.all(readies);
    const connected = ready.reduce((a, r) => a + r.connected, 0);
    const connectMs = Date.now() - connectStart;
    process.stderr.write(`\r  ${target}: ${connected}/${options.members} members joined in ${connectMs} ms\n`);
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
        const published = oks.filter(Boolean).length;
        // Drain: wait until every member has every publication, or deliveries stop
        // growing for drainMs, or drainMaxMs passed (the rest counts as lost).
        const wanted = published * connected;
        const drainStart = Date.now();
        let last = -1;
        let lastChange = Date.now();
        while (Date.now() - drainStart < options.drainMaxMs) {
          const counts = await Promise.all(
            workers.map((worker) => {
              const p = waitFor<{ received: number }>(worker, 'count', 30_000);
              worker.child.send({ type: 'count', step: s });
              return p;
            }),
          );
          const total = counts.reduce((a, c) => a + c.received, 0);
          if (total >= wanted) break;
          if (total !== last) {
            last = total;
            lastChange = Date.now();
          } else if (Date.now() - lastChange >= options.drainMs) break;
          await sleep(100);
        }
        const stats = await Promise.all(
          workers.map((worker) => {
            const p = waitFor<{ histogram: ReturnType<LatencyHistogram['toJSON']>; received: number; lost: number }>(worker, 'stats', 30_000);
            worker.child.send({ type: 'collect', step: s, expected: published });
            return p;
          }),
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
    return { target, members: options.members, connected, connectMs, steps, maxRateOk, cpuPerDeliveryUs };
  } finally {
    for (const worker of workers) {
      if (worker.child.connected) worker.child.send({ type: 'stop' });
    }
    await sleep(200);
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await stopServer(server);
  }
}

function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : value;
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function ratios(results: TargetResult[]): Array<{ baseline: string; cpuPerDeliveryRatio: number; maxRateRatio: number }> {
  const roomcast = results.find((r) => r.target === 'roomcast');
  if (!roomcast) return [];
  return results
    .filter((r) => r.target !== 'roomcast')
    .map((r) => ({
      baseline: r.target,
      cpuPerDeliveryRatio: round(roomcast.cpuPerDeliveryUs / r.cpuPerDeliveryUs),
      maxRateRatio: r.maxRateOk > 0 ? round(roomcast.maxRateOk / r.maxRateOk) : Number.NaN,
    }));
}

function markdown(results: TargetResult[], options: Options, command: string): string {
  const lines = [
    `# Fan-out: ${options.members} members in one room`,
    '',
    `Command: \`${command}\`  `,
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; step ${options.stepMs / 1000} s`,
    '',
    '| target | rate/s | deliveries/s | p50 ms | p99 ms | max ms | lost | pub errors | server CPU % | server µs/delivery | load-gen CPU % | ok |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    for (const s of r.steps) {
      lines.push(
        `| ${r.target} | ${s.rate} | ${s.deliveriesPerS} | ${s.p50} | ${s.p99} | ${s.max} | ${s.lost} | ${s.pubErrors} | ${s.serverCpuPct} | ${s.serverCpuPerDeliveryUs} | ${s.loadGenCpuPct} | ${s.ok ? 'yes' : 'no'} |`,
      );
    }
  }
  lines.push('', '| target | members joined | highest rate with p99 <= 50 ms, nothing lost | median server µs/delivery (steps without loss) |', '|---|---|---|---|');
  for (const r of results) lines.push(`| ${r.target} | ${r.connected} | ${r.maxRateOk} | ${round(r.cpuPerDeliveryUs)} |`);
  const rs = ratios(results);
  if (rs.length > 0) {
    lines.push('', '| Roomcast vs | CPU per delivery ratio (target <= 1.25 vs bare-ws) | max-rate ratio (target >= 2 vs socketio) |', '|---|---|---|');
    for (const r of rs) lines.push(`| ${r.baseline} | ${r.cpuPerDeliveryRatio} | ${r.maxRateRatio} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const command = `node dist/bench/scenarios/fanout.js ${process.argv.slice(2).join(' ')}`.trim();
  const deadline = setTimeout(
    () => {
      process.stderr.write('fanout: overall time limit reached\n');
      killAll();
      process.exit(2);
    },
    options.targets.length * (60_000 + options.rates.length * (options.stepMs + options.drainMaxMs + 35_000)),
  );
  deadline.unref();
  const results: TargetResult[] = [];
  for (const target of options.targets) {
    process.stderr.write(`${target}: ${options.members} members, ${options.workers} worker(s), rates ${options.rates.join(', ')}/s\n`);
    results.push(await runTarget(target, options));
  }
  const md = markdown(results, options, command);
  process.stdout.write(md);
  const reportsDir = join(repoRoot, 'bench/reports');
  mkdirSync(reportsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const base = join(reportsDir, `fanout-${stamp}${options.smoke ? '-smoke' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ scenario: 'fanout', command, options, node: process.version, cpus: cpus().length, results, ratios: ratios(results) }, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  process.stderr.write(`report: ${base}.json, ${base}.md\n`);
}

main()
  .then(() => {
    killAll();
    process.exit(0);
  })
  .catch((error: unknown) => {
    process.stderr.write(`fanout failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killAll();
    process.exit(1);
  });
