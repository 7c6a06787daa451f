/**
 * What every benchmark scenario needs around its measurement: child processes
 * that die with the bench (also on error or Ctrl-C), free ports, the servers
 * under test (Roomcast and the two baselines), forked load-generator workers
 * with a typed message wait, a progress bar, medians, and the report files.
 * Scenarios own only their measurement logic.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { cpus, totalmem } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/bench/lib). */
export const repoRoot = resolve(here, '../../..');
export const BENCH_JWT_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

export type Target = 'roomcast' | 'bare-ws' | 'socketio';
export const TARGETS: readonly Target[] = ['roomcast', 'bare-ws', 'socketio'];

// ---------- child processes: all killed when the bench ends, however it ends

const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
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

/** Environment for a Roomcast node under load: limits meant for abuse are lifted so they do not shape the figures. */
export function roomcastBenchEnv(port: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ID: `bench-${port}`,
    JWT_SECRET: BENCH_JWT_SECRET,
    API_KEYS: BENCH_API_KEY,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_S: '100000',
    RATE_LIMIT_BURST: '100000',
    MAX_CONNECTIONS_PER_USER: '0',
    ACCEPT_RATE_PER_S: '0',
    // The load comes from a few loopback addresses: the per-address limits would shape the figures.
    MAX_CONNECTIONS_PER_IP: '0',
    ACCEPT_RATE_PER_IP_PER_S: '0',
    PUBLISH_BYTES_PER_USER_PER_S: '0',
    REDIS_URL: '',
    REDIS_CLUSTER_NODES: '',
    ...extra,
  };
}

export interface ServerHandle {
  target: Target;
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
}

export interface StartOptions {
  /** Extra environment (Roomcast settings such as REDIS_URL, HISTORY_SIZE; REDIS_URL for the Socket.IO baseline). */
  env?: Record<string, string>;
  /** Node flags for the server process, e.g. ['--expose-gc']. */
  nodeArgs?: string[];
  /** Script to run instead of dist/server/main.js for Roomcast (e.g. a wrapper that answers IPC). */
  roomcastScript?: string;
  /** Open an IPC channel to the server (for scripts that answer `process.on('message')`). */
  ipc?: boolean;
}

async function waitHealthy(child: ChildProcess, url: string, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`${what} did not become healthy in 20 s`);
}

function waitReadyLine(child: ChildProcess, what: string): Promise<void> {
  return new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready in 20 s`)), 20_000);
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
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

/** Starts one server under test on a free port of 127.0.0.1 and waits until it serves. */
export async function startTarget(target: Target, options: StartOptions = {}): Promise<ServerHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const stdio: Array<'ignore' | 'pipe' | 'inherit' | 'ipc'> = ['ignore', target === 'roomcast' ? 'ignore' : 'pipe', 'inherit'];
  if (options.ipc === true) stdio.push('ipc');
  if (target === 'roomcast') {
    const script = options.roomcastScript ?? join(repoRoot, 'dist/server/main.js');
    // ROOMCAST_BENCH_LOG_DIR: keep each node's log (LOG_LEVEL warn) as <dir>/node-<port>.log, e.g. to count a drained node's timeouts.
    const logDir = process.env.ROOMCAST_BENCH_LOG_DIR;
    if (logDir !== undefined) stdio[1] = 'pipe';
    // ROOMCAST_BENCH_NODE_ARGS: more Node flags for Roomcast's nodes only (space-separated), e.g. to compare a V8 heap setting.
    const extraArgs = (process.env.ROOMCAST_BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    const child = track(spawn(process.execPath, [...extraArgs, ...(options.nodeArgs ?? []), script], { env: roomcastBenchEnv(port, options.env), stdio }));
    if (logDir !== undefined) child.stdout?.pipe(createWriteStream(join(logDir, `node-${port}.log`)));
    await waitHealthy(child, url, 'roomcast');
    return { target, url, port, pid: child.pid ?? 0, child };
  }
  return startBaseline(target, target === 'bare-ws' ? 'bare-ws-server.js' : 'plain-socketio-server.js', port, stdio, options);
}

/** Starts a script of dist/bench/baselines/ that prints {"ready":true} once it listens on `--port`. */
async function startBaseline<T>(target: T, script: string, port: number, stdio: Array<'ignore' | 'pipe' | 'inherit' | 'ipc'>, options: StartOptions): Promise<{ target: T; url: string; port: number; pid: number; child: ChildProcess }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.REDIS_URL === undefined) delete env.REDIS_URL;
  const child = track(
    spawn(process.execPath, [...(options.nodeArgs ?? []), join(repoRoot, 'dist/bench/baselines', script), '--port', String(port)], { env, stdio }),
  );
  await waitReadyLine(child, String(target));
  return { target, url: `http://127.0.0.1:${port}`, port, pid: child.pid ?? 0, child };
}

