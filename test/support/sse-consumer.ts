/**
 * A long-lived Server-Sent Events consumer for tests, the way an app would keep
 * an EventSource open: Node's fetch with a streaming body, parsed as the
 * EventSource specification says (`id`, `event`, `data`, `retry`, `:`
 * comments, a blank line dispatches), and reconnected when the stream ends
 * (drain, node killed, network cut) with the `Last-Event-ID` header of the last
 * event that carried an id, after the server's `retry:` delay.
 *
 * Unlike a browser EventSource it also comes back after an error status (a 503
 * from a draining node, a 502 from a proxy with no node up): it retries with a
 * short backoff, as an app wrapping EventSource would, and reports each attempt.
 * (test/support/sse.ts is the one-shot reader for protocol tests.)
 */

export interface SseConsumerEvent {
  /** The event's id field (the last one of the event), or null without one. */
  id: string | null;
  event: string;
  data: string;
}

export type SseEnd =
  /** The server ended the response. */
  | { kind: 'ended' }
  /** The connection failed or was cut (by the network, the server dying, or cut()). */
  | { kind: 'error'; message: string }
  /** The server answered with another status than 200. */
  | { kind: 'refused'; status: number; body: string };

export interface SseConsumerOptions {
  /** The full stream URL (`/sse?room=...&token=...`). */
  url: string;
  headers?: Record<string, string>;
  /** Where to resume from at the first connection (sent as `Last-Event-ID`). */
  lastEventId?: string | null;
  onEvent(event: SseConsumerEvent): void;
  /** A connection attempt got its 200 answer (`resumed`: it sent a Last-Event-ID). */
  onOpen?(info: { attempt: number; resumed: boolean }): void;
  /** A connection ended or failed; a reconnect follows after `reconnectInMs` unless close() was called. */
  onEnd?(end: SseEnd & { reconnectInMs: number; deliberate: boolean }): void;
  /** The longest wait before reconnecting after a stream ended, whatever `retry:` said. Default 3000. */
  maxRetryMs?: number;
  /** Backoff after a failed attempt (no 200): first delay, doubled up to maxRetryMs. Default 250. */
  failureDelayMs?: number;
}

export class SseConsumer {
  private readonly options: SseConsumerOptions;
  private controller: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private open = false;
  private retryMs: number;
  private failures = 0;
  private attempts = 0;
  /** Set by cut()/reopen(): the next end is ours, reconnect after this delay. */
  private nextReconnectMs: number | null = null;
  private current: Promise<void> | null = null;
  /** The last dispatched event's id: what a reconnect sends as Last-Event-ID. */
  lastEventId: string | null;

  constructor(options: SseConsumerOptions) {
    this.options = options;
    this.lastEventId = options.lastEventId ?? null;
    this.retryMs = options.maxRetryMs ?? 3_000;
  }

  /** Whether a stream is open (200 received, not ended). */
  get isOpen(): boolean {
    return this.open;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Starts the first connection (and the reconnects after it). */
  start(): void {
    if (this.closed || this.current !== null || this.timer !== null) return;
    this.connect();
  }

  /** Aborts the current connection, as a network cut would, and reconnects after `reconnectInMs` with Last-Event-ID. */
  cut(reconnectInMs = 100): void {
    if (this.closed) return;
    this.nextReconnectMs = reconnectInMs;
    if (this.controller !== null) this.controller.abort();
    else if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.schedule(reconnectInMs);
    }
  }

  /** A reconnect waiting for its delay (after cut(), an end or a failure) happens now. */
  reconnectNow(): void {
    if (this.closed || this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** Stops for good: aborts the connection and cancels any reconnect. Resolves once the reader has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort();
    await this.current;
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private connect(): void {
    if (this.closed) return;
    const controller = new AbortController();
    this.controller = controller;
    this.attempts += 1;
    const attempt = this.attempts;
    this.current = this.run(controller, attempt).finally(() => {
      if (this.controller === controller) this.controller = null;
      this.current = null;
    });
  }

  private async run(controller: AbortController, attempt: number): Promise<void> {
    const resumed = this.lastEventId !== null;
    const headers: Record<string, string> = { accept: 'text/event-stream', ...this.options.headers };
    if (this.lastEventId !== null) headers['last-event-id'] = this.lastEventId;
    let end: SseEnd;
    let opened = false;
    try {
      const response = await fetch(this.options.url, { headers, signal: controller.signal });
      if (response.status !== 200 || response.body === null) {
        const body = await response.text().catch(() => '');
        end = { kind: 'refused', status: response.status, body: body.slice(0, 300) };
      } else {
        opened = true;
        this.open = true;
        this.failures = 0;
        this.options.onOpen?.({ attempt, resumed });
        end = await this.read(response.body);
      }
    } catch (error) {
      end = { kind: 'error', message: describe(error) };
    }
    this.open = false;
    if (this.closed) {
      this.options.onEnd?.({ ...end, reconnectInMs: -1, deliberate: true });
      return;
    }
    let delay: number;
    const deliberate = this.nextReconnectMs !== null;
    if (this.nextReconnectMs !== null) {
      delay = this.nextReconnectMs;
      this.nextReconnectMs = null;
    } else if (opened) {
      delay = Math.min(this.retryMs, this.options.maxRetryMs ?? 3_000);
    } else {
      this.failures += 1;
      delay = Math.min((this.options.failureDelayMs ?? 250) * 2 ** Math.min(this.failures - 1, 6), this.options.maxRetryMs ?? 3_000);
    }
    this.options.onEnd?.({ ...end, reconnectInMs: delay, deliberate });
    this.schedule(delay);
  }

  /** Reads and dispatches events until the body ends (resolves) or fails (resolves with the error). */
  private async read(body: NonNullable<Response['body']>): Promise<SseEnd> {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let idBuffer: string | null = this.lastEventId;
    let event = '';
    let data: string[] = [];
    const line = (text: string): void => {
      if (text === '') {
        // Dispatch: the last event id is what the id buffer holds, event or not.
        this.lastEventId = idBuffer;
        if (data.length > 0 && !this.closed) this.options.onEvent({ id: idBuffer, event: event === '' ? 'message' : event, data: data.join('\n') });
        event = '';
        data = [];
        return;
      }
      if (text.startsWith(':')) return;
      const colon = text.indexOf(':');
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? '' : text.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id' && !value.includes('\u0000')) idBuffer = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { kind: 'ended' };
        buffer += value;
        let end: number;
        while ((end = buffer.search(/\r\n|\n|\r/)) >= 0) {
          // A lone \r at the very end may be the first half of \r\n: wait for more.
          if (buffer[end] === '\r' && end === buffer.length - 1) break;
          const newline = buffer.startsWith('\r\n', end) ? 2 : 1;
          line(buffer.slice(0, end));
          buffer = buffer.slice(end + newline);
        }
      }
    } catch (error) {
      return { kind: 'error', message: describe(error) };
    } finally {
      reader.releaseLock();
    }
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'AbortError') return 'aborted';
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 3 && cause instanceof Error; depth += 1) {
    const code = (cause as Error & { code?: unknown }).code;
    if (typeof code === 'string') return `${error.message} (${code})`;
    cause = cause.cause;
  }
  return error.message;
}
