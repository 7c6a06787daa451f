/**
 * The scenario side of bench/lib/room-worker.ts, shared by the headline
 * (scenario 4) and the reconnect storm (scenario 5): a redis-server plus N
 * Roomcast nodes on it, a fleet of room workers connected with a progress bar
 * (sampling memory against connections), HTTP publishers that remember each
 * room's final offset, the verification of every client's offsets against
 * them, and CPU / RSS per process.
 */
import { Agent, request } from 'node:http';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { LatencyHistogram, nowMs } from './lean-client.js';
import { processCpuSeconds, processRssBytes } from './proc-cpu.js';
import { RECONNECT_SCALE, type RoomWorkerCounters, type RoomWorkerStart, type RoomWorkerStats } from './room-worker.js';
import {
  BENCH_API_KEY,
  BENCH_JWT_SECRET,
  Progress,
  askAll,
  cpuProfileArgs,
  forkWorker,
  round,
  sleep,
  sourceAddresses,
  startTarget,
  stopServer,
  stopWorkers,
  waitFor,
  type ServerHandle,
  type WorkerHandle,
} from './harness.js';
import { inspectArgs } from './inspector-profile.js';

export type Histogram = ReturnType<LatencyHistogram['toJSON']>;

// ---------- cluster

export interface Cluster {
  redis: RedisProcess;
  nodes: ServerHandle[];
  profileDir?: string;
  /** Each node's inspector port, when started with `inspect` (bench/lib/inspector-profile.ts samples a window of it). */
  inspectorPorts?: number[];
}

/**
 * A fresh redis-server (own temp dir, free port) and `nodes` Roomcast nodes with REDIS_URL on it.
 * `profileDir`: node 1 runs under `--cpu-prof` (stopCluster stops it with SIGTERM so V8 writes the profile).
 * `inspect`: every node opens its inspector on a loopback port (Cluster.inspectorPorts).
 */
export async function startCluster(nodes: number, env: Record<string, string> = {}, profileDir?: string, inspect = false, nodeArgs: readonly string[] = []): Promise<Cluster> {
  const redis = await startRedis({ extraArgs: ['--maxclients', '10000'] });
  const started: ServerHandle[] = [];
  const inspectorPorts: number[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const inspector = inspect ? await inspectArgs() : undefined;
      if (inspector !== undefined) inspectorPorts.push(inspector.port);
      started.push(await startTarget('roomcast', { env: { REDIS_URL: redis.url, ...env }, nodeArgs: [...(i === 0 ? cpuProfileArgs(profileDir) : []), ...(inspector?.args ?? []), ...nodeArgs] }));
    }
  } catch (error) {
    for (const node of started) await stopServer(node);
    await redis.stop();
    throw error;
  }
  return { redis, nodes: started, ...(profileDir !== undefined ? { profileDir } : {}), ...(inspect ? { inspectorPorts } : {}) };
}

/** Stop the clients first: a profiled node 1 then drains at once and writes its profile. */
export async function stopCluster(cluster: Cluster): Promise<void> {
  for (const [i, node] of cluster.nodes.entries()) await stopServer(node, i === 0 && cluster.profileDir !== undefined ? 'SIGTERM' : 'SIGKILL', 60_000);
  await cluster.redis.stop();
}

// ---------- CPU and memory per process

export interface ProcessRef {
  name: string;
  pid: number;
}

export function clusterProcesses(cluster: Cluster, workers: WorkerHandle[]): ProcessRef[] {
  return [
    ...cluster.nodes.map((node, i) => ({ name: `node ${i + 1}`, pid: node.pid })),
    { name: 'redis-server', pid: cluster.redis.pid },
    ...workers.map((worker, i) => ({ name: `worker ${i + 1}`, pid: worker.pid })),
    { name: 'bench (publisher)', pid: process.pid },
  ];
}

export interface CpuMark {
  at: number;
  cpu: Map<number, number>;
}

export function cpuMark(processes: ProcessRef[]): CpuMark {
  return { at: Date.now(), cpu: new Map(processes.map((p) => [p.pid, processCpuSeconds(p.pid)])) };
}

