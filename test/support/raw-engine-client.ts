/**
 * A raw Engine.IO v4 / Socket.IO v5 client on `ws`, for hostile-input tests:
 * it sends any text or binary frame, malformed or not, records every frame the
 * gateway sends back (decoded where it can be), answers heartbeats, and exposes
 * how the connection ended, so a test can tell "typed error" from "disconnected"
 * from "silence".
 *
 * Wire format (WebSocket transport, one packet per frame):
 *   Engine.IO: `<type><data>`, types 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop;
 *              a binary frame is a binary message.
 *   Socket.IO (inside an Engine.IO message): `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`,
 *              types 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK.
 */
import WebSocket, { type RawData } from 'ws';

export interface EngineOpen {
  sid: string;
  pingInterval: number;
  pingTimeout: number;
  maxPayload: number;
  upgrades: string[];
}

/** A decoded Socket.IO packet received from the gateway. */
export interface SioPacket {
  type: number;
  nsp: string;
  id?: number;
  attachments?: number;
  /** The parsed JSON, when the packet had any and it parsed. */
  data?: unknown;
}

export interface ReceivedFrame {
  /** Index in arrival order. */
  seq: number;
  /** When it arrived (Date.now()). */
  at: number;
  kind: 'text' | 'binary';
  /** The frame as text (binary frames decoded as UTF-8, for stack-trace checks). */
  text: string;
  bytes?: Buffer;
  /** Engine.IO packet type character, for text frames. */
  engineType?: string;
  /** The Socket.IO packet, for text Engine.IO messages that decode. */
  sio?: SioPacket;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when this side closed first (close()), false when the gateway (or the network) did. */
  byClient: boolean;
}

export interface RawClientOptions {
  /** Answer the gateway's pings (`2`) with pongs (`3`); default true. */
  autoPong?: boolean;
  /** How long to wait for the WebSocket and the Engine.IO open packet; default 5000 ms. */
  openTimeoutMs?: number;
  /** Extra query parameters of the handshake URL. */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Source address of the connection (any 127.0.0.x on loopback): per-address limits see another client. */
  localAddress?: string;
}

export type WaitOutcome<T> = { status: 'matched'; value: T } | { status: 'closed'; close: CloseInfo } | { status: 'timeout' };

/** Decodes the Socket.IO part of an Engine.IO message sent by the gateway; null when it does not parse. */
export function decodeSioPacket(text: string): SioPacket | null {
  const type = Number(text.charAt(0));
  if (!Number.isInteger(type) || type < 0 || type > 6 || text.length === 0) return null;
  let i = 1;
  const packet: SioPacket = { type, nsp: '/' };
  if (type === 5 || type === 6) {
    const dash = text.indexOf('-', i);
    if (dash < 0) return null;
    packet.attachments = Number(text.slice(i, dash));
    i = dash + 1;
  }
  if (text.charAt(i) === '/') {
    const comma = text.indexOf(',', i);
    const end = comma < 0 ? text.length : comma;
    packet.nsp = text.slice(i, end);
    i = comma < 0 ? end : end + 1;
  }
  let digits = '';
  while (i < text.length && text.charAt(i) >= '0' && text.charAt(i) <= '9') digits += text.charAt(i++);
  if (digits !== '') packet.id = Number(digits);
  if (i < text.length) {
    try {
      packet.data = JSON.parse(text.slice(i));
    } catch {
      return null;
    }
  }
  return packet;
}

/** Encodes a Socket.IO EVENT (`2`) or BINARY_EVENT (`5`) packet as the Engine.IO message text. */
export function encodeEvent(args: unknown[], options: { id?: number; nsp?: string; attachments?: number } = {}): string {
  const nsp = options.nsp !== undefined && options.nsp !== '/' ? `${options.nsp},` : '';
  const head = options.attachments !== undefined ? `45${options.attachments}-` : '42';
  return `${head}${nsp}${options.id ?? ''}${JSON.stringify(args)}`;
}

/** The placeholder Socket.IO puts where binary attachment `num` goes. */
export function placeholder(num: number): { _placeholder: true; num: number } {
  return { _placeholder: true, num };
}

interface Waiter {
  check(): boolean;
  onClose(close: CloseInfo): void;
}

export class RawEngineClient {
  readonly frames: ReceivedFrame[] = [];
  /** Settles once the WebSocket is closed, whoever closed it. */
  readonly whenClosed: Promise<CloseInfo>;
  private closeInfo: CloseInfo | null = null;
  private clientClosing = false;
  private ackIds = 0;
  private probes = 0;
  private readonly waiters = new Set<Waiter>();
  private resolveClosed!: (close: CloseInfo) => void;

