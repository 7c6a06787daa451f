/**
 * Proxy overhead: what PUBLISH_PROXY_URL adds to a client publication. One
 * Roomcast node (memory mode) and one Socket.IO client that joins a room and
 * publishes with `room:publish`, one after the other, each waiting for its ack;
 * the latency of a publication is its ack's round trip. Each run measures both
 * modes back to back, in alternating order: `direct` (no proxy) and `proxied`
 * (PUBLISH_PROXY_URL pointing at a local receiver, a plain http.Server in its own
 * process that reads the signed body and answers `{ "result": "allow" }`).
 * Reported: the median and p99 latency per mode (medians over runs), the
 * overhead per publication (proxied minus direct, and proxied / direct, both
 * from the same run, then the median over runs), and the CPU of each process
 * (gateway, receiver, this process as the client) per publication and in percent.
 *
 *   npm run bench:proxy -- [--publications 3000] [--warmup 300] [--runs 5] [--smoke]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { io, type Socket } from 'socket.io-client';
import { signToken } from '../../tools/processes/tokens.js';
import { processCpuSeconds } from '../lib/proc-cpu.js';
import { quantileOf } from '../lib/rooms-run.js';
import { medianOf, reportHeader, runScenario, type ScenarioOptions } from '../lib/scenario-runner.js';
import { BENCH_JWT_SECRET, round, startTarget, stopServer, table, track } from '../lib/harness.js';

type Mode = 'direct' | 'proxied';
const MODES: readonly Mode[] = ['direct', 'proxied'];
const SECRET = 'bench-proxy-secret-0123456789abcdef0123';

interface Options extends ScenarioOptions {
  publications: number;
  warmup: number;
}

interface RunResult {
  mode: Mode;
  run: number;
  publications: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** CPU milliseconds per publication, by process. */
  cpuMsPerPublication: Record<string, number>;
  /** CPU percent of one core over the measured phase, by process. */
  cpuPct: Record<string, number>;
}

/** The receiver: answers every POST with an allow once its body is read (as a backend would before deciding). */
const RECEIVER_SOURCE = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"result":"allow"}');
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

