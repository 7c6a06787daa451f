/**
 * A V8 CPU profile of a running server over a window the bench chooses (the idle
 * hold, say), where `--cpu-prof` can only profile a whole life (ramp included).
 * The server is started with `inspectArgs(port)`; `profileWindow` asks its
 * inspector (Chrome DevTools Protocol over a WebSocket, loopback only) to sample
 * for `ms` and returns the profile.
 */
import WebSocket from 'ws';
import { freePort } from './harness.js';

/** Node flags that open the inspector on a free loopback port; the port is needed to profile later. */
export async function inspectArgs(): Promise<{ port: number; args: string[] }> {
  const port = await freePort();
  return { port, args: [`--inspect=127.0.0.1:${port}`] };
}

interface InspectorTarget {
  webSocketDebuggerUrl: string;
}

/** Samples the process behind `port` for `ms` (every `intervalUs`) and returns the .cpuprofile object. */
export async function profileWindow(port: number, ms: number, intervalUs = 1000): Promise<unknown> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as InspectorTarget[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let lastId = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
    if (message.id !== undefined) pending.delete(message.id);
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve) => {
      lastId += 1;
      pending.set(lastId, resolve);
      socket.send(JSON.stringify({ id: lastId, method, params }));
    });
  try {
    await call('Profiler.enable');
    await call('Profiler.setSamplingInterval', { interval: intervalUs });
    await call('Profiler.start');
    await new Promise((resolve) => setTimeout(resolve, ms));
    const stopped = (await call('Profiler.stop')) as { profile: unknown };
    return stopped.profile;
  } finally {
    socket.close();
  }
}
