/**
 * The client's options and their translation into socket.io-client options.
 * Reconnection settings are passed through unchanged: backoff with jitter is
 * socket.io-client's own, and the SDK's own reconnects reuse the same numbers.
 */
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { DEFAULT_NAMESPACE, DEFAULT_REORDER_WINDOW_MS } from '../shared/constants.js';
import type { BackoffOptions } from './backoff.js';
import type { OutboxOptions } from './outbox.js';

export type TokenProvider = string | (() => string | Promise<string>);

/**
 * A Socket.IO parser, as socket.io-client's `parser` option takes it: an object with an
 * Encoder and a Decoder class. The MessagePack one is `import msgpackParser from
 * '@roomcast/client/msgpack'` (socket.io-msgpack-parser, an optional peer dependency).
 */
export interface RoomcastParser {
  Encoder: new () => object;
  Decoder: new () => object;
}

export interface RoomcastClientOptions {
  /** Socket.IO namespace, e.g. '/' (members publish) or '/live'. Default '/'. */
  namespace?: string;
  /**
   * The JWT, or a function called on every (re)connect so each handshake carries a fresh token.
   * `''`: no token, a cookie session the gateway's connect proxy (CONNECT_PROXY_URL) admits.
   */
  token: TokenProvider;
  /** Returns a new token; called shortly before the current one expires (sent as auth:refresh) and after TOKEN_EXPIRED. */
  refreshToken?: () => Promise<string>;
  /** How long a later offset waits for earlier ones before history is asked. Default 250 ms. */
  reorderWindowMs?: number;
  /** Largest page of one history read when filling a gap. Default 100. */
  historyPageSize?: number;
  /**
   * Publications made while offline wait here and are sent on reconnect, in order,
   * each with an idempotency key made at enqueue. Default `{ maxEntries: 100, ttlMs: 60000 }`;
   * `false`: no outbox (a publish while offline waits for the rejoin up to ackTimeout, then fails).
   */
  outbox?: OutboxOptions | false;
  /**
   * Must match the gateway's PARSER. Default 'json'. For PARSER=msgpack pass the parser:
   * `import msgpackParser from '@roomcast/client/msgpack'` (kept out of the main entry, so
   * apps on JSON do not bundle it), then `parser: msgpackParser`.
   */
  parser?: 'json' | RoomcastParser;
  transports?: ManagerOptions['transports'];
  /** Default true: connect from the constructor. */
  autoConnect?: boolean;
  reconnection?: boolean;
  reconnectionDelay?: number;
  reconnectionDelayMax?: number;
  randomizationFactor?: number;
  reconnectionAttempts?: number;
  /** Handshake timeout in ms (socket.io-client `timeout`). */
  timeout?: number;
  /** How long every request waits for its acknowledgement. Default 10 000 ms. */
  ackTimeout?: number;
  /** Headers of the handshake request; Node only (browsers ignore them for WebSocket). */
  extraHeaders?: Record<string, string>;
  /** Escape hatch: merged last into the socket.io-client options. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/** The options after defaults, as the client uses them. */
export interface ResolvedOptions {
  namespace: string;
  reorderWindowMs: number;
  historyPageSize: number | undefined;
  ackTimeout: number;
  reconnection: boolean;
  reconnectionAttempts: number;
  backoff: BackoffOptions;
}

export function resolveOptions(options: RoomcastClientOptions): ResolvedOptions {
  checkParser(options.parser);
  // The same defaults as socket.io-client, so its reconnects and ours behave alike.
  const fromSocket = options.socketOptions ?? {};
  return {
    namespace: options.namespace ?? DEFAULT_NAMESPACE,
    reorderWindowMs: options.reorderWindowMs ?? DEFAULT_REORDER_WINDOW_MS,
    historyPageSize: options.historyPageSize,
    ackTimeout: fromSocket.ackTimeout ?? options.ackTimeout ?? DEFAULT_ACK_TIMEOUT_MS,
    reconnection: fromSocket.reconnection ?? options.reconnection ?? true,
    reconnectionAttempts: fromSocket.reconnectionAttempts ?? options.reconnectionAttempts ?? Number.POSITIVE_INFINITY,
    backoff: {
      min: fromSocket.reconnectionDelay ?? options.reconnectionDelay ?? 1000,
      max: fromSocket.reconnectionDelayMax ?? options.reconnectionDelayMax ?? 5000,
      jitter: fromSocket.randomizationFactor ?? options.randomizationFactor ?? 0.5,
    },
  };
}

/** Refuses a parser the option cannot mean, e.g. 'msgpack' (a name: the option takes the parser object itself). */
function checkParser(parser: unknown): void {
  if (parser === undefined || parser === 'json') return;
  if (typeof parser === 'object' && parser !== null && typeof (parser as Partial<RoomcastParser>).Encoder === 'function' && typeof (parser as Partial<RoomcastParser>).Decoder === 'function') return;
  throw new TypeError(
    `parser: expected 'json' or a parser object such as msgpackParser (import msgpackParser from '@roomcast/client/msgpack'), got ${typeof parser === 'string' ? `'${parser}'` : typeof parser}`,
  );
}

/** Only the options that were given, so socket.io-client's own defaults apply to the rest. */
function defined<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export function socketIoOptions(
  options: RoomcastClientOptions,
  resolved: ResolvedOptions,
  auth: SocketOptions['auth'],
): Partial<ManagerOptions & SocketOptions> {
  return {
    ...defined({
      transports: options.transports,
      autoConnect: options.autoConnect ?? true,
      reconnection: options.reconnection,
      reconnectionDelay: options.reconnectionDelay,
      reconnectionDelayMax: options.reconnectionDelayMax,
      randomizationFactor: options.randomizationFactor,
      reconnectionAttempts: options.reconnectionAttempts,
      timeout: options.timeout,
      extraHeaders: options.extraHeaders,
    }),
    ackTimeout: resolved.ackTimeout,
    ...(options.parser !== undefined && options.parser !== 'json' ? { parser: options.parser } : {}),
    auth,
    ...options.socketOptions,
  };
}
