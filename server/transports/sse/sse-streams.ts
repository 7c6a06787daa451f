/**
 * The open SSE streams of this node: counted as connections, told to move on a
 * drain, closed with the node.
 */

/** What the registry needs of a stream: to end it, optionally after a last piece of text. */
export interface StreamEnd {
  end(last?: string): void;
}

/** Share of DRAIN_TIMEOUT_MS over which drained streams are told to come back (as sockets: see realtime/drain.ts). */
const DRAIN_SPREAD_SHARE = 0.6;

export class SseStreams {
  private readonly open = new Set<StreamEnd>();

  get size(): number {
    return this.open.size;
  }

  add(stream: StreamEnd): void {
    this.open.add(stream);
  }

  delete(stream: StreamEnd): void {
    this.open.delete(stream);
  }

  /**
   * Drain: each stream gets `retry:` (its reconnection delay, spread evenly over
   * the first 60% of the drain window, so the other nodes are not hit at once)
   * and `event: server:draining`, and is closed now; EventSource reconnects
   * after that delay with Last-Event-ID, through the proxy to another node.
   */
  drain(drainTimeoutMs: number): void {
    const streams = [...this.open];
    const spreadMs = Math.floor(drainTimeoutMs * DRAIN_SPREAD_SHARE);
    streams.forEach((stream, index) => {
      const reconnectInMs = Math.max(1, Math.floor((index / Math.max(streams.length, 1)) * spreadMs));
      stream.end(`retry: ${reconnectInMs}\nevent: server:draining\ndata: ${JSON.stringify({ reconnectInMs })}\n\n`);
    });
  }

  closeAll(): void {
    for (const stream of [...this.open]) stream.end();
  }
}
