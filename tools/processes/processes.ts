/** Child processes owned by a test: started with a known PID, awaited, and killed if still running. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  process: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Resolves when the process exits, or kills it (SIGKILL) and rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<Finished>;
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartNodeOptions {
  /** Own process group: a terminal's Ctrl-C reaches only the parent, which then stops the child (one signal, one drain). */
  detached?: boolean;
}

export function startNode(script: string, env: Record<string, string> = {}, args: string[] = [], options: StartNodeOptions = {}): Child {
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<Finished>((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the pipes drain before reporting.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
  return {
    process: child,
    output: () => ({ stdout, stderr }),
    exited: (timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`));
        }, timeoutMs);
        void exit.then((finished) => {
          clearTimeout(timer);
          resolve(finished);
        });
      }),
    waitForLine: (pattern, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const line = stdout.split('\n').find((candidate) => pattern.test(candidate));
          if (line === undefined) return false;
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(line);
          return true;
        };
        const timer = setTimeout(() => {
          child.stdout.off('data', check);
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-500)}`));
        }, timeoutMs);
        if (!check()) child.stdout.on('data', check);
      }),
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** True while a process with this PID exists (signal 0 checks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
