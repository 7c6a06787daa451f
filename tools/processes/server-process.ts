/**
 * A long-running server binary (redis-server, nginx) started by a test: its PID,
 * its output, a promise of its exit, and a stop that escalates to SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { track, untrack } from './reaper.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  pid: number;
  process: ChildProcess;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<Exit>;
  running(): boolean;
  /** The last few KB of stdout and stderr, for error messages. */
  output(): string;
  /** Sends `signal`; after `timeoutMs` without exit, SIGKILL. Resolves on exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

const OUTPUT_KEPT = 8_192;

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Start the process in its own process group and signal the group, so its children (nginx workers) go too. */
  group?: boolean;
}

export function spawnServer(command: string, args: readonly string[], options: SpawnOptions = {}): ServerProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  let output = '';
  const keep = (chunk: string): void => {
    output = (output + chunk).slice(-OUTPUT_KEPT);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);

  let exitInfo: Exit | null = null;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      if (child.pid !== undefined) untrack(child.pid);
      resolve(exitInfo);
    });
    child.once('error', (error) => {
      // Spawning failed (ENOENT): there will be no 'exit'.
      keep(`${command}: ${error.message}\n`);
      exitInfo ??= { code: null, signal: null };
      resolve(exitInfo);
    });
  });
  if (child.pid !== undefined) track(child.pid, { group: options.group ?? false });

  const signal = (name: NodeJS.Signals): void => {
    if (exitInfo !== null || child.pid === undefined) return;
    try {
      process.kill(options.group ? -child.pid : child.pid, name);
    } catch {
      // Exited in between.
    }
  };

  return {
    pid: child.pid ?? -1,
    process: child,
    exited,
    running: () => exitInfo === null && child.pid !== undefined,
    output: () => output,
    stop: async (name = 'SIGTERM', timeoutMs = 10_000) => {
      signal(name);
      let timer: NodeJS.Timeout | undefined;
      const escalate = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          signal('SIGKILL');
          resolve();
        }, timeoutMs);
      });
      await Promise.race([exited, escalate]);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Polls `probe` until it resolves true; fails early when `server` exits, or after `timeoutMs`. */
export async function waitUntil(server: ServerProcess, what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.running()) {
      const exit = await server.exited;
      throw new Error(`${what}: process ${server.pid} exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${server.output()}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
