/**
 * Soak / leak check: connection churn against one gateway process, and its heap
 * after GC compared with the start.
 *
 * The gateway runs as bench/soak-gateway.ts in a child process with
 * --expose-gc (single node, memory stores; or with --redis, a redis-server of
 * its own on a free port, nothing on disk). Each cycle opens --clients
 * Socket.IO clients (half WebSocket-only, half polling that upgrades), each
 * joins two of --rooms rooms; some publish, some call presence:list and
 * room:history; the backend publishes over HTTP and every client must receive
 * those; then all disconnect, half politely (socket.close()), half by cutting
 * the transport (socket.io.engine.close()), and the cycle ends when the gateway
 * counts 0 connections. After --warmup cycles the baseline is taken; then
 * every --measure-every cycles and at the end the gateway runs gc() and reports
 * its memory. The figure: heap growth from baseline to the end, in MB and per
 * 1,000 connections churned (plus a least-squares slope over all points).
 *
 *   npm run build && node dist/bench/soak-churn.js [--cycles 40] [--clients 200] [--measure-every 5]
 *       [--warmup 5] [--redis] [--time-limit 300] [--rooms 10] [--history-size 20] [--snapshots]
 *
 * Reports: a table on stdout, and bench/reports/soak-<date>-<mode>.json and .md.
 * With --snapshots, heap snapshots at baseline and end (bench/reports/*.heapsnapshot)
 * and the object classes that grew between them (bench/soak-heapdiff.ts).
 * Everything listens on 127.0.0.1; the run stops starting cycles at --time-limit
 * seconds and a watchdog kills it a minute after that.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../shared/index.js';
import { track, untrack } from '../tools/processes/reaper.js';
import { redisCommand } from '../tools/processes/redis-command.js';
import { startRedis, type RedisProcess } from '../tools/processes/redis-server.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../tools/processes/tokens.js';
import { diffClasses, formatDeltas, HeapSnapshot, topGrowth, type ClassDelta } from './soak-heapdiff.js';
import type { ChildMessage, MemoryFigures, ParentMessage } from './soak-gateway.js';

// ---------------------------------------------------------------- settings

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '40' },
    clients: { type: 'string', default: '200' },
    'measure-every': { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    redis: { type: 'boolean', default: false },
    'time-limit': { type: 'string', default: '300' },
    rooms: { type: 'string', default: '10' },
    'history-size': { type: 'string', default: '20' },
    'http-publications': { type: 'string', default: '3' },
    users: { type: 'string', default: '50' },
    'drain-timeout': { type: 'string', default: '60' },
    snapshots: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function positiveInt(name: string, raw: string | undefined, min = 1): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`soak-churn: --${name} must be an integer >= ${min}, got "${raw}"\n`);
    process.exit(2);
  }
  return value;
}

const settings = {
  cycles: positiveInt('cycles', values.cycles),
  clients: positiveInt('clients', values.clients),
  measureEvery: positiveInt('measure-every', values['measure-every']),
  warmup: positiveInt('warmup', values.warmup, 0),
  redis: values.redis,
  timeLimitS: positiveInt('time-limit', values['time-limit']),
  rooms: positiveInt('rooms', values.rooms, 2),
  historySize: positiveInt('history-size', values['history-size'], 0),
  httpPublications: positiveInt('http-publications', values['http-publications'], 0),
  users: positiveInt('users', values.users),
  drainTimeoutS: positiveInt('drain-timeout', values['drain-timeout']),
  snapshots: values.snapshots,
};
const HOST = '127.0.0.1';
const ACK_TIMEOUT_MS = 15_000;
const DELIVERY_TIMEOUT_MS = 15_000;
/** Time kept back from --time-limit for the last measurement and the teardown. */
const RESERVE_MS = 20_000;
const GATEWAY_SCRIPT = fileURLToPath(new URL('./soak-gateway.js', import.meta.url));
const REPORTS_DIR = values.out ?? fileURLToPath(new URL('../../bench/reports/', import.meta.url));
const MB = 1024 * 1024;