async function startReceiver(): Promise<{ child: ChildProcess; url: string; pid: number }> {
  const child = track(spawn(process.execPath, ['--input-type=module', '-e', RECEIVER_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the receiver did not start in 10 s')), 10_000);
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /"port":(\d+)/.exec(buffer);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}/publish`, pid: child.pid ?? 0 };
}

function publishOnce(socket: Socket, seq: number): Promise<boolean> {
  return (socket.timeout(10_000) as unknown as { emitWithAck(event: string, payload: unknown): Promise<{ ok: boolean }> })
    .emitWithAck('room:publish', { room: 'bench:proxy', event: 'n', data: { seq, text: 'a short chat line of the usual size' } })
    .then(
      (ack) => ack.ok,
      () => false,
    );
}

async function measure(mode: Mode, options: Options, run: number): Promise<RunResult> {
  const receiver = mode === 'proxied' ? await startReceiver() : null;
  const env: Record<string, string> = receiver === null ? {} : { PUBLISH_PROXY_URL: receiver.url, WEBHOOK_SECRET: SECRET };
  const gateway = await startTarget('roomcast', { env });
  const token = await signToken(BENCH_JWT_SECRET, { sub: 'bench', rooms: ['bench:*'] });
  const socket: Socket = io(gateway.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const joined = (await (socket.timeout(10_000) as unknown as { emitWithAck(event: string, payload: unknown): Promise<{ ok: boolean }> }).emitWithAck('room:join', {
      room: 'bench:proxy',
    })) as { ok: boolean };
    if (!joined.ok) throw new Error('the bench client could not join its room');
    // Warm-up: JIT, the receiver's pooled connection.
    for (let seq = 0; seq < options.warmup; seq += 1) await publishOnce(socket, seq);

    const pids: Record<string, number> = { gateway: gateway.pid, ...(receiver === null ? {} : { receiver: receiver.pid }) };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid)]));
    const clientBefore = process.cpuUsage();
    const latencies: number[] = [];
    let failed = 0;
    const started = performance.now();
    for (let seq = 0; seq < options.publications; seq += 1) {
      const sent = performance.now();
      if (await publishOnce(socket, options.warmup + seq)) latencies.push(performance.now() - sent);
      else failed += 1;
    }
    const elapsedS = (performance.now() - started) / 1000;
    const clientUsage = process.cpuUsage(clientBefore);
    const cpuSeconds: Record<string, number> = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid) - (cpuBefore[name] ?? 0)]));
    cpuSeconds.client = (clientUsage.user + clientUsage.system) / 1e6;
    const count = Math.max(1, options.publications);
    return {
      mode,
      run,
      publications: latencies.length,
      failed,
      p50Ms: round(quantileOf(latencies, 0.5), 3),
      p99Ms: round(quantileOf(latencies, 0.99), 3),
      meanMs: round(latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length), 3),
      cpuMsPerPublication: Object.fromEntries(Object.entries(cpuSeconds).map(([name, seconds]) => [name, round((seconds * 1000) / count, 4)])),
      cpuPct: Object.fromEntries(Object.entries(cpuSeconds).map(([name, seconds]) => [name, round((seconds / elapsedS) * 100, 1)])),
    };
  } finally {
    socket.close();
    await stopServer(gateway);
    if (receiver !== null) await stopServer(receiver);
  }
}

runScenario<Options, Mode, RunResult>({
  name: 'proxy-overhead',
  options: (args) => ({
    smoke: args.smoke,
    runs: args.number('runs', args.smoke ? 1 : 5),
    publications: args.number('publications', args.smoke ? 200 : 3000),
    warmup: args.number('warmup', args.smoke ? 50 : 300),
  }),
  timeLimitMs: (options) => 60_000 + options.runs * 2 * (20_000 + options.publications * 20),
  // Alternating order per run, so neither mode always runs on a warmer machine.
  units: (_options, run) => (run % 2 === 0 ? MODES : [...MODES].reverse()),
  describe: (mode, options, run) => `run ${run + 1}/${options.runs}: ${mode}, ${options.publications} publications`,
  run: (mode, { options, run }) => measure(mode, options, run),
  report: (results, { options, command }) => {
    const byMode = (mode: Mode): RunResult[] => results.filter((result) => result.mode === mode);
    const direct = byMode('direct');
    const proxied = byMode('proxied');
    // Overhead from the two modes of the same run, then the median over runs.
    const pairs = direct.map((d) => ({ d, p: proxied.find((p) => p.run === d.run) })).filter((pair): pair is { d: RunResult; p: RunResult } => pair.p !== undefined);
    const overheadMs = medianOf(pairs, ({ d, p }) => p.p50Ms - d.p50Ms, 3);
    const overheadRatio = medianOf(pairs, ({ d, p }) => p.p50Ms / d.p50Ms, 2);
    const overheadP99Ms = medianOf(pairs, ({ d, p }) => p.p99Ms - d.p99Ms, 3);
    const cpu = (rows: RunResult[], name: string, pick: 'cpuMsPerPublication' | 'cpuPct'): number => medianOf(rows, (row) => row[pick][name] ?? Number.NaN, 4);
    const summary = {
      direct: { p50Ms: medianOf(direct, (r) => r.p50Ms, 3), p99Ms: medianOf(direct, (r) => r.p99Ms, 3) },
      proxied: { p50Ms: medianOf(proxied, (r) => r.p50Ms, 3), p99Ms: medianOf(proxied, (r) => r.p99Ms, 3) },
      overheadMs,
      overheadRatio,
      overheadP99Ms,
    };
    const rows = MODES.map((mode) => {
      const rowsOf = byMode(mode);
      return [
        mode,
        medianOf(rowsOf, (r) => r.p50Ms, 3),
        medianOf(rowsOf, (r) => r.p99Ms, 3),
        cpu(rowsOf, 'gateway', 'cpuMsPerPublication'),
        mode === 'proxied' ? cpu(rowsOf, 'receiver', 'cpuMsPerPublication') : '-',
        cpu(rowsOf, 'client', 'cpuMsPerPublication'),
        cpu(rowsOf, 'gateway', 'cpuPct'),
        rowsOf.reduce((sum, r) => sum + r.failed, 0),
      ];
    });
    const markdown = [
      ...reportHeader('Proxy overhead per client publication', command, `${options.runs} run(s) x ${options.publications} sequential publications per mode`),
      table(['mode', 'p50 ms', 'p99 ms', 'gateway CPU ms/pub', 'receiver CPU ms/pub', 'client CPU ms/pub', 'gateway CPU %', 'failed'], rows),
      '',
      `Overhead of PUBLISH_PROXY_URL (same run, median over runs): p50 +${overheadMs} ms (x${overheadRatio}), p99 +${overheadP99Ms} ms.`,
      '',
    ].join('\n');
    return { markdown, json: { results, summary } };
  },
});
