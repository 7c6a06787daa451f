/**
 * A V8 CPU profile of a running server over a window the bench chooses (the idle
 * hold, say), where `--cpu-prof` can only profile a whole life (ramp included).
 * The server is started with `inspectArgs(port)`; `profileWindow` asks its
 * inspector (Chrome DevTools Protocol over a WebSocket, loopback only) to sample
 * for `ms` and returns the profile; `allocationWindow` samples what it allocates.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { HeapProfile } from '../alloc-summary.js';
import type { CpuProfile } from '../profile-summary.js';
import { freePort } from './harness.js';

/** A profile as the inspector returns it: CpuProfile plus its start (µs), for per-second views. */
export type WindowProfile = CpuProfile & { startTime: number };

/** Node flags that open the inspector on a free loopback port; the port is needed to profile later. */
export async function inspectArgs(): Promise<{ port: number; args: string[] }> {
  const port = await freePort();
  return { port, args: [`--inspect=127.0.0.1:${port}`] };
}

interface InspectorTarget {
  webSocketDebuggerUrl: string;
}

/** A Chrome DevTools Protocol session with the process behind `port` (loopback only). */
async function inspectorSession(port: number): Promise<{ call(method: string, params?: Record<string, unknown>): Promise<unknown>; close(): void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as InspectorTarget[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let lastId = 0;
  const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message?: string } };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(`inspector: ${message.error.message ?? 'error'}`));
    else waiter?.resolve(message.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        lastId += 1;
        pending.set(lastId, { resolve, reject });
        socket.send(JSON.stringify({ id: lastId, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Samples the process behind `port` for `ms` (every `intervalUs`) and returns the .cpuprofile object. */
export async function profileWindow(port: number, ms: number, intervalUs = 1000): Promise<WindowProfile> {
  const session = await inspectorSession(port);
  try {
    await session.call('Profiler.enable');
    await session.call('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.call('Profiler.start');
    await new Promise((resolve) => setTimeout(resolve, ms));
    const stopped = (await session.call('Profiler.stop')) as { profile: WindowProfile };
    return stopped.profile;
  } finally {
    session.close();
  }
}

/**
 * Samples what the process behind `port` allocates over `ms` (one sample per `intervalBytes` allocated on
 * average), the objects that minor and major GCs collected included: allocation volume, not what stays.
 */
export async function allocationWindow(port: number, ms: number, intervalBytes = 16384): Promise<HeapProfile> {
  const session = await inspectorSession(port);
  try {
    await session.call('HeapProfiler.enable');
    await session.call('HeapProfiler.startSampling', { samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await new Promise((resolve) => setTimeout(resolve, ms));
    const stopped = (await session.call('HeapProfiler.stopSampling')) as { profile: HeapProfile };
    return stopped.profile;
  } finally {
    session.close();
  }
}

/** Allocation samples of every process behind `ports` over the same `ms` window, kept as `<dir>/<name>-node<N>.heapprofile`. */
export async function allocationNodes(ports: number[], ms: number, dir: string, name: string): Promise<HeapProfile[]> {
  const profiles = await Promise.all(ports.map((port) => allocationWindow(port, ms)));
  mkdirSync(dir, { recursive: true });
  profiles.forEach((profile, n) => writeFileSync(join(dir, `${name}-node${n + 1}.heapprofile`), JSON.stringify(profile)));
  return profiles;
}

/**
 * Samples every process behind `ports` over the same `ms` window and keeps each profile as
 * `<dir>/<name>-node<N>.cpuprofile` (N from 1, in the order of `ports`).
 */
export async function profileNodes(ports: number[], ms: number, dir: string, name: string): Promise<WindowProfile[]> {
  const profiles = await Promise.all(ports.map((port) => profileWindow(port, ms)));
  mkdirSync(dir, { recursive: true });
  profiles.forEach((profile, n) => writeFileSync(join(dir, `${name}-node${n + 1}.cpuprofile`), JSON.stringify(profile)));
  return profiles;
}
