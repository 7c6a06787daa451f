/**
 * Webhook delivery latency: a real receiver (http.Server in this process), one
 * Roomcast node with WEBHOOK_URL (memory queue, then a Redis stream), and
 * Socket.IO clients that join and leave rooms at a steady rate, each change a
 * member.joined / member.left (and room.occupied / room.vacated on the first
 * and last member). Latency is an event's `ts` (set by the node when the change
 * happened) to its arrival at the receiver, both wall clocks of this machine:
 * it includes the queue (Redis: XADD, the delivering node's poll, XAUTOCLAIM +
 * XREADGROUP), the batch linger (up to 50 ms) and the signed POST. Reported per
 * mode as p50 / p99 / max, medians over the runs.
 *
 *   npm run bench:webhooks -- [--modes memory,redis] [--clients 50] [--rooms 20] [--rate 200] [--duration-s 10] [--runs 3] [--smoke]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type { WebhookDelivery } from '../../shared/index.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { medianOf, reportHeader, runScenario } from '../lib/scenario-runner.js';
import { BENCH_JWT_SECRET, round, sleep, startTarget, stopServer, table, type ServerHandle } from '../lib/harness.js';

type Mode = 'memory' | 'redis';
const MODES: readonly Mode[] = ['memory', 'redis'];
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789abcdef';

interface Options {
  modes: Mode[];
  clients: number;
  rooms: number;
  /** Joins and leaves per second, all clients together. */
  rate: number;
  durationMs: number;
  runs: number;
  smoke: boolean;
}

interface RunResult {
  mode: Mode;
  run: number;
  changes: number;
  events: number;
  deliveries: number;
  /** Events that were sent more than once (a retry: should be 0 with a receiver answering 200). */
  duplicates: number;
  p50: number;
  p99: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

interface Receiver {
  url: string;
  latencies: number[];
  ids: Set<string>;
  deliveries: number;
  duplicates: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Omit<Receiver, 'url' | 'close'> = { latencies: [], ids: new Set(), deliveries: 0, duplicates: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const now = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookDelivery;
      receiver.deliveries += 1;
      for (const event of body.events) {
        if (receiver.ids.has(event.id)) {
          receiver.duplicates += 1;
          continue;
        }
        receiver.ids.add(event.id);
        receiver.latencies.push(now - event.ts);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

async function connectClient(url: string, index: number): Promise<Socket> {
  const key = new TextEncoder().encode(BENCH_JWT_SECRET);
  const token = await new SignJWT({ rooms: ['bench:*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(`wh-${index}`).setIssuedAt().setExpirationTime('2h').sign(key);
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

const ack = (socket: Socket, event: string, payload: unknown): Promise<{ ok: boolean }> =>
  new Promise((resolve) => socket.emit(event, payload, (reply: { ok: boolean }) => resolve(reply)));

async function runMode(mode: Mode, options: Options, run: number): Promise<RunResult> {
  const receiver = await startReceiver();
  let redis: RedisProcess | null = null;
  let node: ServerHandle | null = null;
  const sockets: Socket[] = [];
  try {
    if (mode === 'redis') redis = await startRedis();
    node = await startTarget('roomcast', {
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, NODE_ID: `bench-wh-${run}`, DRAIN_TIMEOUT_MS: '1000', ...(redis === null ? {} : { REDIS_URL: redis.url }) },
    });
    for (let index = 0; index < options.clients; index++) sockets.push(await connectClient(node.url, index));
    // Each client is in at most one room at a time: a change is a join (when out) or a leave (when in).
    const roomOf = new Map<Socket, string>();
    const intervalMs = 1000 / options.rate;
    const end = Date.now() + options.durationMs;
    let changes = 0;
    let next = Date.now();
    const inFlight: Array<Promise<unknown>> = [];
    while (Date.now() < end) {
      const socket = sockets[changes % sockets.length] as Socket;
      const room = roomOf.get(socket);
      if (room === undefined) {
        const target = `bench:wh${Math.floor(Math.random() * options.rooms)}`;
        roomOf.set(socket, target);
        inFlight.push(ack(socket, 'room:join', { room: target }));
      } else {
        roomOf.delete(socket);
        inFlight.push(ack(socket, 'room:leave', { room }));
      }
      changes++;
      next += intervalMs;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(inFlight);
    // Let the last batches arrive: a join or leave is at least one event, so wait for as many as changes.
    const deadline = Date.now() + 10_000;
    while (receiver.ids.size < changes && Date.now() < deadline) await sleep(20);
    await sleep(200);
    const sorted = [...receiver.latencies].sort((a, b) => a - b);
    return {
      mode,
      run,
      changes,
      events: receiver.ids.size,
      deliveries: receiver.deliveries,
      duplicates: receiver.duplicates,
      p50: round(quantile(sorted, 0.5)),
      p99: round(quantile(sorted, 0.99)),
      max: round(sorted[sorted.length - 1] ?? Number.NaN),
    };
  } finally {
    for (const socket of sockets) socket.close();
    if (node !== null) await stopServer(node, 'SIGTERM', 5_000);
    await redis?.stop();
    await receiver.close();
  }
}

runScenario<Options, Mode, RunResult>({
  name: 'webhook-latency',
  options: (args) => ({
    modes: args.list('modes', MODES, MODES),
    clients: args.number('clients', args.smoke ? 10 : 50),
    rooms: args.number('rooms', args.smoke ? 4 : 20),
    rate: args.number('rate', args.smoke ? 50 : 200),
    durationMs: args.number('duration-s', args.smoke ? 2 : 10) * 1000,
    runs: args.number('runs', args.smoke ? 1 : 3),
    smoke: args.smoke,
  }),
  timeLimitMs: (options) => options.runs * options.modes.length * (options.durationMs + 60_000) + 30_000,
  units: (options) => options.modes,
  describe: (mode, options, run) => `webhook-latency: ${mode}, run ${run + 1}/${options.runs}`,
  run: (mode, { options, run }) => runMode(mode, options, run),
  report: (results, { options, command }) => {
    const byMode = options.modes.map((mode) => {
      const runs = results.filter((result) => result.mode === mode);
      return {
        mode,
        runs: runs.length,
        changes: medianOf(runs, (r) => r.changes, 0),
        events: medianOf(runs, (r) => r.events, 0),
        eventsPerDelivery: medianOf(runs, (r) => r.events / r.deliveries),
        duplicates: medianOf(runs, (r) => r.duplicates, 0),
        p50: medianOf(runs, (r) => r.p50),
        p99: medianOf(runs, (r) => r.p99),
        max: medianOf(runs, (r) => r.max),
      };
    });
    const markdown = [
      ...reportHeader(
        'Webhook delivery latency',
        command,
        `${options.clients} clients joining and leaving ${options.rooms} rooms at ${options.rate}/s for ${options.durationMs / 1000} s, ${options.runs} run(s) per mode`,
      ),
      'Latency: event `ts` (the node, when the membership changed) to its arrival at the receiver (ms); medians over the runs.',
      '',
      table(
        ['mode', 'changes', 'events', 'events/delivery', 'duplicates', 'p50 ms', 'p99 ms', 'max ms'],
        byMode.map((m) => [m.mode, m.changes, m.events, m.eventsPerDelivery, m.duplicates, m.p50, m.p99, m.max]),
      ),
      '',
    ].join('\n');
    return { markdown, json: { results, summary: byMode } };
  },
});
