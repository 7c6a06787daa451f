/**
 * Real redis-server processes for tests: a single server, or a three-master
 * Redis Cluster, on free ports with their own temp dirs, owned and stopped by
 * PID. Nothing here relies on a Redis that happens to be running.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, freePortWithCompanion } from './free-port.js';
import { redisCommand } from './redis-command.js';
import { spawnServer, waitUntil, type Exit, type ServerProcess } from './server-process.js';

export interface RedisOptions {
  host?: string;
  /** Default: a free port. */
  port?: number;
  /**
   * More `redis-server` arguments, e.g. ['--maxmemory', '10mb']; they come after
   * the helper's own, so ['--appendonly', 'yes'] overrides its `--appendonly no`.
   */
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

export interface RedisProcess {
  url: string;
  host: string;
  port: number;
  /** PID of the current process (changes on restart). */
  readonly pid: number;
  /** Settles when the current process exits (a new promise after restart()). */
  readonly exited: Promise<Exit>;
  /** SIGTERM, wait for exit, remove the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, for failure tests. The temp dir stays until stop(). */
  kill(): Promise<void>;
  /**
   * Kills (SIGKILL, if running) and starts again on the same port and dir: with
   * no data, unless `extraArgs` turned persistence on (`--appendonly yes`), in
   * which case the new process loads what the old one wrote to disk.
   */
  restart(): Promise<void>;
}

/** A server that keeps nothing on disk (`--save ''`, no AOF) unless `extraArgs` say otherwise, in its own temp dir. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-redis-'));
  const args = ['--port', String(port), ...(options.extraArgs ?? [])];
  let server = await launch(host, port, dir, args, options.readyTimeoutMs).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });

  const kill = async (): Promise<void> => {
    await server.stop('SIGKILL');
  };
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    get pid() {
      return server.pid;
    },
    get exited() {
      return server.exited;
    },
    stop: async () => {
      await server.stop('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    kill,
    restart: async () => {
      await kill();
      server = await launch(host, port, dir, args, options.readyTimeoutMs);
    },
  };
}

async function launch(host: string, port: number, dir: string, args: readonly string[], readyTimeoutMs = 10_000): Promise<ServerProcess> {
  const server = spawnServer(
    'redis-server',
    // Empty `--save` and no AOF: a restart starts empty, as the restart() contract says.
    ['--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', '', ...args],
    // Its own process group: a Ctrl-C meant for `npm run cluster` must not stop Redis before the nodes.
    { cwd: dir, group: true },
  );
  try {
    await waitUntil(server, `redis-server on ${host}:${port}`, async () => (await redisCommand(host, port, ['PING'], 500)) === 'PONG', readyTimeoutMs);
  } catch (error) {
    await server.stop('SIGKILL');
    throw error;
  }
  return server;
}

export interface RedisClusterOptions {
  masters?: number;
  host?: string;
  /** cluster-node-timeout: how long until a silent node counts as failed. */
  nodeTimeoutMs?: number;
  readyTimeoutMs?: number;
}

export interface RedisCluster {
  nodes: Array<{ host: string; port: number; pid: number; exited: Promise<Exit> }>;
  /** The value for REDIS_CLUSTER_NODES: `host:port,host:port,...`. */
  envValue: string;
  stop(): Promise<void>;
}

/** The Redis Cluster bus listens on the client port + 10000. */
const CLUSTER_BUS_OFFSET = 10_000;

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const host = options.host ?? '127.0.0.1';
  const masters = options.masters ?? 3;
  // redis-cli --cluster create refuses fewer than three masters.
  if (masters < 3) throw new RangeError('a Redis Cluster needs at least 3 masters');
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const dirs: string[] = [];
  const servers: Array<{ host: string; port: number; server: ServerProcess }> = [];

  const stop = async (): Promise<void> => {
    await Promise.all(servers.map(({ server }) => server.stop('SIGTERM')));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  };

  try {
    for (let index = 0; index < masters; index += 1) {
      const port = await freePortWithCompanion(CLUSTER_BUS_OFFSET, host);
      const dir = await mkdtemp(join(tmpdir(), 'roomcast-redis-cluster-'));
      dirs.push(dir);
      const server = await launch(host, port, dir, [
        '--port', String(port),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5_000),
      ]);
      servers.push({ host, port, server });
    }
    await promisify(execFile)(
      'redis-cli',
      ['--cluster', 'create', ...servers.map(({ port }) => `${host}:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: readyTimeoutMs },
    ).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    for (const { port, server } of servers) {
      await waitUntil(server, `cluster node ${host}:${port}`, async () => (await redisCommand(host, port, ['CLUSTER', 'INFO'], 500)).includes('cluster_state:ok'), readyTimeoutMs);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes: servers.map(({ host: nodeHost, port, server }) => ({ host: nodeHost, port, pid: server.pid, exited: server.exited })),
    envValue: servers.map(({ port }) => `${host}:${port}`).join(','),
    stop,
  };
}
