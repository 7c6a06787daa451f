/**
 * A raw socket that listens for `session` before it connects: the gateway sends
 * `session` right after the CONNECT, often in the same read, so a listener added
 * once connect() resolved would miss it.
 */
import { io } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';
import type { ErrorPayload, SessionEvent } from '../../shared/index.js';
import { TEST_PARSER } from './parser.js';
import type { TestSocket } from './sockets.js';

export interface SessionSocket {
  socket: TestSocket;
  /** The connection's `session` event. */
  session: Promise<SessionEvent>;
}

export function connectWithSession(url: string, token: string | undefined, options: { namespace?: string; extraHeaders?: Record<string, string> } = {}): Promise<SessionSocket> {
  const socket: TestSocket = io(`${url}${options.namespace ?? '/'}`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    ...(TEST_PARSER === 'msgpack' ? { parser: msgpackParser } : {}),
  });
  const session = new Promise<SessionEvent>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no session event within 5000 ms')), 5000);
    socket.once('session', (event) => {
      clearTimeout(timer);
      resolve(event);
    });
    socket.once('disconnect', () => clearTimeout(timer));
  });
  session.catch(() => undefined);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, session }));
    socket.once('connect_error', (error: Error & { data?: ErrorPayload }) => {
      socket.close();
      reject(error);
    });
  });
}
