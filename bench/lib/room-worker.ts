/**
 * Reconnecting load-generator worker with per-room offset tracking
 * (child_process.fork), shared by the headline (scenario 4) and the reconnect
 * storm (scenario 5).
 *
 * Client g (global index) holds one LeanSioClient with a JWT of sub `bench-<g>`,
 * joins its personal room `user:bench-<g>` and its group room `group:<g / groupSize>`,
 * and tracks, per room, which offsets it has seen since its first join position.
 * It reconnects the way the SDK does (client/connection.ts):
 * - `server:draining { reconnectInMs }`: after reconnectInMs + up to 500 ms of
 *   jitter it leaves as the SDK does (a Socket.IO disconnect and a WebSocket close
 *   frame; before 2026-12-04 a TCP reset) and connects again (to `reconnectUrls` when given: another
 *   node); if the node closes it first, it waits for that moment anyway;
 * - any other close (churn ordered by the scenario, a node closing it): reconnect
 *   after the churn pause, or with a capped exponential backoff;
 * then rejoins each room with `since: { epoch, offset }` = its last contiguous
 * offset, marks `missed[]` (and pages `room:history` when the ack was cut) and
 * counts recovered:false.
 *
 * Bookkeeping per room: `floor` (every offset from the first join position up to
 * it seen) and `ahead` (seen offsets above it). An offset seen twice is
 * - an `overlap` when it is at or below the position of a join of that room
 *   (missed[] and live broadcasts of the join window may carry the same offset:
 *   the protocol allows it, the SDK drops it);
 * - a `duplicate` otherwise (a live publication delivered twice: a bug).
 * Lost = offsets from the first join position to the room's final offset (told by
 * the scenario, from the publishers' answers) never seen.
 *
 * IPC in:  {type:'start', urls, reconnectUrls?, count, firstIndex, groupSize, jwtSecret, addresses, concurrency}
 *          {type:'t0', t0, windowMs, lateMs?}             latency windows (ms since t0) for the over-time chart,
 *                                                         and where each delivery of lateMs or more went through (lateBy)
 *          {type:'churn', perSecond, pauseMinMs, pauseMaxMs}  perSecond 0 stops it
 *          {type:'settle'} -> {type:'settled', ...Counters}   (poll until every client is connected and joined)
 *          {type:'verify', groupFinal: number[], userFinal: Array<[g, offset]>} -> {type:'verified', lost, ...Counters}
 *          {type:'collect'} -> {type:'stats', ...}
 *          {type:'stop'}
 * IPC out: {type:'progress', ...Counters} every 250 ms, {type:'ready', connected, failed, error?}
 */
import { SignJWT } from 'jose';
import { LatencyHistogram, LeanSioClient, nowMs } from './lean-client.js';

export interface RoomWorkerStart {
  type: 'start';
  /** Client g connects first to urls[g % urls.length]. */
  urls: string[];
  /** Where a client reconnects (reconnectUrls[(g + attempt) % length]); default its first URL. */
  reconnectUrls?: string[];
  count: number;
  firstIndex: number;
  groupSize: number;
  jwtSecret: string;
  addresses: string[];
  /** Connections (handshake + joins) in flight at once in this worker. */
  concurrency: number;
}

export interface RoomWorkerCounters {
  /** Clients connected and joined to both rooms right now. */
  live: number;
  connecting: number;
  /** Reconnects completed (connected and both rooms rejoined). */
  recoveries: number;
  /** Rejoin acks with recovered: false (or another epoch). */
  recoveredFalse: number;
  churned: number;
  drainNotices: number;
  /** Closes not asked for by churn or drain (e.g. a node closing the connection). */
  unexpectedCloses: number;
  connectRetries: number;
  /** Why reconnect attempts were retried (they sum to the storm's share of connectRetries). */
  retryConnectTimeout: number;
  retryAckTimeout: number;
  /** A join or history page answered with an error (refused by the node). */
  retryRefused: number;
  /** The connection closed (or could not open) during the attempt. */
  retryClosed: number;
  /** Live deliveries received (latency measured on each). */
  live_deliveries: number;
  /** Offsets obtained from missed[] or history pages of a rejoin. */
  recoveredMessages: number;
  duplicates: number;
  overlap: number;
  /** Offsets skipped by a recovered:false rejoin. */
  gapOffsets: number;
}