  private constructor(
    private readonly ws: WebSocket,
    readonly open: EngineOpen,
    private readonly autoPong: boolean,
  ) {
    this.whenClosed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.attach();
  }

  /**
   * Opens `ws://<host>:<port>/socket.io/?EIO=4&transport=websocket` and resolves
   * once the Engine.IO open packet arrived. Rejects when the upgrade is refused
   * or the open packet does not come.
   */
  static connect(baseUrl: string, options: RawClientOptions = {}): Promise<RawEngineClient> {
    const url = new URL('/socket.io/', baseUrl.replace(/^http/, 'ws'));
    url.searchParams.set('EIO', '4');
    url.searchParams.set('transport', 'websocket');
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    // No client-side cap: the test decides what is too large, the gateway enforces it.
    const ws = new WebSocket(url, {
      headers: options.headers ?? {},
      maxPayload: 0,
      perMessageDeflate: false,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    const pending: Array<{ data: RawData; isBinary: boolean }> = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('no Engine.IO open packet'));
      }, options.openTimeoutMs ?? 5000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(error);
      };
      ws.on('error', fail);
      ws.on('unexpected-response', (_request, response) => fail(new Error(`handshake refused with HTTP ${response.statusCode ?? '?'}`)));
      ws.on('close', (code) => fail(new Error(`closed (${code}) before the Engine.IO open packet`)));
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          pending.push({ data, isBinary });
          return;
        }
        const text = rawToBuffer(data).toString('utf8');
        if (!text.startsWith('0')) {
          pending.push({ data, isBinary });
          return;
        }
        let open: EngineOpen;
        try {
          open = JSON.parse(text.slice(1)) as EngineOpen;
        } catch {
          fail(new Error(`malformed open packet: ${text.slice(0, 100)}`));
          return;
        }
        clearTimeout(timer);
        ws.removeAllListeners();
        const client = new RawEngineClient(ws, open, options.autoPong ?? true);
        client.record(rawToBuffer(data), false);
        for (const early of pending) client.record(rawToBuffer(early.data), early.isBinary);
        resolve(client);
      });
    });
  }

  private attach(): void {
    this.ws.on('message', (data, isBinary) => this.record(rawToBuffer(data), isBinary));
    this.ws.on('error', () => undefined); // 'close' follows with the code
    this.ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8'), byClient: this.clientClosing };
      for (const waiter of [...this.waiters]) waiter.onClose(this.closeInfo);
      this.waiters.clear();
      this.resolveClosed(this.closeInfo);
    });
  }

  private record(bytes: Buffer, isBinary: boolean): void {
    const frame: ReceivedFrame = { seq: this.frames.length, at: Date.now(), kind: isBinary ? 'binary' : 'text', text: bytes.toString('utf8') };
    if (isBinary) frame.bytes = bytes;
    else {
      frame.engineType = frame.text.charAt(0);
      if (frame.engineType === '2' && this.autoPong) this.sendText(`3${frame.text.slice(1)}`);
      if (frame.engineType === '4') {
        const sio = decodeSioPacket(frame.text.slice(1));
        if (sio !== null) frame.sio = sio;
      }
    }
    this.frames.push(frame);
    for (const waiter of [...this.waiters]) if (waiter.check()) this.waiters.delete(waiter);
  }

  /** How the connection ended, or null while it is open. */
  get closed(): CloseInfo | null {
    return this.closeInfo;
  }

  get isOpen(): boolean {
    return this.closeInfo === null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one text frame as is; false when the connection is no longer open. */
  sendText(text: string): boolean {
    if (!this.isOpen) return false;
    this.ws.send(text, { binary: false });
    return true;
  }

  /** Sends bytes as a text frame, unchecked (e.g. not UTF-8, which the gateway's WebSocket must refuse). */
  sendTextBytes(bytes: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.ws.send(bytes, { binary: false });
    return true;
  }

  /** Sends one binary frame as is; false when the connection is no longer open. */
  sendBinary(bytes: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.ws.send(bytes, { binary: true });
    return true;
  }

  /** Sends a Socket.IO packet (the text after the Engine.IO `4`). */
  sendPacket(sioText: string): boolean {
    return this.sendText(`4${sioText}`);
  }

  nextAckId(): number {
    this.ackIds += 1;
    return this.ackIds;
  }

  /** `42["event",...args]` without an ack id. */
  emit(event: unknown, ...args: unknown[]): boolean {
    return this.sendText(encodeEvent([event, ...args]));
  }

  /** `42<id>["event",...args]`; returns the ack id to wait for. */
  emitWithAckId(event: unknown, ...args: unknown[]): number {
    const id = this.nextAckId();
    this.sendText(encodeEvent([event, ...args], { id }));
    return id;
  }

  /** `45<n>-<id?>[...]` followed by the n binary frames. */
  emitBinary(args: unknown[], attachments: Uint8Array[], id?: number): boolean {
    if (!this.sendText(encodeEvent(args, { attachments: attachments.length, ...(id !== undefined ? { id } : {}) }))) return false;
    for (const attachment of attachments) this.sendBinary(attachment);
    return true;
  }

  /** Connects a namespace with the given auth payload and resolves with the gateway's answer (`40...` or `44...`). */
  async connectNamespace(auth: unknown, nsp = '/', timeoutMs = 5000): Promise<WaitOutcome<SioPacket>> {
    const from = this.frames.length;
    const prefix = nsp === '/' ? '' : `${nsp},`;
    this.sendPacket(`0${prefix}${auth === undefined ? '' : JSON.stringify(auth)}`);
    return this.waitFor(() => this.frames.slice(from).find((f) => f.sio !== undefined && f.sio.nsp === nsp && (f.sio.type === 0 || f.sio.type === 4))?.sio, timeoutMs);
  }

  /** The ACK packet received for `id` (on `nsp`), if any. */
  ackFor(id: number, nsp = '/'): SioPacket | undefined {
    return this.frames.find((f) => f.sio?.type === 3 && f.sio.id === id && f.sio.nsp === nsp)?.sio;
  }

  waitForAck(id: number, timeoutMs = 5000, nsp = '/'): Promise<WaitOutcome<SioPacket>> {
    return this.waitFor(() => this.ackFor(id, nsp), timeoutMs);
  }

  /** Every received EVENT of this name (its first argument), in order. */
  events(name: string, nsp = '/'): unknown[] {
    const found: unknown[] = [];
    for (const frame of this.frames) {
      const sio = frame.sio;
      if (sio?.type === 2 && sio.nsp === nsp && Array.isArray(sio.data) && sio.data[0] === name) found.push(sio.data[1]);
    }
    return found;
  }

  /** Frames received from index `from` on. */
  framesSince(from: number): ReceivedFrame[] {
    return this.frames.slice(from);
  }

  /**
   * A round trip that costs no rate-limit token and changes no state: a CONNECT
   * to a namespace that does not exist, which Socket.IO answers at once with a
   * CONNECT_ERROR. Packets are handled in order, so once the answer is back the
   * gateway has read everything sent before it (though async handlers may still
   * be working). Resolves 'answered', 'closed', or 'timeout'.
   */
  async probe(timeoutMs = 5000): Promise<'answered' | 'closed' | 'timeout'> {
    this.probes += 1;
    const nsp = `/__probe${this.probes}`;
    const from = this.frames.length;
    if (!this.sendPacket(`0${nsp},`)) return this.closeInfo !== null ? 'closed' : 'timeout';
    const outcome = await this.waitFor(() => this.frames.slice(from).some((f) => f.sio?.type === 4 && f.sio.nsp === nsp) || undefined, timeoutMs);
    return outcome.status === 'matched' ? 'answered' : outcome.status;
  }

  /** True when `frame` is the answer to one of this client's probes. */
  static isProbeAnswer(frame: ReceivedFrame): boolean {
    return frame.sio?.type === 4 && frame.sio.nsp.startsWith('/__probe');
  }

  /** Resolves when `select` returns something other than undefined/false, when the connection closes, or after `timeoutMs`. */
  waitFor<T>(select: () => T | undefined | false, timeoutMs = 5000): Promise<WaitOutcome<T>> {
    const now = select();
    if (now !== undefined && now !== false) return Promise.resolve({ status: 'matched', value: now });
    if (this.closeInfo !== null) return Promise.resolve({ status: 'closed', close: this.closeInfo });
    return new Promise((resolve) => {
      const waiter: Waiter = {
        check: () => {
          const value = select();
          if (value === undefined || value === false) return false;
          clearTimeout(timer);
          resolve({ status: 'matched', value });
          return true;
        },
        onClose: (close) => {
          clearTimeout(timer);
          // A last look: the frame that matters may have come with the close.
          const value = select();
          resolve(value !== undefined && value !== false ? { status: 'matched', value } : { status: 'closed', close });
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve({ status: 'timeout' });
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Closes from this side (a clean close, then a terminate if it lingers) and resolves once closed. */
  async close(timeoutMs = 1000): Promise<CloseInfo> {
    if (this.closeInfo !== null) return this.closeInfo;
    this.clientClosing = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), timeoutMs);
    const info = await this.whenClosed;
    clearTimeout(timer);
    return info;
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.clientClosing = true;
    this.ws.terminate();
  }
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
