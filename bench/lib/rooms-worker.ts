/**
 * Rooms load-generator worker (child_process.fork) for scenarios with many
 * rooms and a latency split by class of member: holds groups of connections
 * (each connection on one server URL, in one room, with a class such as
 * `same`/`remote` or `small`/`large`), records per-delivery latency per phase
 * and class, counts deliveries per connection and phase (loss), and for chosen
 * rooms the first and last arrival of every publication (spread over members).
 * Connections of a `probe` group also time the Engine.IO pings they receive.
 *
 * Publications carry `data: {bseq, bs, bt}` (sequence, phase, send time).
 *
 * IPC in:  RoomsWorkerStart; {type:'count', phase}; RoomsCollect; {type:'stop'}
 * IPC out: {type:'progress', connected} / {type:'ready', connected, failed, error?}
 *          {type:'count', phase, received}; RoomsStats
 */
import { connectPool } from './connect-pool.js';
import { SignJWT } from 'jose';
import { LatencyHistogram, LeanSioClient, nowMs, numberAfter } from './lean-client.js';

export interface RoomsGroup {
  url: string;
  room: string;
  count: number;
  /** Latency class of these members, e.g. 'same', 'remote', 'small', 'large'. */
  cls: string;
  /** Time the Engine.IO pings these connections receive. */
  probe?: boolean;
}

export interface RoomsWorkerStart {
  type: 'start';
  target: 'roomcast' | 'socketio';
  groups: RoomsGroup[];
  addresses: string[];
  /** Roomcast: HS256 secret for the members' tokens (rooms claim `bench:*`). */
  jwtSecret?: string;
  /** Token subjects are `<subPrefix>-<n>`. */
  subPrefix: string;
  /** Rooms whose per-publication first/last arrival is tracked. */
  spreadRooms?: string[];
  concurrency?: number;
}

export interface RoomsCollect {
  type: 'collect';
  phase: number;
  /** Publications made into each room in that phase (every member should have them all). */
  expected: Record<string, number>;
}

export type HistogramJson = ReturnType<LatencyHistogram['toJSON']>;

export interface RoomsStats {
  type: 'stats';
  phase: number;
  classes: Record<string, { histogram: HistogramJson; received: number; lost: number; members: number }>;
  /** [bseq, first arrival ms, last arrival ms, arrivals, send time ms] per tracked publication. */
  spread: Array<[number, number, number, number, number]>;
  /** Gaps between consecutive pings of each probe connection since the last collect, ms. */
  pingGaps: number[];
  /** Connections that closed after having connected, since start. */
  disconnects: number;
}

interface Member {
  room: string;
  cls: string;
  counts: Map<number, number>;
}

const members: Member[] = [];
const histograms = new Map<string, LatencyHistogram>();
/** phase -> bseq -> [first, last, count, bt] */
const spreads = new Map<number, Map<number, [number, number, number, number]>>();
let spreadRooms = new Set<string>();
let pingGaps: number[] = [];
let disconnects = 0;
const closers: Array<() => void> = [];

function send(message: unknown): void {
  process.send?.(message);
}

function onDelivery(member: Member, text: string): void {
  const t = numberAfter(text, 'bt');
  const phase = numberAfter(text, 'bs');
  if (Number.isNaN(t) || Number.isNaN(phase)) return;
  const now = nowMs();
  const key = `${phase}|${member.cls}`;
  let h = histograms.get(key);
  if (!h) histograms.set(key, (h = new LatencyHistogram()));
  h.record(now - t);
  member.counts.set(phase, (member.counts.get(phase) ?? 0) + 1);
  if (spreadRooms.has(member.room)) {
    const seq = numberAfter(text, 'bseq');
    let byPhase = spreads.get(phase);
    if (!byPhase) spreads.set(phase, (byPhase = new Map()));
    const entry = byPhase.get(seq);
    if (entry) {
      if (now < entry[0]) entry[0] = now;
      if (now > entry[1]) entry[1] = now;
      entry[2]++;
    } else {
      byPhase.set(seq, [now, now, 1, t]);
    }
  }
}