export interface RoomWorkerStats extends RoomWorkerCounters {
  type: 'stats';
  latency: ReturnType<LatencyHistogram['toJSON']>;
  /** Latency per window since t0: [window index, histogram]. */
  windows: Array<[number, ReturnType<LatencyHistogram['toJSON']>]>;
  /** Disconnect -> connected again, in units of RECONNECT_SCALE ms. */
  reconnectMs: ReturnType<LatencyHistogram['toJSON']>;
  /** Disconnect -> both rooms rejoined with recovered: true, in units of RECONNECT_SCALE ms. */
  recoverMs: ReturnType<LatencyHistogram['toJSON']>;
  /** Wall-clock times (nowMs) of every reconnect and of every recovery, for the storm chart. */
  reconnectedAt: number[];
  recoveredAt: number[];
  /**
   * Deliveries of at least lateMs (default LATE_DELIVERY_MS), counted by window and by where they went through:
   * `<window>:r<n>` received from node n (index into urls), `<window>:p<n>` published through node n
   * (the publisher's `pn`). A bad window made of one node's deliveries is that node's; one spread
   * over every node and worker is shared (the publisher, Redis, the machine).
   */
  lateBy: Array<[string, number]>;
}

/** The headline's latency target (issue 16): by default, deliveries at least this late are attributed in lateBy. */
export const LATE_DELIVERY_MS = 250;

interface RoomTrack {
  room: string;
  epoch: string | null;
  /** First join position: offsets above it are expected. */
  start: number;
  floor: number;
  ahead: Set<number> | null;
  /** Highest position of any join of this room (offsets at or below may overlap). */
  joinOffset: number;
  /** Live messages buffered while a join of this room is in flight. */
  pending: Array<{ offset: number; epoch: string }> | null;
}

interface ClientState {
  g: number;
  token: string;
  address: string | undefined;
  conn: LeanSioClient | null;
  /** Index into urls of the node this client is (or was last) connected to. */
  node: number;
  rooms: [RoomTrack, RoomTrack];
  /** nowMs() of the last disconnect while reconnecting; 0 when connected. */
  disconnectedAt: number;
  /** Earliest reconnect time (drain notice or churn pause), nowMs(). */
  reconnectAt: number;
  /** Close asked for by this worker (churn / drain): not unexpected. */
  closing: boolean;
  joined: boolean;
  moved: boolean;
  attempts: number;
}

interface JoinAck {
  ok: boolean;
  epoch: string;
  offset: number;
  recovered: boolean;
  missed: Array<{ offset: number; epoch: string }>;
  error?: unknown;
}

interface HistoryAck {
  ok: boolean;
  epoch: string;
  offset: number;
  recovered: boolean;
  messages: Array<{ offset: number; epoch: string }>;
  error?: unknown;
}

const DRAIN_JITTER_MS = 500;
/**
 * Reconnect and recovery times are recorded divided by this, so the latency
 * histogram (exact to 10 s) holds them up to 1,000 s, 5 ms fine below 10 s.
 */
export const RECONNECT_SCALE = 100;
const counters: RoomWorkerCounters = {
  live: 0,
  connecting: 0,
  recoveries: 0,
  recoveredFalse: 0,
  churned: 0,
  drainNotices: 0,
  unexpectedCloses: 0,
  connectRetries: 0,
  retryConnectTimeout: 0,
  retryAckTimeout: 0,
  retryRefused: 0,
  retryClosed: 0,
  live_deliveries: 0,
  recoveredMessages: 0,
  duplicates: 0,
  overlap: 0,
  gapOffsets: 0,
};
const latency = new LatencyHistogram();
const windows = new Map<number, LatencyHistogram>();
const lateBy = new Map<string, number>();
const reconnectMs = new LatencyHistogram();
const recoverMs = new LatencyHistogram();
const reconnectedAt: number[] = [];
const recoveredAt: number[] = [];
let t0 = 0;
let windowMs = 10_000;
let lateMs = LATE_DELIVERY_MS;
let config: RoomWorkerStart | null = null;
let clients: ClientState[] = [];
let stopping = false;
let churnTimer: NodeJS.Timeout | null = null;

function send(message: unknown): void {
  process.send?.(message);
}

// ---------- offsets

function mark(track: RoomTrack, offset: number): void {
  if (offset <= track.floor || track.ahead?.has(offset) === true) {
    if (offset <= track.joinOffset) counters.overlap++;
    else counters.duplicates++;
    return;
  }
  if (offset === track.floor + 1) {
    track.floor = offset;
    while (track.ahead !== null && track.ahead.delete(track.floor + 1)) track.floor++;
    if (track.ahead?.size === 0) track.ahead = null;
  } else {
    (track.ahead ??= new Set()).add(offset);
  }
}

/** Offsets in (start, final] never seen. */
function lostIn(track: RoomTrack, final: number): number {
  if (track.epoch === null || final <= track.floor) return 0;
  let seenAbove = 0;
  if (track.ahead) for (const offset of track.ahead) if (offset <= final) seenAbove++;
  return final - track.floor - seenAbove;
}

