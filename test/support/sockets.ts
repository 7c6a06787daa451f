/**
 * Raw socket.io-client connections typed with the shared maps, for protocol
 * tests that must see exactly what crosses the wire (the SDK is tested separately).
 */
import { io, type Socket } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';
import { TEST_PARSER } from './parser.js';
import type { Ack, ClientToServerEvents, ErrorPayload, Message, ServerToClientEvents } from '../../shared/index.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectOptions {
  namespace?: string;
  transports?: Array<'polling' | 'websocket'>;
  extraHeaders?: Record<string, string>;
  /** Default: ROOMCAST_TEST_PARSER (json unless set to msgpack), matching startGateway(). */
  parser?: 'json' | 'msgpack';
}

function makeSocket(url: string, token: string | undefined, options: ConnectOptions): TestSocket {
  return io(`${url}${options.namespace ?? '/'}`, {
    auth: token === undefined ? {} : { token },
    transports: options.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    ...((options.parser ?? TEST_PARSER) === 'msgpack' ? { parser: msgpackParser } : {}),
  });
}

/** Connects and resolves once the namespace accepted the handshake. */
export function connect(url: string, token: string | undefined, options: ConnectOptions = {}): Promise<TestSocket> {
  const socket = makeSocket(url, token, options);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Connects expecting a refusal; resolves with the connect_error's typed data. */
export function connectRefused(url: string, token: string | undefined, options: ConnectOptions = {}): Promise<{ message: string; data: ErrorPayload | undefined }> {
  const socket = makeSocket(url, token, options);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.close();
      reject(new Error('expected the handshake to be refused'));
    });
    socket.once('connect_error', (error: Error & { data?: ErrorPayload }) => {
      socket.close();
      resolve({ message: error.message, data: error.data });
    });
  });
}

/** Emits a protocol request and resolves with its acknowledgement. */
export function request<E extends keyof ClientToServerEvents>(
  socket: TestSocket,
  event: E,
  payload: Parameters<ClientToServerEvents[E]>[0],
): Promise<Parameters<Parameters<ClientToServerEvents[E]>[1]>[0]> {
  return (socket.timeout(5000) as unknown as { emitWithAck: (event: string, payload: unknown) => Promise<never> }).emitWithAck(event, payload);
}

/** Sends anything, protocol or not, with an ack, and resolves with the ack. */
export function rawRequest(socket: TestSocket, event: string, ...args: unknown[]): Promise<Ack<Record<string, unknown>>> {
  return (socket.timeout(5000) as unknown as { emitWithAck: (event: string, ...args: unknown[]) => Promise<never> }).emitWithAck(event, ...args);
}

/** Collects `message` events of a socket, in arrival order. */
export function collectMessages(socket: TestSocket): Message[] {
  const messages: Message[] = [];
  socket.on('message', (message) => messages.push(message));
  return messages;
}

/** Resolves when `predicate` holds (it may ask a server: a promise), polling briefly; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with the next event of the given name. */
export function nextEvent<E extends keyof ServerToClientEvents>(socket: TestSocket, event: E, timeoutMs = 5000): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    (socket.once as (event: string, listener: (value: never) => void) => void)(event, (value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

export function assertOk<T extends object>(ack: Ack<T>): { ok: true } & T {
  if (!ack.ok) throw new Error(`expected ok, got ${ack.error.code}: ${ack.error.message}`);
  return ack;
}
