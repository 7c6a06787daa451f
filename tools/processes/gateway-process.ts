/**
 * A gateway as its own process (`node dist/server/main.js`), as production runs
 * it: for tests with several nodes, NGINX in front, and crashes or restarts.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { startNode, type Finished, type StartNodeOptions } from './processes.js';
import { track, untrack } from './reaper.js';

/** dist/tools/processes/ -> dist/server/main.js */
export const GATEWAY_MAIN = fileURLToPath(new URL('../../server/main.js', import.meta.url));

export interface GatewayProcess {
  url: string;
  port: number;
  pid: number;
  nodeId: string;
  /** The child itself, e.g. to follow its log output. */
  process: ChildProcess;
  /** Resolves when the process exits, however it exits. */
  exited: Promise<Finished>;
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<Finished>;
  /** SIGKILL: a crash. */
  kill(): Promise<Finished>;
}

/**
 * Starts a gateway with `env` (PATH and these only, nothing else of this
 * process's environment). Defaults: HOST=127.0.0.1, PORT a free port (fixed, so a
 * restart on the same PORT reaches the same address), NODE_ID `gw-<port>`,
 * LOG_LEVEL=warn. Resolves once GET /healthz answers with that NODE_ID.
 */
export async function startGatewayProcess(env: Record<string, string> = {}, readyTimeoutMs = 15_000, options: StartNodeOptions = {}): Promise<GatewayProcess> {
  const host = env.HOST ?? '127.0.0.1';
  const port = env.PORT === undefined ? await freePort(host) : Number(env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new RangeError(`startGatewayProcess needs a fixed PORT, got ${env.PORT}`);
  const nodeId = env.NODE_ID ?? `gw-${port}`;
  const child = startNode(GATEWAY_MAIN, { LOG_LEVEL: 'warn', ...env, HOST: host, PORT: String(port), NODE_ID: nodeId }, [], options);
  const pid = child.process.pid ?? -1;
  track(pid);
  // exited() rejects on its timeout; this promise only settles when the process is gone.
  const exited = new Promise<Finished>((resolve) => child.process.once('exit', () => resolve(child.exited(60_000))));
  void exited.then(() => untrack(pid));

  const url = `http://${host}:${port}`;
  try {
    await waitForHealth(url, nodeId, exited, readyTimeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    const { stdout, stderr } = child.output();
    throw new Error(`${(error as Error).message}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`, { cause: error });
  }

  const stopWith = async (signal: NodeJS.Signals, timeoutMs: number): Promise<Finished> => {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finished = await exited;
    clearTimeout(timer);
    return finished;
  };
  return {
    url,
    port,
    pid,
    nodeId,
    process: child.process,
    exited,
    output: () => child.output(),
    stop: (timeoutMs = 15_000) => stopWith('SIGTERM', timeoutMs),
    kill: () => stopWith('SIGKILL', 5_000),
  };
}

/**
 * Readiness by /healthz rather than the `gateway listening` log line, which is
 * logged at info and so absent at the default LOG_LEVEL=warn. Checking the node
 * id also makes sure it is this process that answers on the port.
 */
async function waitForHealth(url: string, nodeId: string, exited: Promise<Finished>, timeoutMs: number): Promise<void> {
  let gone: Finished | null = null;
  void exited.then((finished) => (gone = finished));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone !== null) {
      const { code, signal } = gone as Finished;
      throw new Error(`gateway ${nodeId} exited (code ${code}, signal ${signal}) before it was ready`);
    }
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json()) as { node?: string };
      if (response.ok && body.node === nodeId) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`gateway ${nodeId} did not answer ${url}/healthz within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
