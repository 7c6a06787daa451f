/**
 * Driving rooms-worker.ts from a scenario: start workers and wait until every
 * member joined (with a progress bar), publish over HTTP at paced rates into
 * many rooms for a phase, drain until every member has every publication, and
 * collect the merged latency per class, loss, publication spread and ping gaps;
 * the CPU of each process over a phase.
 * Used by the cross-node (3) and large-room (7) scenarios.
 */
import { Agent, request } from 'node:http';
import { LatencyHistogram, nowMs } from './lean-client.js';
import { processCpuSeconds } from './proc-cpu.js';
import type { RoomsCollect, RoomsStats, RoomsWorkerStart } from './rooms-worker.js';
import { BENCH_API_KEY, Progress, askAll, forkWorker, round, sleep, waitFor, type WorkerHandle } from './harness.js';

export interface Publisher {
  publish(room: string, data: Record<string, number>): Promise<boolean>;
  close(): void;
}

/** POST /api/v1/publish (Roomcast, Bearer API key) or POST /pub (the Socket.IO baseline) on `url`, keep-alive. */
export function httpPublisher(target: 'roomcast' | 'socketio', url: string): Publisher {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const { hostname, port } = new URL(url);
  const path = target === 'roomcast' ? '/api/v1/publish' : '/pub';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target === 'roomcast') headers.authorization = `Bearer ${BENCH_API_KEY}`;
  return {
    publish: (room, data) =>
      new Promise<boolean>((resolveOk) => {
        const body = JSON.stringify(target === 'roomcast' ? { room, event: 'bench', data } : { room, data });
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

/** Forks one rooms-worker per start message and waits until all joined; throws if nobody connected. */
export async function startRoomsWorkers(starts: RoomsWorkerStart[], label: string): Promise<{ workers: WorkerHandle[]; connected: number; failed: number; connectMs: number }> {
  const total = starts.reduce((a, s) => a + s.groups.reduce((b, g) => b + g.count, 0), 0);
  const bar = new Progress(label, total);
  const progress = new Map<number, number>();
  const began = Date.now();
  const workers: WorkerHandle[] = [];
  const readies = starts.map((start, w) => {
    const worker = forkWorker('rooms-worker.js');
    workers.push(worker);
    const ready = waitFor<{ connected: number; failed: number; error?: string }>(worker, 'ready', 300_000, (m) => {
      if (m.type === 'progress') {
        progress.set(w, Number(m.connected));
        bar.update([...progress.values()].reduce((a, b) => a + b, 0));
      }
    });
    worker.child.send(start);
    return ready;
  });
  try {
    const ready = await Promise.all(readies);
    const connected = ready.reduce((a, r) => a + r.connected, 0);
    const failed = ready.reduce((a, r) => a + r.failed, 0);
    const connectMs = Date.now() - began;
    bar.done(`${connected}/${total} members joined in ${connectMs} ms`);
    const firstError = ready.find((r) => r.error !== undefined)?.error;
    if (firstError !== undefined) process.stderr.write(`  ${label}: ${failed} connect/join errors, first: ${firstError}\n`);
    if (connected === 0) throw new Error(`${label}: no member connected`);
    return { workers, connected, failed, connectMs };
  } catch (error) {
    for (const worker of workers) worker.child.kill('SIGKILL');
    throw error;
  }
}

/** A stream of publications: `rate` per second, each into `room(seq)`. */
export interface Stream {
  rate: number;
  room: (seq: number) => string;
}

export interface PhaseOutcome {
  /** Publications answered 200, per room. */
  published: Record<string, number>;
  sent: number;
  errors: number;
  seconds: number;
}

/**
 * Publishes every stream at its rate for `durationMs` (data {bseq, bs: phase, bt}),
 * then waits for the answers. Sequence numbers are unique across streams of the run.
 */
export async function publishPhase(publisher: Publisher, streams: Stream[], phase: number, durationMs: number, seqBase: { next: number }): Promise<PhaseOutcome> {
  const began = nowMs();
  const sentPer = streams.map(() => 0);
  const inflight: Array<Promise<[string, boolean]>> = [];
  while (true) {
    const elapsed = nowMs() - began;
    if (elapsed >= durationMs) break;
    streams.forEach((stream, i) => {
      const due = Math.floor((elapsed * stream.rate) / 1000) - (sentPer[i] ?? 0);
      for (let k = 0; k < due; k++) {
        const room = stream.room(sentPer[i] ?? 0);
        sentPer[i] = (sentPer[i] ?? 0) + 1;
        const seq = seqBase.next++;
        inflight.push(publisher.publish(room, { bseq: seq, bs: phase, bt: nowMs() }).then((ok) => [room, ok]));
      }
    });
    await sleep(2);
  }
  const answers = await Promise.all(inflight);
  const published: Record<string, number> = {};
  let errors = 0;
  for (const [room, ok] of answers) {
    if (ok) published[room] = (published[room] ?? 0) + 1;
    else errors++;
  }
  return { published, sent: answers.length, errors, seconds: (nowMs() - began) / 1000 };
}

/** Runs `work` (a phase) and the CPU of each named process over it, in % of one core; this process is `bench`. */
export async function withCpuPercent<T>(pids: Record<string, number>, work: () => Promise<T>): Promise<{ value: T; cpuPct: Record<string, number> }> {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid)]));
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wall = (performance.now() - t0) / 1000;
  const cpuPct: Record<string, number> = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, round(((processCpuSeconds(pid) - (cpu0[name] ?? 0)) / wall) * 100, 1)]),
  );
  const self = process.cpuUsage(self0);
  cpuPct.bench = round(((self.user + self.system) / 1e6 / wall) * 100, 1);
  return { value, cpuPct };
}

