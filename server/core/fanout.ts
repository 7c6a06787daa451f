/**
 * How a stored publication reaches its room's members: the transport that
 * holds the connections (Socket.IO, whose adapter carries it to every node;
 * SSE streams hear it from the same adapter). The Publisher is built with one,
 * so a publication has a single path: store, then fan out.
 */
import type { Message } from '../../shared/index.js';

export interface Fanout {
  /** Sends one stored publication to the members of `message.room` on every node. */
  broadcast(namespace: string, message: Message): void;
}
