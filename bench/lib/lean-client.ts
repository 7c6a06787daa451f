/**
 * Lean load-generator clients: many connections per process, no socket.io-client.
 *
 * - LeanSioClient speaks Engine.IO v4 / Socket.IO v5 over `ws` directly
 *   (WebSocket transport only, one packet per frame, JSON parser):
 *   Engine.IO `0` open, `2` ping -> `3` pong, `4` message;
 *   Socket.IO `0` CONNECT (`40{"token":..}` -> `40{"sid":..}`), `2` EVENT, `3` ACK, `4` CONNECT_ERROR.
 * - BareWsClient speaks the bare-ws baseline protocol (JSON frames).
 * - LatencyHistogram is the shared latency bookkeeping (mergeable across processes).
 */
import WebSocket, { type RawData } from 'ws';

export interface LeanClientOptions {
  /** Source address to bind (127.0.0.x), so ephemeral ports do not run out. */
  localAddress?: string;
  /** Connect + handshake timeout, default 10 s. */
  timeoutMs?: number;
  /** LeanSioClient: its onEvent from the start, so an event sent right after the CONNECT (`session`) is not missed. */
  onEvent?: RawEventHandler;
}

export type RawEventHandler = (packet: string) => void;

/** Wall clock comparable across processes on one machine, in ms. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Reads the number following `"key":` in a JSON text without parsing it all; NaN when absent. */
export function numberAfter(text: string, key: string, from = 0): number {
  const at = text.indexOf(`"${key}":`, from);
  if (at < 0) return Number.NaN;
  let i = at + key.length + 3;
  const start = i;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // digits, '.', '-', '+', 'e'
    if (!((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43 || c === 101 || c === 69)) break;
  }
  return Number(text.slice(start, i));
}

function wsUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/^http/, 'ws').replace(/\/$/, '') + path;
}

interface PendingAck {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class LeanSioClient {
  private nextAckId = 0;
  private readonly acks = new Map<number, PendingAck>();
  /** Called with the Socket.IO packet text (after the Engine.IO `4`) of every EVENT of the namespace `/`. */
  onEvent: RawEventHandler | null = null;
  onClose: ((code: number) => void) | null = null;
  /** Called on every Engine.IO ping from the server (before the pong goes out), e.g. to time heartbeats. */
  onPing: (() => void) | null = null;
  closed = false;

  private constructor(private readonly ws: WebSocket) {}

  /** Opens the WebSocket, waits for the Engine.IO open packet, connects the namespace `/` with `auth`. */
  static connect(baseUrl: string, auth: Record<string, unknown> | null, options: LeanClientOptions = {}): Promise<LeanSioClient> {
    const ws = new WebSocket(wsUrl(baseUrl, '/socket.io/?EIO=4&transport=websocket'), {
      perMessageDeflate: false,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    const client = new LeanSioClient(ws);
    client.onEvent = options.onEvent ?? null;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error('Socket.IO connect timeout')), options.timeoutMs ?? 10_000);
      ws.on('error', (error) => fail(error));
      ws.on('close', (code) => {
        client.closed = true;
        for (const ack of client.acks.values()) ack.reject(new Error(`closed (${code})`));
        client.acks.clear();
        fail(new Error(`closed before connect (${code})`));
        client.onClose?.(code);
      });
      ws.on('message', (raw: RawData, isBinary: boolean) => {
        if (isBinary) return;
        const text = raw.toString();
        const engineType = text.charCodeAt(0);
        if (engineType === 52 /* 4 message */) {
          const sioType = text.charCodeAt(1);
          if (sioType === 50 /* 2 EVENT */) {
            client.onEvent?.(text.slice(1));
          } else if (sioType === 51 /* 3 ACK */) {
            client.handleAck(text);
          } else if (sioType === 48 /* 0 CONNECT */) {
            if (!settled) {
              settled = true;
              clearTimeout(timer);
              resolve(client);
            }
          } else if (sioType === 52 /* 4 CONNECT_ERROR */) {
            fail(new Error(`CONNECT_ERROR ${text.slice(2)}`));
          }
        } else if (engineType === 50 /* 2 ping */) {
          client.onPing?.();
          ws.send('3');
        } else if (engineType === 48 /* 0 open */) {
          ws.send(auth === null ? '40' : `40${JSON.stringify(auth)}`);
        }
      });
    });
  }

  private handleAck(text: string): void {
    let i = 2;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    const id = Number(text.slice(2, i));
    const pending = this.acks.get(id);
    if (!pending) return;
    this.acks.delete(id);
    try {
      const args = JSON.parse(text.slice(i)) as unknown[];
      pending.resolve(args[0]);
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  /** Emits `event` with `args`, without an ack. */
  emit(event: string, ...args: unknown[]): void {
    this.ws.send(`42${JSON.stringify([event, ...args])}`);
  }

  /** Emits `event` with an ack id; resolves with the first ack argument. */
  emitWithAck(event: string, args: unknown[], timeoutMs = 10_000): Promise<unknown> {
    const id = this.nextAckId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`ack timeout for ${event}`));
      }, timeoutMs);
      this.acks.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.ws.send(`42${id}${JSON.stringify([event, ...args])}`);
    });
  }

  /** Drops the connection at once (a TCP reset): a client that crashes or loses its network. */
  close(): void {
    this.ws.terminate();
  }

  /**
   * Leaves the way the SDK does when it moves off a draining node (socket.disconnect(): a Socket.IO
   * DISCONNECT, then a WebSocket close frame) and reports the close at once, as the SDK reconnects
   * without waiting for the server's closing frame.
   */
  disconnect(): void {
    if (this.closed) return;
    this.ws.send('41');
    this.ws.close(1000);
    this.closed = true;
    // socket.io-client drops what arrives for a socket it disconnected: so does this one.
    this.onEvent = null;
    for (const ack of this.acks.values()) ack.reject(new Error('disconnected'));
    this.acks.clear();
    const onClose = this.onClose;
    this.onClose = null;
    onClose?.(1000);
  }
}