/** Members per room, to compute expected deliveries. */
export function expectedDeliveries(published: Record<string, number>, membersPerRoom: Record<string, number>): number {
  return Object.entries(published).reduce((a, [room, n]) => a + n * (membersPerRoom[room] ?? 0), 0);
}

/**
 * Waits until the workers hold `wanted` deliveries of `phase`, or deliveries stop
 * growing for `stallMs`, or `maxMs` passed (the rest counts as lost); then collects.
 */
export async function drainAndCollect(workers: WorkerHandle[], phase: number, published: Record<string, number>, wanted: number, stallMs: number, maxMs: number): Promise<RoomsStats[]> {
  const began = Date.now();
  let last = -1;
  let lastChange = Date.now();
  while (Date.now() - began < maxMs) {
    const counts = await askAll<{ received: number }>(workers, { type: 'count', phase }, 'count');
    const total = counts.reduce((a, c) => a + c.received, 0);
    if (total >= wanted) break;
    if (total !== last) {
      last = total;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= stallMs) break;
    await sleep(100);
  }
  const request: RoomsCollect = { type: 'collect', phase, expected: published };
  return askAll<RoomsStats>(workers, { ...request }, 'stats', 60_000);
}

export interface ClassFigures {
  members: number;
  received: number;
  lost: number;
  histogram: LatencyHistogram;
}

/** Merges the workers' per-class figures. */
export function mergeClasses(stats: RoomsStats[]): Map<string, ClassFigures> {
  const out = new Map<string, ClassFigures>();
  for (const stat of stats) {
    for (const [cls, figures] of Object.entries(stat.classes)) {
      let entry = out.get(cls);
      if (!entry) out.set(cls, (entry = { members: 0, received: 0, lost: 0, histogram: new LatencyHistogram() }));
      entry.members += figures.members;
      entry.received += figures.received;
      entry.lost += figures.lost;
      entry.histogram.merge(figures.histogram);
    }
  }
  return out;
}

/** Per tracked publication: latency of its first and of its last member (ms), and how many members got it. */
export function mergeSpread(stats: RoomsStats[]): Array<{ seq: number; firstMs: number; lastMs: number; arrivals: number }> {
  const bySeq = new Map<number, [number, number, number, number]>();
  for (const stat of stats) {
    for (const [seq, first, last, count, bt] of stat.spread) {
      const entry = bySeq.get(seq);
      if (!entry) bySeq.set(seq, [first, last, count, bt]);
      else {
        entry[0] = Math.min(entry[0], first);
        entry[1] = Math.max(entry[1], last);
        entry[2] += count;
      }
    }
  }
  return [...bySeq.entries()].map(([seq, [first, last, arrivals, bt]]) => ({ seq, firstMs: first - bt, lastMs: last - bt, arrivals }));
}

/** Quantile of plain numbers (nearest rank); NaN when empty. */
export function quantileOf(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