/** The floor for an HTTP publication: a bare node:http JSON handler (bench/baselines/http-floor-server.ts). */
export async function startHttpFloor(): Promise<{ target: 'http-floor'; url: string; port: number; pid: number; child: ChildProcess }> {
  return startBaseline('http-floor' as const, 'http-floor-server.js', await freePort(), ['ignore', 'pipe', 'inherit'], {});
}

/**
 * Stops a server: SIGKILL by default; SIGTERM lets it exit by itself (needed
 * for `--cpu-prof`, which writes the profile on a clean exit), SIGKILL after `graceMs`.
 */
export async function stopServer(server: { child: ChildProcess }, signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => server.child.once('exit', () => r()));
  server.child.kill(signal);
  await Promise.race([exited, sleep(signal === 'SIGKILL' ? 3000 : graceMs)]);
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
}

/** Node flags that write a CPU profile of a server into `dir` (on a clean exit: stop it with SIGTERM). */
export function cpuProfileArgs(dir: string | undefined): string[] {
  return dir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

// ---------- forked workers with a typed message wait

export type WorkerMessage = { type: string; [key: string]: unknown };

export interface WorkerHandle {
  child: ChildProcess;
  pid: number;
  waiters: Array<(message: WorkerMessage) => boolean>;
}

/** Forks a worker script; `script` is resolved from dist/bench/lib. */
export function forkWorker(script: string, nodeArgs: string[] = []): WorkerHandle {
  return ipcHandle(track(fork(join(here, script), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: nodeArgs })));
}

/** A typed message wait (waitFor/askAll) over any child with an IPC channel, e.g. a server started with `ipc: true`. */
export function ipcHandle(child: ChildProcess): WorkerHandle {
  const handle: WorkerHandle = { child, pid: child.pid ?? 0, waiters: [] };
  child.on('message', (message: WorkerMessage) => {
    handle.waiters = handle.waiters.filter((waiter) => !waiter(message));
  });
  return handle;
}