/** Client of bench/baselines/bare-ws-server.ts: `{"t":"join","room"}` -> `{"t":"joined","room"}`; every other frame goes to onFrame. */
export class BareWsClient {
  onFrame: ((text: string) => void) | null = null;
  private joinWaiters = new Map<string, () => void>();

  private constructor(private readonly ws: WebSocket) {}

  static connect(baseUrl: string, options: LeanClientOptions = {}): Promise<BareWsClient> {
    const ws = new WebSocket(wsUrl(baseUrl, '/'), {
      perMessageDeflate: false,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    const client = new BareWsClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('bare ws connect timeout'));
      }, options.timeoutMs ?? 10_000);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      ws.on('message', (raw: RawData) => {
        const text = raw.toString();
        if (text.startsWith('{"t":"joined"')) {
          const room = (JSON.parse(text) as { room: string }).room;
          client.joinWaiters.get(room)?.();
          client.joinWaiters.delete(room);
          return;
        }
        client.onFrame?.(text);
      });
    });
  }

  join(room: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('join timeout')), timeoutMs);
      this.joinWaiters.set(room, () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.send(JSON.stringify({ t: 'join', room }));
    });
  }

  publish(room: string, data: unknown): void {
    this.ws.send(JSON.stringify({ t: 'pub', room, data }));
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * Latency histogram: 0.05 ms buckets up to 100 ms, then 1 ms buckets up to 10 s
 * (everything above lands in the last bucket; max is exact).
 */
export class LatencyHistogram {
  static readonly FINE = 2000;
  static readonly SIZE = 2000 + 9900 + 1;
  counts = new Uint32Array(LatencyHistogram.SIZE);
  total = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    const index = v < 100 ? Math.floor(v * 20) : Math.min(LatencyHistogram.SIZE - 1, LatencyHistogram.FINE + Math.floor(v - 100));
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Upper edge of the bucket holding quantile q (0..1), in ms. */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const target = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= target) return Math.min(this.max, i < LatencyHistogram.FINE ? (i + 1) / 20 : 100 + (i - LatencyHistogram.FINE + 1));
    }
    return this.max;
  }

  /** Sparse form for IPC. */
  toJSON(): { buckets: Array<[number, number]>; total: number; max: number; sum: number } {
    const buckets: Array<[number, number]> = [];
    this.counts.forEach((count, index) => {
      if (count > 0) buckets.push([index, count]);
    });
    return { buckets, total: this.total, max: this.max, sum: this.sum };
  }

  merge(other: { buckets: Array<[number, number]>; total: number; max: number; sum: number }): void {
    for (const [index, count] of other.buckets) this.counts[index] = (this.counts[index] ?? 0) + count;
    this.total += other.total;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }
}
