/**
 * Real redis-server processes for tests: a single server, or a three-master
 * Redis Cluster, on free ports with their own temp dirs, owned and stopped by
 * PID. Nothing here relies on a Redis that happens to be running.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, freePortWithCompanion } from './free-port.js';
import { redisCommand, type RedisAuth } from './redis-command.js';
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
  /**
   * The helper's own readiness checks authenticate with this (and `username`): give it when
   * `extraArgs` make the server require a password (`--requirepass`, `--user ...`).
   */
  auth?: RedisAuth;
}

export interface RedisProcess {
  url: string;
  host: string;
  port: number;
  /** Its working dir (`--dir`): where an RDB or the AOF directory goes. */
  dir: string;
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
   * which case the new process loads what the old one wrote to disk. With
   * `from` (a path snapshot() returned), the persistence files in the dir are
   * first replaced by that older copy: a Redis restarted from an old backup,
   * which has lost every write made after the snapshot.
   */
  restart(options?: { from?: string }): Promise<void>;
  /**
   * Copies the persistence files as they are on disk now (the AOF directory and
   * any RDB) to a temp dir beside the server's; resolves with its path, for
   * restart({ from }). With `appendfsync always` the copy holds every write
   * acknowledged before it (a command being appended during the copy may be cut
   * off at the end, which Redis's default `aof-load-truncated yes` accepts).
   * Removed by stop().
   */
  snapshot(): Promise<string>;
}

/** A server that keeps nothing on disk (`--save ''`, no AOF) unless `extraArgs` say otherwise, in its own temp dir. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-redis-'));
  const args = ['--port', String(port), ...(options.extraArgs ?? [])];
  let server = await launch(host, port, dir, args, options.readyTimeoutMs, options.auth).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });

  const snapshots: string[] = [];

  const kill = async (): Promise<void> => {
    await server.stop('SIGKILL');
  };
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    dir,
    get pid() {
      return server.pid;
    },
    get exited() {
      return server.exited;
    },
    stop: async () => {
      await server.stop('SIGTERM');
      await Promise.all([dir, ...snapshots].map((path) => rm(path, { recursive: true, force: true })));
    },
    kill,
    restart: async ({ from } = {}) => {
      await kill();
      if (from !== undefined) await replacePersistence(dir, from);
      server = await launch(host, port, dir, args, options.readyTimeoutMs, options.auth);
    },
    snapshot: async () => {
      const copy = await mkdtemp(join(tmpdir(), 'roomcast-redis-snapshot-'));
      snapshots.push(copy);
      await copyPersistence(dir, copy);
      return copy;
    },
  };
}

/** Redis's persistence files in a dir: the AOF directory (Redis 7: `appendonlydir`) and RDB files. */
async function persistenceFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => name === 'appendonlydir' || name.endsWith('.rdb') || name.endsWith('.aof'));
}

async function copyPersistence(from: string, to: string): Promise<void> {
  for (const name of await persistenceFiles(from)) await cp(join(from, name), join(to, name), { recursive: true });
}

/** Removes the dir's persistence files and puts the snapshot's in their place (the server must be down). */
async function replacePersistence(dir: string, snapshot: string): Promise<void> {
  for (const name of await persistenceFiles(dir)) await rm(join(dir, name), { recursive: true, force: true });
  await copyPersistence(snapshot, dir);
}