// ---------------------------------------------------------------- processes

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

type Reply<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

/** The forked soak gateway, with request/reply over its IPC channel (one request at a time). */
class SoakGateway {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';
  private warnLines: string[] = [];
  private waiter: { type: string; resolve: (message: ChildMessage) => void; reject: (error: Error) => void } | null = null;

  constructor(private readonly child: ChildProcess) {
    this.pid = child.pid ?? -1;
    track(this.pid);
    const keep = (chunk: string): void => {
      this.output = (this.output + chunk).slice(-16_384);
    };
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      keep(chunk);
      for (const line of chunk.split('\n')) if (line.includes('"level":40') || line.includes('"level":50') || line.includes('"level":60')) this.warnLines.push(line);
    });
    child.stderr?.setEncoding('utf8').on('data', keep);
    child.on('message', (message: ChildMessage) => {
      const waiter = this.waiter;
      if (waiter === null) return;
      if (message.type === 'error') {
        this.waiter = null;
        waiter.reject(new Error(`soak gateway: ${message.message}`));
      } else if (message.type === waiter.type) {
        this.waiter = null;
        waiter.resolve(message);
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        untrack(this.pid);
        this.waiter?.reject(new Error(`soak gateway exited (code ${code}, signal ${signal}); output:\n${this.output.slice(-4000)}`));
        this.waiter = null;
        resolve({ code, signal });
      });
    });
  }

  static async start(env: Record<string, string>): Promise<{ gateway: SoakGateway; port: number }> {
    const child = fork(GATEWAY_SCRIPT, [], { execArgv: ['--expose-gc'], env: { PATH: process.env.PATH ?? '', ...env }, silent: true });
    const gateway = new SoakGateway(child);
    const ready = await gateway.wait('ready', 30_000);
    return { gateway, port: ready.port };
  }

  /** Log lines at warn or above so far. */
  warnings(): string[] {
    return this.warnLines;
  }

  tail(): string {
    return this.output.slice(-4000);
  }

  request<T extends ChildMessage['type']>(message: ParentMessage, replyType: T, timeoutMs = 60_000): Promise<Reply<T>> {
    const reply = this.wait(replyType, timeoutMs);
    this.child.send(message);
    return reply;
  }

  private wait<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Reply<T>> {
    if (this.waiter !== null) throw new Error('one request at a time');
    return new Promise<Reply<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`soak gateway: no "${type}" within ${timeoutMs} ms; output:\n${this.tail()}`));
      }, timeoutMs);
      this.waiter = {
        type,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as Reply<T>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- one cycle

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

interface CycleStats {
  opened: number;
  connectErrors: number;
  ackErrors: Record<string, number>;
  published: number;
  presenceLists: number;
  historyReads: number;
  httpExpected: number;
  httpMissing: number;
  closedPolitely: number;
  cutTransport: number;
  onWebsocketAtClose: number;
  onPollingAtClose: number;
  /** Polling clients whose transport was upgraded to WebSocket. */
  upgraded: number;
  drainMs: number;
  leftoverConnections: number;
  ms: number;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function roomName(index: number): string {
  return `soak:${index}`;
}

function connect(url: string, token: string, websocketOnly: boolean, onUpgrade: () => void): Promise<Client> {
  const socket: Client = io(url, {
    auth: { token },
    transports: websocketOnly ? ['websocket'] : ['polling', 'websocket'],
    forceNew: true,
    reconnection: false,
    timeout: ACK_TIMEOUT_MS,
  });
  // The engine exists as soon as io() returns; the upgrade often completes before the Socket.IO 'connect'.
  socket.io.engine.once('upgrade', onUpgrade);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

function noteAck(stats: CycleStats, kind: string, ack: Ack | Error): boolean {
  if (ack instanceof Error) {
    stats.ackErrors[`${kind}:timeout`] = (stats.ackErrors[`${kind}:timeout`] ?? 0) + 1;
    return false;
  }
  if (!ack.ok) {
    stats.ackErrors[`${kind}:${ack.error.code}`] = (stats.ackErrors[`${kind}:${ack.error.code}`] ?? 0) + 1;
    return false;
  }
  return true;
}

async function httpPublish(url: string, body: unknown): Promise<boolean> {
  const response = await fetch(`${url}/api/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.ok;
}

async function runCycle(cycle: number, url: string, tokens: string[], countConnections: () => Promise<number>): Promise<CycleStats> {
  const started = performance.now();
  const stats: CycleStats = {
    opened: 0,
    connectErrors: 0,
    ackErrors: {},
    published: 0,
    presenceLists: 0,
    historyReads: 0,
    httpExpected: 0,
    httpMissing: 0,
    closedPolitely: 0,
    cutTransport: 0,
    onWebsocketAtClose: 0,
    onPollingAtClose: 0,
    upgraded: 0,
    drainMs: 0,
    leftoverConnections: 0,
    ms: 0,
  };
  const R = settings.rooms;
  const members: Array<{ index: number; socket: Client; rooms: [string, string]; http: number }> = [];

  // Open and join: all clients of the cycle at once.
  await Promise.all(
    Array.from({ length: settings.clients }, async (_, index) => {
      const first = index % R;
      const second = (first + 1 + ((index * 7 + cycle) % (R - 1))) % R;
      const rooms: [string, string] = [roomName(first), roomName(second)];
      let socket: Client;
      try {
        socket = await connect(url, tokens[index % tokens.length] as string, index % 2 === 0, () => (stats.upgraded += 1));
      } catch {
        stats.connectErrors += 1;
        return;
      }
      stats.opened += 1;
      const member = { index, socket, rooms, http: 0 };
      socket.on('message', (message) => {
        if (message.event === 'http') member.http += 1;
      });
      members.push(member);
      await Promise.all(rooms.map(async (room) => noteAck(stats, 'join', await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('room:join', { room }).catch((error: Error) => error))));
    }),
  );

  // Requests once everyone is in: publishes reach the other members, presence lists are full.
  await Promise.all(
    members.map(async ({ index, socket, rooms }) => {
      const timed = socket.timeout(ACK_TIMEOUT_MS);
      if (index % 4 === 0) {
        const ack = await timed.emitWithAck('room:publish', { room: rooms[0], event: 'chat', data: { cycle, index, text: 'x'.repeat(64) } }).catch((error: Error) => error);
        if (noteAck(stats, 'publish', ack)) stats.published += 1;
      }
      if (index % 5 === 1) {
        const ack = await timed.emitWithAck('presence:list', { room: rooms[0] }).catch((error: Error) => error);
        if (noteAck(stats, 'presence:list', ack)) stats.presenceLists += 1;
      }
      if (index % 5 === 2) {
        const ack = await timed.emitWithAck('room:history', { room: rooms[1], limit: 10 }).catch((error: Error) => error);
        if (noteAck(stats, 'history', ack)) stats.historyReads += 1;
      }
    }),
  );

  // The backend publishes into every room; each member must get it in both of its rooms.
  const allRooms = Array.from({ length: R }, (_, index) => roomName(index));
  let httpPublished = 0;
  for (let n = 0; n < settings.httpPublications; n += 1) {
    if (await httpPublish(url, { rooms: allRooms, event: 'http', data: { cycle, n, text: 'y'.repeat(64) } }).catch(() => false)) httpPublished += 1;
    else stats.ackErrors['http-publish'] = (stats.ackErrors['http-publish'] ?? 0) + 1;
  }
  const expected = httpPublished * 2;
  stats.httpExpected = expected * members.length;
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  while (members.some((member) => member.http < expected) && Date.now() < deadline) await pause(20);
  stats.httpMissing = members.reduce((sum, member) => sum + Math.max(0, expected - member.http), 0);

  // Disconnect: politely, or by cutting the transport (no Socket.IO disconnect packet).
  for (const { index, socket } of members) {
    if (socket.io.engine?.transport?.name === 'websocket') stats.onWebsocketAtClose += 1;
    else stats.onPollingAtClose += 1;
    if (Math.floor(index / 2) % 2 === 0) {
      socket.close();
      stats.closedPolitely += 1;
    } else {
      socket.io.engine.close();
      stats.cutTransport += 1;
    }
  }
  members.length = 0;

  const drainStart = performance.now();
  const drainDeadline = Date.now() + settings.drainTimeoutS * 1000;
  let connections = await countConnections();
  while (connections > 0 && Date.now() < drainDeadline) {
    await pause(25);
    connections = await countConnections();
  }
  stats.drainMs = Math.round(performance.now() - drainStart);
  stats.leftoverConnections = connections;
  stats.ms = Math.round(performance.now() - started);
  return stats;
}

// ---------------------------------------------------------------- measurements

interface Measurement extends Omit<MemoryFigures, 'type'> {
  label: string;
  cycle: number;
  /** Connections opened so far (the churn). */
  churned: number;
  elapsedS: number;
  presenceMembersLeft: number;
  redisKeys?: number;
  redisUsedMemory?: number;
}

async function presenceLeft(url: string): Promise<number> {
  let total = 0;
  for (let index = 0; index < settings.rooms; index += 1) {
    const response = await fetch(`${url}/api/v1/rooms/${encodeURIComponent(roomName(index))}/presence`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    const body = (await response.json()) as { members?: unknown[] };
    total += body.members?.length ?? 0;
  }
  return total;
}

async function redisFigures(redis: RedisProcess): Promise<{ redisKeys: number; redisUsedMemory: number }> {
  const keys = Number(await redisCommand(redis.host, redis.port, ['DBSIZE']));
  const info = await redisCommand(redis.host, redis.port, ['INFO', 'memory']);
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  return { redisKeys: keys, redisUsedMemory: used };
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  return sxx === 0 ? NaN : sxy / sxx;
}

const mb = (bytes: number, digits = 2): string => (bytes / MB).toFixed(digits);
const signedMb = (bytes: number, digits = 2): string => `${bytes >= 0 ? '+' : ''}${(bytes / MB).toFixed(digits)}`;

function tableOf(measurements: Measurement[], baseline: Measurement | undefined): string {
  const header = ['point', 'cycle', 'churned', 'heapUsed MB', 'Δ base MB', 'heapTotal MB', 'rss MB', 'Δrss MB', 'external MB', 'conns', 'sockets', 'adapter rooms', 'presence left', ...(settings.redis ? ['redis keys', 'redis MB'] : [])];
  const rows = measurements.map((m) => [
    m.label,
    String(m.cycle),
    String(m.churned),
    mb(m.heapUsed),
    baseline ? signedMb(m.heapUsed - baseline.heapUsed) : '',
    mb(m.heapTotal),
    mb(m.rss, 1),
    baseline ? signedMb(m.rss - baseline.rss, 1) : '',
    mb(m.external),
    String(m.connections),
    String(Object.values(m.namespaceSockets).reduce((a, b) => a + b, 0)),
    String(Object.values(m.namespaceRooms).reduce((a, b) => a + b, 0)),
    String(m.presenceMembersLeft),
    ...(settings.redis ? [String(m.redisKeys ?? ''), m.redisUsedMemory === undefined ? '' : mb(m.redisUsedMemory)] : []),
  ]);
  return [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

// ---------------------------------------------------------------- the run

async function main(): Promise<number> {
  const started = Date.now();
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const mode = settings.redis ? 'redis' : 'memory';
  const baseName = `soak-${stamp}-${mode}`;
  await mkdir(REPORTS_DIR, { recursive: true });

  let redis: RedisProcess | null = null;
  let gateway: SoakGateway | null = null;
  const watchdog = setTimeout(
    () => {
      process.stderr.write(`soak-churn: still running ${settings.timeLimitS + 60} s after start: killing everything\n`);
      process.exit(3); // the reaper SIGKILLs the gateway and redis-server
    },
    (settings.timeLimitS + 60) * 1000,
  );
  try {
    if (settings.redis) redis = await startRedis({ host: HOST });
    const env: Record<string, string> = {
      HOST,
      PORT: '0',
      NODE_ID: 'soak',
      JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: TEST_API_KEY,
      LOG_LEVEL: 'warn',
      HISTORY_SIZE: String(settings.historySize),
      // Each client sends only a handful of requests; keep the limiter out of the way anyway.
      RATE_LIMIT_PER_S: '1000',
      RATE_LIMIT_BURST: '1000',
      ...(redis ? { REDIS_URL: redis.url } : {}),
    };
    const startedGateway = await SoakGateway.start(env);
    gateway = startedGateway.gateway;
    const soak = gateway;
    const url = `http://${HOST}:${startedGateway.port}`;
    const tokens = await Promise.all(
      Array.from({ length: settings.users }, (_, index) => signToken(TEST_JWT_SECRET, { sub: `soak-user-${index}`, rooms: ['soak:*'] }, { expiresIn: settings.timeLimitS + 3600 })),
    );
    const countConnections = async (): Promise<number> => (await soak.request({ type: 'count' }, 'count')).connections;

    const cpuGatewayStart = cpuSeconds(soak.pid);
    const cpuRedisStart = redis ? cpuSeconds(redis.pid) : 0;
    const cpuSelfStart = process.cpuUsage();
    const runStarted = performance.now();

    const measurements: Measurement[] = [];
    let churned = 0;
    const measure = async (label: string, cycle: number): Promise<Measurement> => {
      const { type: _type, ...memory } = await soak.request({ type: 'measure' }, 'memory');
      const point: Measurement = {
        label,
        cycle,
        churned,
        elapsedS: Math.round((performance.now() - runStarted) / 100) / 10,
        ...memory,
        presenceMembersLeft: await presenceLeft(url),
        ...(redis ? await redisFigures(redis) : {}),
      };
      measurements.push(point);
      process.stdout.write(
        `  [${label}] cycle ${cycle}, ${churned} connections churned: heapUsed ${mb(point.heapUsed)} MB, rss ${mb(point.rss, 1)} MB, connections ${point.connections}, presence left ${point.presenceMembersLeft}${redis ? `, redis keys ${point.redisKeys}` : ''}\n`,
      );
      return point;
    };
    const snapshots: { baseline?: string; final?: string } = {};
    const snapshot = async (label: 'baseline' | 'final'): Promise<void> => {
      if (!settings.snapshots) return;
      const path = join(REPORTS_DIR, `${baseName}-${label}.heapsnapshot`);
      snapshots[label] = (await soak.request({ type: 'snapshot', path }, 'snapshot', 300_000)).path;
      process.stdout.write(`  heap snapshot: ${snapshots[label]}\n`);
    };

    process.stdout.write(
      `Soak (${mode}): ${settings.warmup} warm-up + ${settings.cycles} cycles x ${settings.clients} clients, measure every ${settings.measureEvery}, ` +
        `${settings.rooms} rooms, HISTORY_SIZE=${settings.historySize}, gateway pid ${soak.pid} on ${url}${redis ? `, redis ${redis.url} (pid ${redis.pid})` : ''}\n`,
    );
    await measure('start', 0);

    const totalCycles = settings.warmup + settings.cycles;
    const cycleStats: CycleStats[] = [];
    let baseline: Measurement | undefined;
    let truncated = false;
    let lastCycleMs = 0;
    if (settings.warmup === 0) {
      baseline = measurements[0];
      if (baseline) baseline.label = 'baseline';
      await snapshot('baseline');
    }
    for (let cycle = 1; cycle <= totalCycles; cycle += 1) {
      const elapsedMs = Date.now() - started;
      if (elapsedMs + lastCycleMs + RESERVE_MS > settings.timeLimitS * 1000) {
        truncated = true;
        process.stdout.write(`  time limit: stopping after cycle ${cycle - 1} of ${totalCycles}\n`);
        break;
      }
      const stats = await runCycle(cycle, url, tokens, countConnections);
      churned += stats.opened;
      lastCycleMs = stats.ms;
      cycleStats.push(stats);
      const errors = Object.entries(stats.ackErrors).map(([kind, count]) => `${kind} ${count}`);
      process.stdout.write(
        `cycle ${String(cycle).padStart(3)}${cycle <= settings.warmup ? ' (warm-up)' : ''}: ${stats.opened} opened${stats.connectErrors ? ` (${stats.connectErrors} failed)` : ''}, ` +
          `${stats.onWebsocketAtClose} ws (${stats.upgraded} upgraded) / ${stats.onPollingAtClose} polling at close, ${stats.published} published, http ${stats.httpExpected - stats.httpMissing}/${stats.httpExpected} delivered, ` +
          `drained in ${stats.drainMs} ms${stats.leftoverConnections ? ` (${stats.leftoverConnections} LEFT)` : ''}, ${stats.ms} ms${errors.length ? `; errors: ${errors.join(', ')}` : ''}\n`,
      );
      if (cycle === settings.warmup) {
        baseline = await measure('baseline', cycle);
        await snapshot('baseline');
      } else if (cycle > settings.warmup && (cycle - settings.warmup) % settings.measureEvery === 0) {
        await measure(cycle === totalCycles ? 'final' : `+${cycle - settings.warmup}`, cycle);
      }
    }
    const cyclesRun = cycleStats.length;
    let final = measurements[measurements.length - 1] as Measurement;
    if (final.cycle !== cyclesRun) final = await measure('final', cyclesRun);
    else final.label = final === baseline ? final.label : 'final';
    await snapshot('final');

    const elapsedS = (performance.now() - runStarted) / 1000;
    const cpuGateway = cpuSeconds(soak.pid) - cpuGatewayStart;
    const cpuRedis = redis ? cpuSeconds(redis.pid) - cpuRedisStart : null;
    const selfCpu = process.cpuUsage(cpuSelfStart);
    const cpuClients = (selfCpu.user + selfCpu.system) / 1e6;

    // Figures.
    const measured = baseline ? measurements.filter((m) => m.cycle >= baseline.cycle) : [];
    const churnedAfterBaseline = baseline ? final.churned - baseline.churned : 0;
    const heapGrowth = baseline ? final.heapUsed - baseline.heapUsed : NaN;
    const rssGrowth = baseline ? final.rss - baseline.rss : NaN;
    const perThousand = (bytes: number): number => (churnedAfterBaseline > 0 ? (bytes / churnedAfterBaseline) * 1000 : NaN);
    const heapSlope = slope(measured.map((m) => [m.churned, m.heapUsed])) * 1000;
    const rssSlope = slope(measured.map((m) => [m.churned, m.rss])) * 1000;
    const totals = cycleStats.reduce(
      (sum, s) => {
        sum.opened += s.opened;
        sum.connectErrors += s.connectErrors;
        sum.published += s.published;
        sum.presenceLists += s.presenceLists;
        sum.historyReads += s.historyReads;
        sum.httpExpected += s.httpExpected;
        sum.httpMissing += s.httpMissing;
        sum.closedPolitely += s.closedPolitely;
        sum.cutTransport += s.cutTransport;
        sum.onWebsocketAtClose += s.onWebsocketAtClose;
        sum.onPollingAtClose += s.onPollingAtClose;
        sum.upgraded += s.upgraded;
        sum.leftoverCycles += s.leftoverConnections > 0 ? 1 : 0;
        sum.maxDrainMs = Math.max(sum.maxDrainMs, s.drainMs);
        for (const [kind, count] of Object.entries(s.ackErrors)) sum.ackErrors[kind] = (sum.ackErrors[kind] ?? 0) + count;
        return sum;
      },
      { opened: 0, connectErrors: 0, published: 0, presenceLists: 0, historyReads: 0, httpExpected: 0, httpMissing: 0, closedPolitely: 0, cutTransport: 0, onWebsocketAtClose: 0, onPollingAtClose: 0, upgraded: 0, leftoverCycles: 0, maxDrainMs: 0, ackErrors: {} as Record<string, number> },
    );

    let heapDiff: { bySize: ClassDelta[]; byCount: ClassDelta[] } | null = null;
    if (snapshots.baseline !== undefined && snapshots.final !== undefined) {
      const before = new HeapSnapshot(snapshots.baseline).classes();
      heapDiff = topGrowth(diffClasses(before, new HeapSnapshot(snapshots.final).classes()), 15);
    }

    const checks = {
      connectionsAtEndZero: final.connections === 0,
      socketsAtEndZero: Object.values(final.namespaceSockets).every((count) => count === 0),
      presenceEmptyAtEnd: final.presenceMembersLeft === 0,
      everyCycleDrained: totals.leftoverCycles === 0,
      allHttpPublicationsDelivered: totals.httpMissing === 0,
      noConnectErrors: totals.connectErrors === 0,
      noRequestErrors: Object.keys(totals.ackErrors).length === 0,
    };
    const summary = {
      baselineHeapUsedMB: baseline ? +mb(baseline.heapUsed, 3) : null,
      finalHeapUsedMB: +mb(final.heapUsed, 3),
      heapGrowthMB: +mb(heapGrowth, 3),
      heapGrowthKBPer1kConnections: +(perThousand(heapGrowth) / 1024).toFixed(1),
      heapSlopeKBPer1kConnections: +(heapSlope / 1024).toFixed(1),
      startHeapUsedMB: +mb((measurements[0] as Measurement).heapUsed, 3),
      baselineRssMB: baseline ? +mb(baseline.rss, 1) : null,
      finalRssMB: +mb(final.rss, 1),
      rssGrowthMB: +mb(rssGrowth, 1),
      rssGrowthKBPer1kConnections: +(perThousand(rssGrowth) / 1024).toFixed(1),
      rssSlopeKBPer1kConnections: +(rssSlope / 1024).toFixed(1),
      connectionsChurnedTotal: final.churned,
      connectionsChurnedAfterBaseline: churnedAfterBaseline,
      connectionsAtEnd: final.connections,
      gatewayCpuSeconds: +cpuGateway.toFixed(2),
      redisCpuSeconds: cpuRedis === null ? null : +cpuRedis.toFixed(2),
      clientsCpuSeconds: +cpuClients.toFixed(2),
      elapsedSeconds: +elapsedS.toFixed(1),
      cyclesRun,
      truncatedByTimeLimit: truncated,
    };
    const report = {
      date: new Date(started).toISOString(),
      mode,
      machine: `${process.platform} ${process.arch}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / MB / 1024)} GB, node ${process.version}`,
      command: `node ${process.argv.slice(1).map((arg) => relative(process.cwd(), arg) || arg).join(' ')}`,
      settings,
      summary,
      checks,
      totals,
      gatewayWarnings: gateway.warnings().slice(0, 20),
      gatewayWarningCount: gateway.warnings().length,
      measurements,
      cycles: cycleStats,
      heapSnapshots: snapshots,
      heapDiff,
    };

    // Output.
    const table = tableOf(measurements, baseline);
    const summaryLines = [
      `heap after GC: start ${summary.startHeapUsedMB} MB, baseline (after ${settings.warmup} warm-up cycles) ${summary.baselineHeapUsedMB} MB, final ${summary.finalHeapUsedMB} MB`,
      `heap growth baseline -> final: ${signedMb(heapGrowth, 3)} MB over ${churnedAfterBaseline} connections = ${summary.heapGrowthKBPer1kConnections} KB per 1,000 connections (least-squares slope over ${measured.length} points: ${summary.heapSlopeKBPer1kConnections} KB per 1,000)`,
      `RSS: baseline ${summary.baselineRssMB} MB, final ${summary.finalRssMB} MB, growth ${signedMb(rssGrowth, 1)} MB = ${summary.rssGrowthKBPer1kConnections} KB per 1,000 connections (slope ${summary.rssSlopeKBPer1kConnections} KB per 1,000)`,
      ...(settings.snapshots ? ['(with --snapshots, RSS after the baseline includes what writing the heap snapshot left mapped: compare RSS from runs without it)'] : []),
      `connections at end: ${final.connections}; Socket.IO sockets at end: ${JSON.stringify(final.namespaceSockets)}; presence members left: ${final.presenceMembersLeft}`,
      `churn: ${summary.connectionsChurnedTotal} connections in ${cyclesRun} cycles (${totals.onWebsocketAtClose} on WebSocket / ${totals.onPollingAtClose} on polling at close, ${totals.upgraded} of them upgraded from polling; ${totals.closedPolitely} closed politely / ${totals.cutTransport} transport cut); ` +
        `${totals.published} client publications, ${totals.presenceLists} presence:list, ${totals.historyReads} room:history, HTTP deliveries ${totals.httpExpected - totals.httpMissing}/${totals.httpExpected}; slowest drain ${totals.maxDrainMs} ms`,
      `CPU: gateway ${summary.gatewayCpuSeconds} s${cpuRedis === null ? '' : `, redis-server ${summary.redisCpuSeconds} s`}, clients (this process) ${summary.clientsCpuSeconds} s; elapsed ${summary.elapsedSeconds} s${truncated ? ' (TRUNCATED by --time-limit)' : ''}`,
      `checks: ${Object.entries(checks).map(([name, ok]) => `${name} ${ok ? 'ok' : 'FAILED'}`).join(', ')}`,
      ...(Object.keys(totals.ackErrors).length ? [`request errors: ${JSON.stringify(totals.ackErrors)}`] : []),
      ...(gateway.warnings().length ? [`gateway logged ${gateway.warnings().length} warnings/errors, first: ${gateway.warnings()[0]}`] : []),
    ];
    const diffText = heapDiff ? `${formatDeltas('Object classes grown most by self size, baseline -> final snapshot', heapDiff.bySize)}\n\n${formatDeltas('... and by count', heapDiff.byCount)}` : '';
    process.stdout.write(`\n${table}\n\n${summaryLines.join('\n')}\n${diffText ? `\n${diffText}\n` : ''}`);

    const jsonPath = join(REPORTS_DIR, `${baseName}.json`);
    const mdPath = join(REPORTS_DIR, `${baseName}.md`);
    await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    const markdown = [
      `# Soak: connection churn, ${mode} mode (${report.date})`,
      '',
      `- machine: ${report.machine}`,
      `- command: \`${report.command}\``,
      `- settings: ${settings.warmup} warm-up + ${settings.cycles} cycles x ${settings.clients} clients, measured every ${settings.measureEvery} cycles; ${settings.rooms} rooms (2 per client), HISTORY_SIZE=${settings.historySize}, ${settings.httpPublications} HTTP publications per cycle into every room, ${settings.users} users`,
      '',
      '## Heap after GC (gateway process)',
      '',
      table,
      '',
      '## Summary',
      '',
      ...summaryLines.map((line) => `- ${line}`),
      ...(diffText ? ['', '## Heap snapshot diff', '', '```', diffText, '```'] : []),
      '',
    ].join('\n');
    await writeFile(mdPath, markdown);
    process.stdout.write(`\nreports: ${relative(process.cwd(), jsonPath)}, ${relative(process.cwd(), mdPath)}\n`);
    return Object.values(checks).every(Boolean) ? 0 : 1;
  } catch (error) {
    process.stderr.write(`soak-churn failed: ${(error as Error).stack ?? String(error)}\n${gateway ? `gateway output:\n${gateway.tail()}\n` : ''}`);
    return 1;
  } finally {
    await gateway?.stop();
    await redis?.stop();
    clearTimeout(watchdog);
  }
}

process.exit(await main());