/**
 * Of the offsets lost in (start, final], those below an offset the client did see: holes the SDK fills
 * from history when the later one arrives (client/joined-rooms.ts), which this lean client does not do.
 * The rest were lost at the room's tail: nothing after them told the client.
 */
function holesIn(track: RoomTrack, final: number): number {
  if (track.epoch === null || track.ahead === null) return 0;
  let highest = track.floor;
  for (const offset of track.ahead) if (offset <= final && offset > highest) highest = offset;
  let seenBelow = 0;
  for (const offset of track.ahead) if (offset < highest) seenBelow++;
  return highest - 1 - track.floor - seenBelow;
}

// ---------- events

function onEvent(client: ClientState, conn: LeanSioClient, text: string): void {
  if (text.startsWith('2["message",')) {
    const [, message] = JSON.parse(text.slice(1)) as [string, { room: string; offset: number; epoch: string; data?: { bt?: number; pn?: number } }];
    const track = client.rooms[0].room === message.room ? client.rooms[0] : client.rooms[1].room === message.room ? client.rooms[1] : null;
    if (track === null) return;
    const sentAt = message.data?.bt;
    if (typeof sentAt === 'number') {
      const ms = nowMs() - sentAt;
      latency.record(ms);
      if (t0 > 0 && sentAt >= t0) {
        const index = Math.floor((sentAt - t0) / windowMs);
        let h = windows.get(index);
        if (!h) windows.set(index, (h = new LatencyHistogram()));
        h.record(ms);
        if (ms >= lateMs) {
          countLate(`${index}:r${client.node}`);
          if (typeof message.data?.pn === 'number') countLate(`${index}:p${message.data.pn}`);
        }
      }
    }
    counters.live_deliveries++;
    if (track.pending !== null) {
      track.pending.push({ offset: message.offset, epoch: message.epoch });
      return;
    }
    if (message.epoch === track.epoch) mark(track, message.offset);
  } else if (text.startsWith('2["server:draining",')) {
    counters.drainNotices++;
    const [, notice] = JSON.parse(text.slice(1)) as [string, { reconnectInMs: number }];
    const delay = Math.max(0, notice.reconnectInMs) + Math.random() * DRAIN_JITTER_MS;
    client.reconnectAt = nowMs() + delay;
    client.moved = true;
    setTimeout(() => {
      if (client.conn !== conn || conn.closed) return;
      client.closing = true;
      // As the SDK leaves a draining node: a Socket.IO disconnect and a close frame; ROOMCAST_BENCH_DRAIN_LEAVE=reset
      // resets the TCP connection instead (the bench before 2026-12-04), to compare the two.
      if (process.env.ROOMCAST_BENCH_DRAIN_LEAVE === 'reset') conn.close();
      else conn.disconnect();
    }, delay);
  }
}

function onClosed(client: ClientState, conn: LeanSioClient): void {
  if (client.conn !== conn) return;
  client.conn = null;
  const wasJoined = client.joined;
  client.joined = false;
  // A close during a connect or rejoin is retried by that attempt itself.
  if (!wasJoined) return;
  counters.live--;
  if (stopping) return;
  if (!client.closing) counters.unexpectedCloses++;
  client.closing = false;
  client.disconnectedAt = nowMs();
  const wait = Math.max(0, client.reconnectAt - nowMs());
  setTimeout(() => void reconnect(client), wait);
}

function countLate(key: string): void {
  lateBy.set(key, (lateBy.get(key) ?? 0) + 1);
}

// ---------- connect, join, recover

function urlFor(client: ClientState, first: boolean): string {
  const cfg = config as RoomWorkerStart;
  if (first || !client.moved || cfg.reconnectUrls === undefined || cfg.reconnectUrls.length === 0) {
    return cfg.urls[client.g % cfg.urls.length] as string;
  }
  return cfg.reconnectUrls[(client.g + client.attempts) % cfg.reconnectUrls.length] as string;
}