async function connectOne(start: RoomsWorkerStart, group: RoomsGroup, n: number, key: Uint8Array | null): Promise<void> {
  const localAddress = start.addresses[n % start.addresses.length];
  let auth: Record<string, unknown> | null = null;
  if (start.target === 'roomcast' && key) {
    const token = await new SignJWT({ rooms: ['bench:*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`${start.subPrefix}-${n}`)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(key);
    auth = { token };
  }
  const client = await LeanSioClient.connect(group.url, auth, localAddress !== undefined ? { localAddress } : {});
  closers.push(() => client.close());
  const member: Member = { room: group.room, cls: group.cls, counts: new Map() };
  members.push(member);
  client.onEvent = (text) => onDelivery(member, text);
  client.onClose = () => {
    disconnects++;
  };
  if (group.probe === true) {
    let last = 0;
    client.onPing = () => {
      const now = nowMs();
      if (last > 0) pingGaps.push(now - last);
      last = now;
    };
  }
  const ack = (await client.emitWithAck(start.target === 'roomcast' ? 'room:join' : 'join', [start.target === 'roomcast' ? { room: group.room } : group.room], 30_000)) as {
    ok?: boolean;
  };
  if (ack.ok !== true) throw new Error(`join refused: ${JSON.stringify(ack)}`);
}

async function start(message: RoomsWorkerStart): Promise<void> {
  spreadRooms = new Set(message.spreadRooms ?? []);
  const key = message.jwtSecret !== undefined ? new TextEncoder().encode(message.jwtSecret) : null;
  const jobs: Array<{ group: RoomsGroup }> = [];
  for (const group of message.groups) for (let i = 0; i < group.count; i++) jobs.push({ group });
  const { connected, failed, firstError } = await connectPool(
    0,
    jobs.length,
    message.concurrency ?? 50,
    (n) => connectOne(message, (jobs[n] as { group: RoomsGroup }).group, n, key),
    (count) => send({ type: 'progress', connected: count }),
  );
  send({ type: 'ready', connected, failed, ...(firstError !== undefined ? { error: firstError } : {}) });
}

function collect(message: RoomsCollect): void {
  const classes: RoomsStats['classes'] = {};
  for (const member of members) {
    const entry = (classes[member.cls] ??= { histogram: new LatencyHistogram().toJSON(), received: 0, lost: 0, members: 0 });
    const got = member.counts.get(message.phase) ?? 0;
    entry.members++;
    entry.received += got;
    entry.lost += Math.max(0, (message.expected[member.room] ?? 0) - got);
  }
  for (const cls of Object.keys(classes)) {
    const key = `${message.phase}|${cls}`;
    const h = histograms.get(key);
    const entry = classes[cls];
    if (h && entry) entry.histogram = h.toJSON();
    histograms.delete(key);
  }
  const spread: RoomsStats['spread'] = [...(spreads.get(message.phase) ?? new Map<number, [number, number, number, number]>()).entries()].map(
    ([seq, [first, last, count, bt]]) => [seq, first, last, count, bt],
  );
  spreads.delete(message.phase);
  const stats: RoomsStats = { type: 'stats', phase: message.phase, classes, spread, pingGaps, disconnects };
  pingGaps = [];
  send(stats);
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'start') {
    start(message as RoomsWorkerStart).catch((error: unknown) => send({ type: 'ready', connected: 0, failed: 0, error: String(error) }));
  } else if (message.type === 'collect') {
    collect(message as RoomsCollect);
  } else if (message.type === 'count') {
    const phase = (message as { type: string; phase: number }).phase;
    let received = 0;
    for (const member of members) received += member.counts.get(phase) ?? 0;
    send({ type: 'count', phase, received });
  } else if (message.type === 'stop') {
    for (const close of closers) close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