/** Resolves with the next message of `type`; other messages go to `onOther`. Rejects if the worker exits first. */
export function waitFor<T>(worker: WorkerHandle, type: string, timeoutMs: number, onOther?: (message: WorkerMessage) => void): Promise<T> {
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

/** Sends `request` to every worker and collects each one's `replyType` answer. */
export function askAll<T>(workers: WorkerHandle[], request: WorkerMessage, replyType: string, timeoutMs = 30_000): Promise<T[]> {
  return Promise.all(
    workers.map((worker) => {
      const reply = waitFor<T>(worker, replyType, timeoutMs);
      worker.child.send(request);
      return reply;
    }),
  );
}

export async function stopWorkers(workers: WorkerHandle[]): Promise<void> {
  for (const worker of workers) {
    if (worker.child.connected) worker.child.send({ type: 'stop' });
  }
  await sleep(200);
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
}

/** 127.0.0.x source addresses for worker `index`, so no (source, destination) pair runs out of ephemeral ports. */
export function sourceAddresses(index: number, perWorker = 4): string[] {
  return Array.from({ length: perWorker }, (_, i) => `127.0.${1 + Math.floor((index * perWorker + i) / 250)}.${2 + ((index * perWorker + i) % 250)}`);
}

// ---------- progress on stderr (a bar on a terminal, a line every few seconds otherwise)

export class Progress {
  private lastLine = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, extra = ''): void {
    const tty = process.stderr.isTTY === true;
    const now = Date.now();
    if (!tty && now - this.lastLine < 5000) return;
    this.lastLine = now;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${extra}`;
    process.stderr.write(tty ? `\r  ${this.label} ${bar}   ` : `  ${this.label} ${bar}\n`);
  }

  done(message: string): void {
    process.stderr.write(`${process.stderr.isTTY === true ? '\r' : ''}  ${this.label}: ${message}${' '.repeat(20)}\n`);
  }
}

// ---------- numbers

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Number.isFinite(value) ? Math.round(value * scale) / scale : value;
}

export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** `a / b` rounded, NaN when either is missing (or b is 0): a figure for the JSON, printed with ratioText. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? round(a / b) : Number.NaN;
}

/**
 * `a / b` as a report prints it: `1.45x` (or with `suffix`, e.g. '' in a table of ratios), or `n/a (<why>)` when
 * it cannot be computed: the baseline `b` missing or 0, or the figure `a` missing. Never NaN or Infinity. `baseline`
 * names b in the reason ("n/a (plain Socket.IO baseline is 0)"). Takes null too: NaN reads back from JSON as null.
 */
export function ratioText(a: number | null | undefined, b: number | null | undefined, options: { baseline?: string; suffix?: string } = {}): string {
  const baseline = options.baseline === undefined ? 'baseline' : `${options.baseline} baseline`;
  if (typeof b !== 'number' || !Number.isFinite(b)) return `n/a (${baseline} missing)`;
  if (b === 0) return `n/a (${baseline} is 0)`;
  if (typeof a !== 'number' || !Number.isFinite(a)) return 'n/a (figure missing)';
  return `${round(a / b)}${options.suffix ?? 'x'}`;
}

// ---------- options and reports

/** Reads `--name value` from argv. */
export function argValue(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

export function machineLine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}`;
}

export function machineInfo(): Record<string, unknown> {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
}

/** A chart in a report (the `charts` field); bench/report.ts renders it to SVG for docs/performance.md. */
export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: Array<{ name: string; points: Array<[number, number]> }>;
}

/** Markdown table from a header row and rows of cells. */
export function table(header: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  // A figure that could not be measured (NaN, or null as JSON keeps NaN) reads `n/a`, never `NaN`.
  const cell = (value: string | number | boolean | null | undefined): string =>
    typeof value === 'boolean' ? (value ? 'yes' : 'no') : value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value)) ? 'n/a' : String(value);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');
}

/**
 * Writes bench/reports/<scenario>-<time>[-smoke].{json,md}; returns the base path.
 * The JSON carries the machine and the command so a report stands on its own.
 */
export function writeReport(scenario: string, smoke: boolean, json: Record<string, unknown>, markdown: string): string {
  const reportsDir = join(repoRoot, 'bench/reports');
  mkdirSync(reportsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const base = join(reportsDir, `${scenario}-${stamp}${smoke ? '-smoke' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ scenario, machine: machineInfo(), at: new Date().toISOString(), ...json }, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  process.stderr.write(`report: ${base}.json, ${base}.md\n`);
  return base;
}

/** Runs a scenario's main with an overall time limit; exits 0/1 (2 on time limit) after killing every child. */
export function runMain(name: string, main: () => Promise<void>, timeLimitMs: number): void {
  const deadline = setTimeout(() => {
    process.stderr.write(`${name}: overall time limit of ${Math.round(timeLimitMs / 1000)} s reached\n`);
    killAll();
    process.exit(2);
  }, timeLimitMs);
  deadline.unref();
  main()
    .then(() => {
      killAll();
      process.exit(0);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      killAll();
      process.exit(1);
    });
}