async function joinRoom(conn: LeanSioClient, track: RoomTrack): Promise<boolean> {
  const first = track.epoch === null;
  track.pending = [];
  let recovered = true;
  try {
    const request = first ? { room: track.room } : { room: track.room, since: { epoch: track.epoch, offset: track.floor } };
    const ack = (await conn.emitWithAck('room:join', [request], 30_000)) as JoinAck;
    if (ack.ok !== true) throw new Error(`room:join ${track.room} refused: ${JSON.stringify(ack.error)}`);
    if (first) {
      track.epoch = ack.epoch;
      track.start = track.floor = track.joinOffset = ack.offset;
      for (const message of track.pending) if (message.offset > ack.offset && message.epoch === track.epoch) mark(track, message.offset);
      return true;
    }
    if (!ack.recovered || ack.epoch !== track.epoch) {
      counters.recoveredFalse++;
      recovered = false;
      // An explicit gap: count what it skips, continue from the new position.
      if (ack.epoch === track.epoch && ack.offset > track.floor) counters.gapOffsets += lostIn(track, ack.offset);
      track.epoch = ack.epoch;
      track.floor = ack.offset;
      track.ahead = null;
    }
    track.joinOffset = Math.max(track.joinOffset, ack.offset);
    let last = track.floor;
    for (const message of ack.missed) {
      mark(track, message.offset);
      counters.recoveredMessages++;
      if (message.offset > last) last = message.offset;
    }
    // missed[] is cut at 300 messages / ~1 MiB: page the rest.
    while (recovered && last < ack.offset) {
      const page = (await conn.emitWithAck('room:history', [{ room: track.room, since: { epoch: track.epoch, offset: last }, limit: 1000 }], 30_000)) as HistoryAck;
      if (page.ok !== true) throw new Error(`room:history ${track.room} refused: ${JSON.stringify(page.error)}`);
      const before = last;
      for (const message of page.messages) {
        if (message.offset > ack.offset) continue; // live broadcasts carry these
        mark(track, message.offset);
        counters.recoveredMessages++;
        if (message.offset > last) last = message.offset;
      }
      if (last === before) break;
    }
    return recovered;
  } finally {
    const buffered = track.pending ?? [];
    track.pending = null;
    // Live messages of the join window: a first join's before its position are not expected.
    for (const message of buffered) if (!first && message.epoch === track.epoch) mark(track, message.offset);
  }
}

async function connectClient(client: ClientState, url: string): Promise<boolean> {
  const conn = await LeanSioClient.connect(url, { token: client.token }, { ...(client.address !== undefined ? { localAddress: client.address } : {}), timeoutMs: 30_000 });
  client.conn = conn;
  client.node = (config as RoomWorkerStart).urls.indexOf(url);
  conn.onEvent = (text) => onEvent(client, conn, text);
  conn.onClose = () => onClosed(client, conn);
  const results = await Promise.all(client.rooms.map((track) => joinRoom(conn, track)));
  if (conn.closed || client.conn !== conn) throw new Error('closed during the joins');
  client.joined = true;
  client.closing = false;
  counters.live++;
  return results.every(Boolean);
}

/** Which counter a failed reconnect attempt adds to, from the error the lean client or a join gave. */
function retryCause(error: unknown): 'retryConnectTimeout' | 'retryAckTimeout' | 'retryRefused' | 'retryClosed' {
  const text = String(error);
  if (text.includes('connect timeout')) return 'retryConnectTimeout';
  if (text.includes('ack timeout')) return 'retryAckTimeout';
  if (text.includes('refused:')) return 'retryRefused';
  return 'retryClosed';
}

/** Closes a connection whose connect or joins failed (its close is not a disconnect to recover from). */
function dropConnection(client: ClientState): void {
  const conn = client.conn;
  client.conn = null;
  conn?.close();
}

async function reconnect(client: ClientState): Promise<void> {
  if (stopping || client.conn !== null) return;
  counters.connecting++;
  try {
    for (;;) {
      if (stopping) return;
      try {
        const url = urlFor(client, false);
        const connectedAt = nowMs();
        const recovered = await connectClient(client, url);
        const now = nowMs();
        reconnectMs.record((connectedAt - client.disconnectedAt) / RECONNECT_SCALE);
        reconnectedAt.push(connectedAt);
        counters.recoveries++;
        if (recovered) {
          recoverMs.record((now - client.disconnectedAt) / RECONNECT_SCALE);
          recoveredAt.push(now);
        }
        client.disconnectedAt = 0;
        client.attempts = 0;
        return;
      } catch (error) {
        counters.connectRetries++;
        const cause = retryCause(error);
        // The first of each cause on stderr: the counters say how many, this says what.
        if (counters[cause]++ === 0) process.stderr.write(`room-worker: first reconnect retry (${cause}): ${String(error)}\n`);
        client.attempts++;
        dropConnection(client);
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** Math.min(client.attempts, 6)) * (0.5 + Math.random())));
      }
    }
  } finally {
    counters.connecting--;
  }
}

// ---------- phases