/** CPU % of one core per process between two marks (a process gone by `to` counts up to its last reading as NaN). */
export function cpuBetween(processes: ProcessRef[], from: CpuMark, to: CpuMark): Array<{ name: string; cpuPct: number; cpuSeconds: number }> {
  const wall = (to.at - from.at) / 1000;
  return processes.map((p) => {
    const seconds = (to.cpu.get(p.pid) ?? Number.NaN) - (from.cpu.get(p.pid) ?? Number.NaN);
    return { name: p.name, cpuSeconds: round(seconds), cpuPct: round((seconds / wall) * 100, 1) };
  });
}

export function rssMB(processes: ProcessRef[]): Array<{ name: string; rssMB: number }> {
  return processes.map((p) => ({ name: p.name, rssMB: round(processRssBytes(p.pid) / 2 ** 20, 1) }));
}

export const sumOf = (values: number[]): number => values.filter(Number.isFinite).reduce((a, b) => a + b, 0);

// ---------- workers

export interface FleetOptions {
  connections: number;
  workers: number;
  /** Global index of the first client (default 0): clients g get sub bench-<g>, group g / groupSize. */
  firstIndex?: number;
  urls: string[];
  reconnectUrls?: string[];
  groupSize: number;
  concurrency: number;
  label: string;
  /** Called about once a second during the ramp with the clients joined so far. */
  onSample?: (joined: number, workers: WorkerHandle[]) => void;
}

export interface Fleet {
  workers: WorkerHandle[];
  connected: number;
  failed: number;
  rampMs: number;
  /** Latest progress counters per worker (kept up to date until stopFleet). */
  counters: Map<number, RoomWorkerCounters>;
}

/** Sums the latest progress counters of every worker. */
export function totals(fleet: Fleet): RoomWorkerCounters {
  const sum: Record<string, number> = {};
  for (const counters of fleet.counters.values()) {
    for (const [key, value] of Object.entries(counters)) if (typeof value === 'number') sum[key] = (sum[key] ?? 0) + value;
  }
  return sum as unknown as RoomWorkerCounters;
}

/** Forks the workers (each < 15,000 connections, its own source addresses) and waits until every client joined both rooms. */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const perWorker = Math.ceil(options.connections / options.workers);
  const workers: WorkerHandle[] = [];
  const counters = new Map<number, RoomWorkerCounters>();
  const fleet: Fleet = { workers, connected: 0, failed: 0, rampMs: 0, counters };
  const bar = new Progress(options.label, options.connections);
  const started = Date.now();
  const readies: Array<Promise<{ connected: number; failed: number; error?: string }>> = [];
  for (let w = 0; w < options.workers; w++) {
    const count = Math.min(perWorker, options.connections - w * perWorker);
    if (count <= 0) break;
    const worker = forkWorker('room-worker.js');
    workers.push(worker);
    worker.child.on('message', (message: { type: string } & RoomWorkerCounters) => {
      if (message.type === 'progress') counters.set(w, message);
    });
    readies.push(waitFor(worker, 'ready', 30 * 60_000));
    const start: RoomWorkerStart = {
      type: 'start',
      urls: options.urls,
      ...(options.reconnectUrls !== undefined ? { reconnectUrls: options.reconnectUrls } : {}),
      count,
      firstIndex: (options.firstIndex ?? 0) + w * perWorker,
      groupSize: options.groupSize,
      jwtSecret: BENCH_JWT_SECRET,
      addresses: sourceAddresses(w, 8),
      concurrency: options.concurrency,
    };
    worker.child.send(start);
  }
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const joined = totals(fleet).live ?? 0;
      bar.update(joined, `${round((Date.now() - started) / 1000, 0)} s`);
      options.onSample?.(joined, workers);
      await sleep(1000);
    }
  })();
  try {
    const ready = await Promise.all(readies);
    fleet.connected = ready.reduce((a, r) => a + r.connected, 0);
    fleet.failed = ready.reduce((a, r) => a + r.failed, 0);
    const errors = ready.filter((r) => r.error !== undefined).map((r) => r.error);
    if (errors.length > 0) process.stderr.write(`  connect errors, first: ${errors[0]}\n`);
  } finally {
    done = true;
    await sampler;
  }
  fleet.rampMs = Date.now() - started;
  options.onSample?.(fleet.connected, workers);
  bar.done(`${fleet.connected}/${options.connections} clients connected and joined in ${round(fleet.rampMs / 1000, 1)} s${fleet.failed > 0 ? `, ${fleet.failed} failed` : ''}`);
  return fleet;
}

