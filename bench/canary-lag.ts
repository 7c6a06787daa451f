/**
 * Redis pub/sub lag as the gateway's own canary measures it, at idle and with a
 * publisher running. Each run starts a fresh redis-server and two gateway
 * processes, lets them settle, then reads the canary's p50/p99 (over its last
 * 30 probes) from /readyz of both nodes. Reports medians over the runs and the
 * CPU each process used.
 *
 *   npm run build && node dist/bench/canary-lag.js [--runs 3] [--seconds 40] [--rate 500]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { startGatewayProcess, type GatewayProcess } from '../tools/processes/gateway-process.js';
import { startRedis, type RedisProcess } from '../tools/processes/redis-server.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../tools/processes/tokens.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '40' },
    rate: { type: 'string', default: '500' },
    clients: { type: 'string', default: '200' },
    rooms: { type: 'string', default: '20' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const clientCount = Number(values.clients);
const roomCount = Number(values.rooms);

interface CanaryFigures {
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

async function canaryOf(node: GatewayProcess): Promise<CanaryFigures> {
  const body = (await (await fetch(`${node.url}/readyz`)).json()) as { canary: CanaryFigures };
  return body.canary;
}

async function runOnce(withPublisher: boolean): Promise<{ canaries: CanaryFigures[]; cpu: Record<string, number>; delivered: number; published: number }> {
  const redis: RedisProcess = await startRedis();
  const nodes: GatewayProcess[] = [];
  const sockets: Socket[] = [];
  let publishing = false;
  try {
    for (let index = 1; index <= 2; index += 1) {
      nodes.push(await startGatewayProcess({ REDIS_URL: redis.url, NODE_ID: `node${index}`, JWT_SECRET: TEST_JWT_SECRET, API_KEYS: TEST_API_KEY, RATE_LIMIT_PER_S: '1000' }));
    }
    let delivered = 0;
    let published = 0;
    if (withPublisher) {
      const token = await signToken(TEST_JWT_SECRET, { sub: 'bench', rooms: ['bench:*'] }, { expiresIn: 3600 });
      for (let i = 0; i < clientCount; i += 1) {
        const socket = io((nodes[i % 2] as GatewayProcess).url, { auth: { token }, transports: ['websocket'], forceNew: true });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        await socket.timeout(5000).emitWithAck('room:join', { room: `bench:${i % roomCount}` });
        socket.on('message', () => (delivered += 1));
        sockets.push(socket);
      }
      publishing = true;
      // Publish through node1's HTTP API at a steady rate; members on node2 get it through Redis.
      void (async () => {
        const interval = 1000 / rate;
        let next = performance.now();
        while (publishing) {
          const room = `bench:${published % roomCount}`;
          published += 1;
          void fetch(`${(nodes[0] as GatewayProcess).url}/api/v1/publish`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
            body: JSON.stringify({ room, event: 'tick', data: { n: published, padding: 'x'.repeat(100) } }),
          }).catch(() => undefined);
          next += interval;
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
      })();
    }
    const cpuBefore = [redis.pid, ...nodes.map((node) => node.pid)].map(cpuSeconds);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpuAfter = [redis.pid, ...nodes.map((node) => node.pid)].map(cpuSeconds);
    const canaries = await Promise.all(nodes.map(canaryOf));
    const names = ['redis', ...nodes.map((node) => node.nodeId)];
    const cpu = Object.fromEntries(names.map((name, i) => [name, Math.round(((cpuAfter[i] as number) - (cpuBefore[i] as number)) / seconds * 1000) / 10]));
    return { canaries, cpu, delivered, published };
  } finally {
    publishing = false;
    for (const socket of sockets) socket.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  }
}

const report: Record<string, unknown> = { machine: `${process.platform} ${process.arch}, node ${process.version}`, runs, seconds, rate, clients: clientCount, rooms: roomCount };
for (const phase of ['idle', 'publisher'] as const) {
  const p50s: number[] = [];
  const p99s: number[] = [];
  const cpus: Array<Record<string, number>> = [];
  let delivered = 0;
  let published = 0;
  for (let run = 1; run <= runs; run += 1) {
    const result = await runOnce(phase === 'publisher');
    for (const canary of result.canaries) {
      p50s.push(canary.p50Ms);
      p99s.push(canary.p99Ms);
    }
    cpus.push(result.cpu);
    delivered += result.delivered;
    published += result.published;
    process.stdout.write(`${phase} run ${run}: canary ${result.canaries.map((c) => `p50 ${c.p50Ms} ms / p99 ${c.p99Ms} ms (${c.samples} probes)`).join(', ')}; CPU % ${JSON.stringify(result.cpu)}${phase === 'publisher' ? `; published ${result.published}, delivered ${result.delivered}` : ''}\n`);
  }
  report[phase] = {
    canaryP50MsMedian: median(p50s),
    canaryP99MsMedian: median(p99s),
    cpuPercentMedian: Object.fromEntries(Object.keys(cpus[0] ?? {}).map((name) => [name, median(cpus.map((cpu) => cpu[name] as number))])),
    ...(phase === 'publisher' ? { publishedPerSecond: Math.round(published / runs / seconds), deliveredPerSecond: Math.round(delivered / runs / seconds) } : {}),
  };
}
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
