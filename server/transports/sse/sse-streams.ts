/**
 * The open SSE streams of this node: counted as connections, told to move on a
 * drain, closed with the node.
 */
import { planDrain } from '../../core/drain-plan.js';

/** What the registry needs of a stream: to end it, optionally after a last piece of text. */
export interface StreamEnd {
  end(last?: string): void;
}


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
   * Drain: each stream gets `retry:` (its reconnection delay, spread over the
   * drain window like sockets', see core/drain-plan.ts)
   * and `event: server:draining`, and is closed now; EventSource reconnects
   * after that delay with Last-Event-ID, through the proxy to another node.
   */
  drain(drainTimeoutMs: number): void {
    const streams = [...this.open];
    const { delays } = planDrain(streams.length, drainTimeoutMs);
    streams.forEach((stream, index) => {
      // At least 1 ms: `retry: 0` would have EventSource come straight back to this node.
      const reconnectInMs = Math.max(1, delays[index] as number);
      stream.end(`retry: ${reconnectInMs}\nevent: server:draining\ndata: ${JSON.stringify({ reconnectInMs })}\n\n`);
    });
  }

  closeAll(): void {
    for (const stream of [...this.open]) stream.end();
  }
}
