/**
 * Fits NGINX's connection limits to the open-file limit of this machine. An
 * unprivileged NGINX cannot raise its hard limit: a larger worker_rlimit_nofile
 * makes every worker log a setrlimit() alert and run with fewer files than the
 * config claims. Used by the cluster script and the tests, never for production
 * configs, which keep the defaults and need the limit raised (see README.md).
 */
import { spawnSync } from 'node:child_process';
import { DEFAULT_WORKER_CONNECTIONS, RLIMIT_RESERVE } from './generate-config.js';

export interface ConnectionLimits {
  workerConnections: number;
  workerRlimitNofile: number;
}

/** The hard RLIMIT_NOFILE of processes started from here; `Infinity` when unlimited. */
export function hardFileLimit(): number {
  // Node has no getrlimit(); a shell started from this process inherits the same limit.
  const result = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const text = result.stdout.trim();
  if (result.status !== 0 || text === '') throw new Error(`could not read the open-file limit: ${result.stderr.trim()}`);
  return text === 'unlimited' ? Infinity : Number(text);
}

/**
 * The production defaults, or as much of them as `hardLimit` allows. With
 * `wanted` the caller asks for fewer connections than the defaults.
 */
export function fitToFileLimit(hardLimit: number, wanted: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const connections = wanted.workerConnections ?? DEFAULT_WORKER_CONNECTIONS;
  const rlimit = Math.min(wanted.workerRlimitNofile ?? connections + RLIMIT_RESERVE, hardLimit);
  if (rlimit <= RLIMIT_RESERVE) throw new RangeError(`an open-file limit of ${hardLimit} leaves no room for connections`);
  return { workerRlimitNofile: rlimit, workerConnections: Math.min(connections, rlimit - RLIMIT_RESERVE) };
}
