/**
 * Capacity load-generator worker (child_process.fork): opens idle authenticated
 * connections, each in two rooms (a personal room and one of `groups` group
 * rooms), in batches the scenario asks for, and holds them (answering pings).
 *
 * IPC in:  {type:'start', target, url, urls?, firstIndex, groups, concurrency, jwtSecret?, addresses}
 *          {type:'grow', upTo}      hold `upTo` connections in all (opens the difference)
 *          {type:'latency', reset}  -> {type:'latency', histogram, received} (reset: start a new window after answering)
 *          {type:'stop'}
 * IPC out: {type:'progress', connected}  (every 250 ms while growing)
 *          {type:'grown', connected, failed, dropped, error?}
 *
 * Socket.IO clients (Roomcast and plain Socket.IO) time every `message` event whose
 * data carries `bt` (the publisher's nowMs()): the idle-hold scenario's loaded
 * phase publishes `{ bt }` into these rooms over HTTP.
 *
 * Rooms per connection i (i = firstIndex + local index):
 *   roomcast: `user:bench-<i>` (its token's personal room) and `bench:g<i % groups>`
 *   bare-ws / socketio: `user:<i>` and `g<i % groups>`
 * Each client asks for what it lacks, as the target's own client would: bare ws
 * and plain Socket.IO join both rooms; a Roomcast client is joined to its
 * personal room by the server (AUTO_JOIN_USER_ROOM, on as shipped), waits for the
 * `session` event that lists it, as the SDK does, and joins the group room.
 * (Until 2026-12-04 21:00 it also sent a room:join of its personal room, which
 * the SDK never does: one more request, answer and write per connection.)
 */
import { connectPool } from './connect-pool.js';
import { SignJWT } from 'jose';
import { BareWsClient, LatencyHistogram, LeanSioClient, nowMs, numberAfter } from './lean-client.js';
import type { Target } from './harness.js';

export interface CapacityStart {
  type: 'start';
  target: Target;
  url: string;
  /** Several nodes: connection i goes to urls[i % urls.length] (`url` is then ignored). */
  urls?: string[];
  firstIndex: number;
  groups: number;
  concurrency: number;
  jwtSecret?: string;
  addresses: string[];
}

let config: CapacityStart | null = null;
let key: Uint8Array | null = null;
const closers: Array<() => void> = [];
let connected = 0;
let failed = 0;
let dropped = 0;
let nextIndex = 0;
let firstError: string | undefined;
let stopping = false;
let latency = new LatencyHistogram();
let received = 0;

/** A delivery's latency from the `bt` its publisher put in data; other events (presence, session) are ignored. */
function timeDelivery(packet: string): void {
  if (!packet.startsWith('2["message"')) return;
  const sentAt = numberAfter(packet, 'bt');
  if (!Number.isFinite(sentAt)) return;
  received++;
  latency.record(nowMs() - sentAt);
}

function send(message: unknown): void {
  process.send?.(message);
}

async function connectOne(start: CapacityStart, local: number): Promise<void> {
  const i = start.firstIndex + local;
  const localAddress = start.addresses[local % start.addresses.length];
  const options = localAddress !== undefined ? { localAddress } : {};
  const group = i % start.groups;
  const url = start.urls !== undefined && start.urls.length > 0 ? (start.urls[i % start.urls.length] ?? start.url) : start.url;
  if (start.target === 'bare-ws') {
    const client = await BareWsClient.connect(url, options);
    closers.push(() => client.close());
    await client.join(`user:${i}`);
    await client.join(`g${group}`);
    return;
  }
  let auth: Record<string, unknown> | null = null;
  // A token whenever the scenario gives a secret (Roomcast, and plain Socket.IO verifying the same JWT).
  if (key) {
    const token = await new SignJWT({ rooms: ['bench:*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(`bench-${i}`).setIssuedAt().setExpirationTime('2h').sign(key);
    auth = { token };
  }
  const personal = start.target === 'roomcast' ? `user:bench-${i}` : `user:${i}`;
  let session: Promise<void> | undefined;
  let onEvent: ((packet: string) => void) | undefined;
  if (start.target === 'roomcast') {
    session = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no session event listing ${personal}`)), 30_000);
      onEvent = (packet) => {
        if (packet.startsWith('2["session"') && packet.includes(`"room":"${personal}"`)) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
  }
  const client = await LeanSioClient.connect(url, auth, { ...options, ...(onEvent !== undefined ? { onEvent } : {}) });
  closers.push(() => client.close());
  client.onClose = () => {
    if (!stopping) dropped++;
  };
  if (session !== undefined) await session;
  client.onEvent = timeDelivery;
  const rooms = start.target === 'roomcast' ? [`bench:g${group}`] : [personal, `g${group}`];
  for (const room of rooms) {
    const ack = (await client.emitWithAck(start.target === 'roomcast' ? 'room:join' : 'join', [start.target === 'roomcast' ? { room } : room], 30_000)) as { ok?: boolean };
    if (ack.ok !== true) throw new Error(`join ${room} refused: ${JSON.stringify(ack)}`);
  }
}

async function grow(upTo: number): Promise<void> {
  const start = config;
  if (!start) throw new Error('grow before start');
  const base = connected;
  const pool = await connectPool(nextIndex, upTo, start.concurrency, (local) => connectOne(start, local), (n) => send({ type: 'progress', connected: base + n }));
  nextIndex = Math.max(nextIndex, upTo);
  connected += pool.connected;
  failed += pool.failed;
  firstError ??= pool.firstError;
  send({ type: 'grown', connected, failed, dropped, ...(firstError !== undefined ? { error: firstError } : {}) });
}

process.on('message', (message: { type: string; upTo?: number }) => {
  if (message.type === 'start') {
    config = message as CapacityStart;
    key = config.jwtSecret !== undefined ? new TextEncoder().encode(config.jwtSecret) : null;
  } else if (message.type === 'grow') {
    grow(message.upTo ?? 0).catch((error: unknown) => send({ type: 'grown', connected, failed, dropped, error: String(error) }));
  } else if (message.type === 'latency') {
    send({ type: 'latency', histogram: latency.toJSON(), received });
    if ((message as { reset?: boolean }).reset === true) {
      latency = new LatencyHistogram();
      received = 0;
    }
  } else if (message.type === 'stop') {
    stopping = true;
    for (const close of closers) close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
