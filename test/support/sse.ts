/**
 * A Server-Sent Events consumer for tests: Node's fetch with a streaming body
 * reader, parsed the way the EventSource specification does (fields `id`,
 * `event`, `data`, `retry`; `:` comments; a blank line dispatches).
 */

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
  /** When the event was parsed, in ms (performance.now()). */
  at: number;
}

export interface SseStream {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  retries: number[];
  /** True once the server ended the response (or it failed). */
  ended: boolean;
  /** Resolves with the next event matching `predicate` (already received ones included, each taken once). */
  next(predicate?: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves once the response ended. */
  waitEnded(timeoutMs?: number): Promise<void>;
  /** Resolves once `count` comments arrived. */
  waitComments(count: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export interface RefusedStream {
  status: number;
  contentType: string | null;
  body: { ok: boolean; error: { code: string; message: string; retryable: boolean } };
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream | RefusedStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (response.status !== 200 || response.body === null) {
    return { status: response.status, contentType: response.headers.get('content-type'), body: (await response.json()) as RefusedStream['body'] };
  }
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  let taken = 0;
  const stream: SseStream = {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    retries,
    ended: false,
    next: (predicate = () => true, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (let index = taken; index < events.length; index += 1) {
            const event = events[index] as SseEvent;
            if (predicate(event)) {
              taken = index + 1;
              resolve(event);
              return true;
            }
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching SSE event within ${timeoutMs} ms; received: ${JSON.stringify(events.slice(taken).map((event) => [event.id, event.event]))}`));
        }, timeoutMs);
        const waiter = (): void => {
          if (check()) {
            clearTimeout(timer);
            waiters.delete(waiter);
          }
        };
        waiters.add(waiter);
      }),
    waitEnded: (timeoutMs = 5000) => until(() => stream.ended, timeoutMs, 'the stream to end'),
    waitComments: (count, timeoutMs = 5000) => until(() => comments.length >= count, timeoutMs, `${count} comments`),
    close: () => controller.abort(),
  };
  function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve();
      };
      waiters.add(waiter);
    });
  }

  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let id: string | null = null;
  let event = '';
  let data: string[] = [];
  const line = (text: string): void => {
    if (text === '') {
      if (data.length > 0) events.push({ id, event: event === '' ? 'message' : event, data: data.join('\n'), at: performance.now() });
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) {
      comments.push(text.slice(1).trim());
      return;
    }
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) retries.push(Number(value));
  };
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.search(/\r\n|\n|\r/)) >= 0) {
          const newline = buffer.startsWith('\r\n', end) ? 2 : 1;
          line(buffer.slice(0, end));
          buffer = buffer.slice(end + newline);
        }
        notify();
      }
    } catch {
      // Aborted by close(), or the connection was cut.
    } finally {
      stream.ended = true;
      notify();
    }
  })();
  return stream;
}

export function isStream(value: SseStream | RefusedStream): value is SseStream {
  return 'events' in value;
}

/** Opens a stream that must be accepted. */
export async function openAccepted(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const stream = await openSse(url, headers);
  if (!isStream(stream)) throw new Error(`SSE refused: ${stream.status} ${JSON.stringify(stream.body)}`);
  return stream;
}

/** Opens a stream that must be refused. */
export async function openRefused(url: string, headers: Record<string, string> = {}): Promise<RefusedStream> {
  const stream = await openSse(url, headers);
  if (isStream(stream)) {
    stream.close();
    throw new Error(`SSE accepted (${stream.status}) but a refusal was expected`);
  }
  return stream;
}
