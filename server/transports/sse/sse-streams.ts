/**
 * The open SSE streams of this node: counted as connections, told to move on a
 * drain, closed with the node, and indexed by user so that a user command
 * (core/user-commands.ts: disconnect, leave a room) reaches that user's streams.
 */
import type { ErrorPayload, RoomLeftEvent } from '../../../shared/index.js';
import { planDrain } from '../../core/drain-plan.js';
import type { LocalUserConnections } from '../../core/user-commands.js';

/** What the registry needs of a stream: to end it, optionally after a last piece of text. */
export interface StreamEnd {
  end(last?: string): void;
}

/** Whose stream it is, and of which room. */
export interface StreamOwner {
  user: string;
  namespace: string;
  room: string;
}

/** An SSE event frame (no id: it is not a position in the room's stream). */
const frame = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export class SseStreams implements LocalUserConnections {
  private readonly open = new Map<StreamEnd, StreamOwner>();
  private readonly byUser = new Map<string, Set<StreamEnd>>();

  get size(): number {
    return this.open.size;
  }

  add(stream: StreamEnd, owner: StreamOwner): void {
    this.open.set(stream, owner);
    let streams = this.byUser.get(owner.user);
    if (streams === undefined) {
      streams = new Set();
      this.byUser.set(owner.user, streams);
    }
    streams.add(stream);
  }

  delete(stream: StreamEnd): void {
    const owner = this.open.get(stream);
    if (owner === undefined) return;
    this.open.delete(stream);
    const streams = this.byUser.get(owner.user);
    streams?.delete(stream);
    if (streams?.size === 0) this.byUser.delete(owner.user);
  }

  /** Each stream of the user gets `event: protocol:error` and is closed. */
  disconnectUser(user: string, error: ErrorPayload): void {
    for (const stream of [...(this.byUser.get(user) ?? [])]) stream.end(frame('protocol:error', error));
  }

  /**
   * Each stream of the user on that room gets `event: room:left` and is closed (a stream is one
   * room). EventSource reconnects by itself: a consumer that must stay out is refused by its
   * token's grant, which the backend narrows; the event tells the page to stop.
   */
  leaveRoom(user: string, namespace: string, room: string): void {
    for (const stream of [...(this.byUser.get(user) ?? [])]) {
      const owner = this.open.get(stream);
      if (owner?.namespace === namespace && owner.room === room) stream.end(frame('room:left', { room, reason: 'api' } satisfies RoomLeftEvent));
    }
  }

  /**
   * Drain: each stream gets `retry:` (its reconnection delay, spread over the
   * drain window like sockets', see core/drain-plan.ts)
   * and `event: server:draining`, and is closed now; EventSource reconnects
   * after that delay with Last-Event-ID, through the proxy to another node.
   */
  drain(drainTimeoutMs: number): void {
    const streams = [...this.open.keys()];
    const { delays } = planDrain(streams.length, drainTimeoutMs);
    streams.forEach((stream, index) => {
      // At least 1 ms: `retry: 0` would have EventSource come straight back to this node.
      const reconnectInMs = Math.max(1, delays[index] as number);
      stream.end(`retry: ${reconnectInMs}\nevent: server:draining\ndata: ${JSON.stringify({ reconnectInMs })}\n\n`);
    });
  }

  closeAll(): void {
    for (const stream of [...this.open.keys()]) stream.end();
  }
}