export async function stopFleet(fleet: Fleet | null): Promise<void> {
  if (fleet) await stopWorkers(fleet.workers);
}

/** Stops churn and waits until every client is connected and joined again (or `timeoutMs`). */
export async function settle(fleet: Fleet, timeoutMs: number): Promise<boolean> {
  for (const worker of fleet.workers) worker.child.send({ type: 'churn', perSecond: 0, pauseMinMs: 0, pauseMaxMs: 0 });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answers = await askAll<{ live: number; total: number; connecting: number }>(fleet.workers, { type: 'settle' }, 'settled');
    if (answers.every((a) => a.live === a.total && a.connecting === 0)) return true;
    await sleep(250);
  }
  return false;
}

// ---------- publishing over the HTTP API

/** What publishFor drives: one publication into group room `n` or personal room `n`, resolved when answered. */
export interface RoomPublisher {
  publish(kind: 'group' | 'user', n: number): Promise<void>;
}

export class Publisher implements RoomPublisher {
  /** Final (highest) offset published into each group room, by group number. */
  readonly groupFinal: number[] = [];
  readonly userFinal = new Map<number, number>();
  published = 0;
  errors = 0;
  firstError: string | undefined;
  /** Failed publications by what went wrong (the error's text up to its first colon: "HTTP 503", "timeout (new connection, no answer)", "read ECONNRESET"). */
  readonly errorsBy: Record<string, number> = {};
  /**
   * Send -> answer of every answered publication, by window of its send time since `timeAnswers`' t0: how
   * long the publishing node (its HTTP route and the append in Redis) took, apart from the delivery after it.
   */
  readonly answerWindows = new Map<number, LatencyHistogram>();
  private answerT0 = 0;
  private answerWindowMs = 10_000;
  private next = 0;
  private readonly targets: Array<{ agent: Agent; hostname: string; port: number }>;

  constructor(urls: string[]) {
    this.targets = urls.map((url) => {
      const { hostname, port } = new URL(url);
      return { agent: new Agent({ keepAlive: true, maxSockets: 32 }), hostname, port: Number(port) };
    });
  }

  /** Starts timing answers by window of `windowMs` from `t0` (nowMs), the windows the clients time deliveries in. */
  timeAnswers(t0: number, windowMs: number): void {
    this.answerT0 = t0;
    this.answerWindowMs = windowMs;
  }

  /** Publishes `{ bt: nowMs(), pn: node index }` into group room `group` or personal room of client `user`, on the next node in turn. */
  publish(kind: 'group' | 'user', n: number): Promise<void> {
    const pn = this.next++ % this.targets.length;
    const target = this.targets[pn] as { agent: Agent; hostname: string; port: number };
    const room = kind === 'group' ? `group:${n}` : `user:bench-${n}`;
    // Keyed, so a retry of a request whose outcome is unknown cannot store the publication twice.
    const body = JSON.stringify({ room, event: 'bench', data: { bt: nowMs(), pn }, idempotencyKey: `bench-${process.pid}-${this.next}` });
    return this.send(kind, n, body, target, true);
  }

