/**
 * Fan-out load-generator worker (child_process.fork): holds `count` members of
 * one room, records per-delivery latency and per-client sequence counts per step.
 *
 * IPC in:  {type:'start', target, url, room, count, firstIndex, jwtSecret?, addresses}
 *          {type:'collect', step, expected}   (expected deliveries per client in that step)
 *          {type:'count', step} -> {type:'count', step, received}   (drain polling)
 *          {type:'stop'}
 * IPC out: {type:'progress', connected} / {type:'ready', connected, failed, error?}
 *          {type:'stats', step, histogram, received, lost}
 */
import { SignJWT } from 'jose';
import { connectPool } from './connect-pool.js';
import { BareWsClient, LatencyHistogram, LeanSioClient, nowMs, numberAfter } from './lean-client.js';

export type FanoutTarget = 'roomcast' | 'bare-ws' | 'socketio';

export interface WorkerStart {
  type: 'start';
  target: FanoutTarget;
  url: string;
  room: string;
  count: number;
  firstIndex: number;
  jwtSecret?: string;
  addresses: string[];
}

interface Collect {
  type: 'collect';
  step: number;
  expected: number;
}

const histograms = new Map<number, LatencyHistogram>();
/** per client: step -> deliveries */
let perClient: Array<Map<number, number>> = [];
const closers: Array<() => void> = [];

function send(message: unknown): void {
  process.send?.(message);
}

function onDelivery(client: number, text: string): void {
  const t = numberAfter(text, 'bt');
  const step = numberAfter(text, 'bs');
  if (Number.isNaN(t) || Number.isNaN(step)) return;
  let h = histograms.get(step);
  if (!h) histograms.set(step, (h = new LatencyHistogram()));
  h.record(nowMs() - t);
  const counts = perClient[client];
  if (counts) counts.set(step, (counts.get(step) ?? 0) + 1);
}

async function connectOne(start: WorkerStart, i: number, key: Uint8Array | null): Promise<void> {
  const localAddress = start.addresses[i % start.addresses.length];
  const options = localAddress !== undefined ? { localAddress } : {};
  if (start.target === 'bare-ws') {
    const client = await BareWsClient.connect(start.url, options);
    closers.push(() => client.close());
    client.onFrame = (text) => onDelivery(i, text);
    await client.join(start.room);
    return;
  }
  let auth: Record<string, unknown> | null = null;
  if (start.target === 'roomcast' && key) {
    const token = await new SignJWT({ rooms: ['bench:*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`bench-${start.firstIndex + i}`)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(key);
    auth = { token };
  }
  const client = await LeanSioClient.connect(start.url, auth, options);
  closers.push(() => client.close());
  client.onEvent = (text) => onDelivery(i, text);
  const ack = (await client.emitWithAck(start.target === 'roomcast' ? 'room:join' : 'join', [start.target === 'roomcast' ? { room: start.room } : start.room])) as {
    ok?: boolean;
    error?: unknown;
  };
  if (ack.ok !== true) throw new Error(`join refused: ${JSON.stringify(ack)}`);
}

async function start(message: WorkerStart): Promise<void> {
  perClient = Array.from({ length: message.count }, () => new Map<number, number>());
  const key = message.jwtSecret !== undefined ? new TextEncoder().encode(message.jwtSecret) : null;
  const { connected, failed, firstError } = await connectPool(0, message.count, 50, (i) => connectOne(message, i, key), (n) => send({ type: 'progress', connected: n }));
  send({ type: 'ready', connected, failed, ...(firstError !== undefined ? { error: firstError } : {}) });
}

function collect(message: Collect): void {
  const h = histograms.get(message.step) ?? new LatencyHistogram();
  let received = 0;
  let lost = 0;
  for (const counts of perClient) {
    const got = counts.get(message.step) ?? 0;
    received += got;
    lost += Math.max(0, message.expected - got);
  }
  send({ type: 'stats', step: message.step, histogram: h.toJSON(), received, lost });
  histograms.delete(message.step);
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'start') {
    start(message as WorkerStart).catch((error: unknown) => send({ type: 'ready', connected: 0, failed: 0, error: String(error) }));
  } else if (message.type === 'collect') {
    collect(message as Collect);
  } else if (message.type === 'count') {
    const step = (message as { type: string; step: number }).step;
    let received = 0;
    for (const counts of perClient) received += counts.get(step) ?? 0;
    send({ type: 'count', step, received });
  } else if (message.type === 'stop') {
    for (const close of closers) close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