async function launch(host: string, port: number, dir: string, args: readonly string[], readyTimeoutMs = 10_000, auth: RedisAuth = {}): Promise<ServerProcess> {
  const server = spawnServer(
    'redis-server',
    // Empty `--save` and no AOF: a restart starts empty, as the restart() contract says.
    ['--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', '', ...args],
    // Its own process group: a Ctrl-C meant for `npm run cluster` must not stop Redis before the nodes.
    { cwd: dir, group: true },
  );
  try {
    await waitUntil(server, `redis-server on ${host}:${port}`, async () => (await redisCommand(host, port, ['PING'], 500, auth)) === 'PONG', readyTimeoutMs);
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
  /**
   * More `redis-server` arguments for every master, after the helper's own, e.g.
   * `['--appendonly', 'yes', '--appendfsync', 'always']` so that a master killed
   * and restarted keeps every acknowledged write.
   */
  extraArgs?: string[];
  /**
   * A password-protected cluster: every master gets `--requirepass` and `--masterauth`
   * with it, and the helper's own commands (and redis-cli) authenticate with it.
   */
  password?: string;
}

export interface RedisClusterNode {
  host: string;
  port: number;
  /** Its working dir: nodes-<port>.conf (its identity in the cluster) and its persistence files. */
  dir: string;
  /** PID of the current process (changes on restart). */
  readonly pid: number;
  /** Settles when the current process exits (a new promise after restart()). */
  readonly exited: Promise<Exit>;
  running(): boolean;
  /** SIGKILL: a crashed master. Its dir stays. */
  kill(): Promise<void>;
  /**
   * Kills it (if running) and starts it again on the same port and dir: it
   * rejoins the cluster under the same node id from its nodes.conf, with its
   * data if the cluster runs with persistence (`extraArgs`). Resolves once
   * every master reports `cluster_state:ok` again.
   */
  restart(): Promise<void>;
}

export interface RedisCluster {
  nodes: RedisClusterNode[];
  /** The value for REDIS_CLUSTER_NODES: `host:port,host:port,...`. */
  envValue: string;
  /** Resolves once every running master reports `cluster_state:ok`. */
  waitHealthy(timeoutMs?: number): Promise<void>;
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
  const servers: Array<{ host: string; port: number; dir: string; args: string[]; server: ServerProcess }> = [];
  let stopping = false;

  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(servers.map(({ server }) => server.stop('SIGTERM')));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  };
  const auth: RedisAuth = options.password === undefined ? {} : { password: options.password };
  const isOk = async (port: number): Promise<boolean> => (await redisCommand(host, port, ['CLUSTER', 'INFO'], 500, auth)).includes('cluster_state:ok');
  const waitHealthy = async (timeoutMs = readyTimeoutMs): Promise<void> => {
    for (const { port, server } of servers) {
      await waitUntil(server, `cluster node ${host}:${port}`, () => isOk(port), timeoutMs);
    }
  };

  try {
    for (let index = 0; index < masters; index += 1) {
      const port = await freePortWithCompanion(CLUSTER_BUS_OFFSET, host);
      const dir = await mkdtemp(join(tmpdir(), 'roomcast-redis-cluster-'));
      dirs.push(dir);
      const args = [
        '--port', String(port),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5_000),
        ...(options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password]),
        ...(options.extraArgs ?? []),
      ];
      const server = await launch(host, port, dir, args, undefined, auth);
      servers.push({ host, port, dir, args, server });
    }
    await promisify(execFile)(
      'redis-cli',
      ['--cluster', 'create', ...servers.map(({ port }) => `${host}:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
      // REDISCLI_AUTH rather than -a: the password stays out of the process list.
      { encoding: 'utf8', timeout: readyTimeoutMs, ...(options.password === undefined ? {} : { env: { ...process.env, REDISCLI_AUTH: options.password } }) },
    ).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    await waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }

  const nodes: RedisClusterNode[] = servers.map((entry) => ({
    host: entry.host,
    port: entry.port,
    dir: entry.dir,
    get pid() {
      return entry.server.pid;
    },
    get exited() {
      return entry.server.exited;
    },
    running: () => entry.server.running(),
    kill: async () => {
      await entry.server.stop('SIGKILL');
    },
    restart: async () => {
      await entry.server.stop('SIGKILL');
      if (stopping) throw new Error('the Redis Cluster is stopping');
      entry.server = await launch(entry.host, entry.port, entry.dir, entry.args, readyTimeoutMs, auth);
      if (stopping) {
        await entry.server.stop('SIGKILL');
        throw new Error('the Redis Cluster is stopping');
      }
      await waitHealthy();
    },
  }));
  return {
    nodes,
    envValue: servers.map(({ port }) => `${host}:${port}`).join(','),
    waitHealthy,
    stop,
  };
}