  private send(kind: 'group' | 'user', n: number, body: string, target: { agent: Agent; hostname: string; port: number }, mayRetry: boolean): Promise<void> {
    const sentAt = nowMs();
    return new Promise<void>((resolveDone) => {
      const fail = (why: string): void => {
        this.errors++;
        this.firstError ??= why;
        const cause = why.replace(/^Error: /, '').split(':')[0] ?? why;
        this.errorsBy[cause] = (this.errorsBy[cause] ?? 0) + 1;
        resolveDone();
      };
      const req = request(
        {
          agent: target.agent,
          hostname: target.hostname,
          port: target.port,
          path: '/api/v1/publish',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}`, 'content-length': Buffer.byteLength(body) },
          timeout: 15_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
            this.timeAnswer(sentAt);
            const offset = (JSON.parse(text) as { results: Array<{ offset: number }> }).results[0]?.offset ?? 0;
            if (kind === 'group') this.groupFinal[n] = Math.max(this.groupFinal[n] ?? 0, offset);
            else this.userFinal.set(n, Math.max(this.userFinal.get(n) ?? 0, offset));
            this.published++;
            resolveDone();
          });
        },
      );
      // Where it waited: a new connection may sit in a node's full accept queue (its SYNs, or the handshake's
      // last ACK and the request, dropped and retried by the kernel: the client believes it is connected), a
      // kept-alive one was already accepted and waits for the answer.
      req.on('timeout', () => req.destroy(new Error(`timeout (${req.socket?.connecting === true ? 'still connecting' : req.reusedSocket ? 'kept-alive connection, no answer' : 'new connection, no answer'})`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed as idle just as it was reused: the request was never read
        // (Node's documented case for a retry), so sending it again cannot publish twice.
        if (mayRetry && req.reusedSocket && error.code === 'ECONNRESET') void this.send(kind, n, body, target, false).then(resolveDone);
        else fail(String(error));
      });
      req.end(body);
    });
  }

  close(): void {
    for (const target of this.targets) target.agent.destroy();
  }

  private timeAnswer(sentAt: number): void {
    if (this.answerT0 === 0 || sentAt < this.answerT0) return;
    const index = Math.floor((sentAt - this.answerT0) / this.answerWindowMs);
    let h = this.answerWindows.get(index);
    if (!h) this.answerWindows.set(index, (h = new LatencyHistogram()));
    h.record(nowMs() - sentAt);
  }
}

export interface PublishPlan {
  ms: number;
  /** Publications per second into random group rooms. */
  groupRate: number;
  groups: number;
  /** Publications per second into random personal rooms. */
  userRate: number;
  users: number;
  /** Called about every second (for progress and samples); `stop()` ends the loop early. */
  onTick?: (elapsedMs: number) => void;
  stop?: () => boolean;
}

/** Publishes at a steady rate for plan.ms (the schedule catches up after a slow tick); resolves when every answer is in. */
export async function publishFor(publisher: RoomPublisher, plan: PublishPlan): Promise<void> {
  const started = nowMs();
  const inflight = new Set<Promise<void>>();
  let groupSent = 0;
  let userSent = 0;
  let lastTick = 0;
  for (;;) {
    const elapsed = nowMs() - started;
    if (elapsed >= plan.ms || plan.stop?.() === true) break;
    const groupDue = Math.floor((elapsed * plan.groupRate) / 1000) - groupSent;
    const userDue = Math.floor((elapsed * plan.userRate) / 1000) - userSent;
    for (let i = 0; i < groupDue; i++, groupSent++) track(publisher.publish('group', Math.floor(Math.random() * plan.groups)));
    for (let i = 0; i < userDue; i++, userSent++) track(publisher.publish('user', Math.floor(Math.random() * plan.users)));
    if (elapsed - lastTick >= 1000) {
      lastTick = elapsed;
      plan.onTick?.(elapsed);
    }
    await sleep(2);
  }
  await Promise.all(inflight);

  function track(p: Promise<void>): void {
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }
}

// ---------- verification and results

export interface Verdict {
  lost: number;
  /** Of `lost`, offsets below one the client saw later: a hole the SDK fills from history at once, the bench's lean client does not. */
  lostHoles: number;
  lostClients: number;
  duplicates: number;
  overlap: number;
  recoveredFalse: number;
  gapOffsets: number;
  verifyMs: number;
}

/**
 * Asks every worker for its lost count against the publishers' final offsets,
 * until nothing is lost or the count stops falling for 3 s (broadcasts still in flight), at most maxMs.
 */
export async function verifyAll(fleet: Fleet, publisher: Publisher, maxMs: number): Promise<Verdict> {
  const started = Date.now();
  const request = { type: 'verify', groupFinal: publisher.groupFinal.map((v) => v ?? 0), userFinal: [...publisher.userFinal.entries()] };
  let best = Number.POSITIVE_INFINITY;
  let bestAt = Date.now();
  for (;;) {
    const answers = await askAll<RoomWorkerCounters & { lost: number; lostHoles: number; lostClients: number }>(fleet.workers, request, 'verified', 60_000);
    const lost = sumOf(answers.map((a) => a.lost));
    if (lost < best) {
      best = lost;
      bestAt = Date.now();
    }
    if (lost === 0 || Date.now() - bestAt > 3000 || Date.now() - started > maxMs) {
      return {
        lost,
        lostHoles: sumOf(answers.map((a) => a.lostHoles)),
        lostClients: sumOf(answers.map((a) => a.lostClients)),
        duplicates: sumOf(answers.map((a) => a.duplicates)),
        overlap: sumOf(answers.map((a) => a.overlap)),
        recoveredFalse: sumOf(answers.map((a) => a.recoveredFalse)),
        gapOffsets: sumOf(answers.map((a) => a.gapOffsets)),
        verifyMs: Date.now() - started,
      };
    }
    await sleep(250);
  }
}

export interface FleetStats {
  latency: LatencyHistogram;
  windows: Map<number, LatencyHistogram>;
  /** Per-client reconnect / recovery times, recorded in units of RECONNECT_SCALE ms: read them with percentiles(h, RECONNECT_SCALE). */
  reconnectMs: LatencyHistogram;
  recoverMs: LatencyHistogram;
  reconnectedAt: number[];
  recoveredAt: number[];
  counters: Record<string, number>;
  /** Late deliveries (LATE_DELIVERY_MS) by `<window>:r<node>`, `<window>:p<node>` and `<window>:w<worker>` (index into fleet.workers). */
  lateBy: Map<string, number>;
}

export async function collectAll(fleet: Fleet): Promise<FleetStats> {
  const answers = await askAll<RoomWorkerStats>(fleet.workers, { type: 'collect' }, 'stats', 60_000);
  const stats: FleetStats = {
    latency: new LatencyHistogram(),
    windows: new Map(),
    reconnectMs: new LatencyHistogram(),
    recoverMs: new LatencyHistogram(),
    reconnectedAt: [],
    recoveredAt: [],
    counters: {},
    lateBy: new Map(),
  };
  const addLate = (key: string, count: number): void => void stats.lateBy.set(key, (stats.lateBy.get(key) ?? 0) + count);
  for (const [worker, answer] of answers.entries()) {
    stats.latency.merge(answer.latency);
    stats.reconnectMs.merge(answer.reconnectMs);
    stats.recoverMs.merge(answer.recoverMs);
    for (const [index, h] of answer.windows) {
      let merged = stats.windows.get(index);
      if (!merged) stats.windows.set(index, (merged = new LatencyHistogram()));
      merged.merge(h);
    }
    for (const [key, count] of answer.lateBy) {
      addLate(key, count);
      // every late delivery has a receiving node: count it once more for the worker that timed it
      if (key.includes(':r')) addLate(`${key.slice(0, key.indexOf(':'))}:w${worker}`, count);
    }
    stats.reconnectedAt.push(...answer.reconnectedAt);
    stats.recoveredAt.push(...answer.recoveredAt);
    for (const [key, value] of Object.entries(answer)) if (typeof value === 'number') stats.counters[key] = (stats.counters[key] ?? 0) + value;
  }
  return stats;
}

/** p50/p99/max of a histogram (recorded in units of `scale` ms), in ms, rounded. */
export function percentiles(h: LatencyHistogram, scale = 1): { p50: number; p99: number; max: number; count: number } {
  return { p50: round(h.quantile(0.5) * scale), p99: round(h.quantile(0.99) * scale), max: round(h.max * scale), count: h.total };
}

export { RECONNECT_SCALE };