async function start(message: RoomWorkerStart): Promise<void> {
  config = message;
  const key = new TextEncoder().encode(message.jwtSecret);
  clients = [];
  for (let i = 0; i < message.count; i++) {
    const g = message.firstIndex + i;
    const token = await new SignJWT({ rooms: ['group:*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`bench-${g}`)
      .setIssuedAt()
      .setExpirationTime('6h')
      .sign(key);
    const track = (room: string): RoomTrack => ({ room, epoch: null, start: 0, floor: 0, ahead: null, joinOffset: 0, pending: null });
    clients.push({
      g,
      token,
      address: message.addresses[i % message.addresses.length],
      conn: null,
      node: g % message.urls.length,
      rooms: [track(`user:bench-${g}`), track(`group:${Math.floor(g / message.groupSize)}`)],
      disconnectedAt: 0,
      reconnectAt: 0,
      closing: false,
      joined: false,
      moved: false,
      attempts: 0,
    });
  }
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const progress = setInterval(() => send({ type: 'progress', ...counters }), 250);
  await Promise.all(
    Array.from({ length: Math.max(1, message.concurrency) }, async () => {
      while (next < clients.length) {
        const client = clients[next++] as ClientState;
        let tries = 0;
        for (;;) {
          try {
            await connectClient(client, urlFor(client, true));
            break;
          } catch (error) {
            dropConnection(client);
            // A handful of retries (a node briefly refusing under the ramp); then counted as failed.
            if (++tries >= 5) {
              failed++;
              firstError ??= String(error);
              break;
            }
            counters.connectRetries++;
            await new Promise((r) => setTimeout(r, 200 * tries));
          }
        }
      }
    }),
  );
  send({ type: 'ready', connected: counters.live, failed, ...(firstError !== undefined ? { error: firstError } : {}) });
  // progress keeps flowing (the storm chart and the bars use it)
  void progress;
}

function churn(perSecond: number, pauseMinMs: number, pauseMaxMs: number): void {
  if (churnTimer) clearInterval(churnTimer);
  churnTimer = null;
  if (perSecond <= 0) return;
  let credit = 0;
  churnTimer = setInterval(() => {
    credit += perSecond / 10;
    for (; credit >= 1; credit--) {
      const client = clients[Math.floor(Math.random() * clients.length)];
      if (!client || !client.joined || client.conn === null || client.closing) continue;
      counters.churned++;
      client.closing = true;
      client.reconnectAt = nowMs() + pauseMinMs + Math.random() * (pauseMaxMs - pauseMinMs);
      client.conn.close();
    }
  }, 100);
}

function verify(groupFinal: number[], userFinal: Array<[number, number]>): void {
  const users = new Map(userFinal);
  const groupSize = config?.groupSize ?? 10;
  let lost = 0;
  let lostHoles = 0;
  let lostClients = 0;
  for (const client of clients) {
    const before = lost;
    const userFinal = users.get(client.g) ?? 0;
    const groupFinalOffset = groupFinal[Math.floor(client.g / groupSize)] ?? 0;
    lost += lostIn(client.rooms[0], userFinal) + lostIn(client.rooms[1], groupFinalOffset);
    lostHoles += holesIn(client.rooms[0], userFinal) + holesIn(client.rooms[1], groupFinalOffset);
    if (lost > before) lostClients++;
  }
  send({ type: 'verified', lost, lostHoles, lostClients, ...counters });
}

function collect(): void {
  const stats: RoomWorkerStats = {
    type: 'stats',
    ...counters,
    latency: latency.toJSON(),
    windows: [...windows.entries()].map(([index, h]) => [index, h.toJSON()]),
    reconnectMs: reconnectMs.toJSON(),
    recoverMs: recoverMs.toJSON(),
    reconnectedAt,
    recoveredAt,
    lateBy: [...lateBy.entries()],
  };
  send(stats);
}

process.on('message', (message: { type: string } & Record<string, unknown>) => {
  switch (message.type) {
    case 'start':
      start(message as unknown as RoomWorkerStart).catch((error: unknown) => send({ type: 'ready', connected: 0, failed: 0, error: String(error) }));
      break;
    case 't0':
      t0 = Number(message.t0);
      windowMs = Number(message.windowMs);
      if (typeof message.lateMs === 'number') lateMs = message.lateMs;
      break;
    case 'churn':
      churn(Number(message.perSecond), Number(message.pauseMinMs), Number(message.pauseMaxMs));
      break;
    case 'settle':
      send({ type: 'settled', ...counters, total: clients.length });
      break;
    case 'verify':
      verify(message.groupFinal as number[], message.userFinal as Array<[number, number]>);
      break;
    case 'collect':
      collect();
      break;
    case 'stop':
      stopping = true;
      for (const client of clients) client.conn?.close();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
