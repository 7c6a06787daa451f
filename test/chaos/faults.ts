/**
 * The faults of a chaos run, each one awaited to its end and recorded: what
 * was done to which process, when, and how it went (exit codes, how long a
 * drain took, how long until /readyz said 200 again).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestCluster } from '../support/cluster.js';
import type { ChurnRooms } from './churn.js';
import type { ChaosConsumer } from './consumers.js';
import type { FaultKind } from './options.js';
import type { Rng } from './rng.js';

export interface FaultRecord {
  kind: FaultKind;
  /** Milliseconds since the start of publishing. */
  plannedAt: number;
  startedAt: number;
  endedAt?: number;
  target: string;
  notes: string[];
  /** For a rolling restart: how each node's SIGTERM ended. */
  drains?: DrainRecord[];
  /** rollback: when the files were copied and when Redis was killed (what lies between is lost). */
  snapshotAt?: number;
  killedAt?: number;
  error?: string;
}

export interface DrainRecord {
  node: string;
  pid: number;
  clientsOnIt: number;
  tookMs: number;
  code: number | null;
  signal: string | null;
  /** Exited 0 within DRAIN_TIMEOUT_MS (plus a second of slack), as the drain promises. */
  clean: boolean;
}

export interface FaultContext {
  cluster: TestCluster;
  rng: Rng;
  /** Every long-lived consumer (SDK clients and SSE streams, through NGINX or pinned to a node). */
  consumers: () => readonly ChaosConsumer[];
  churn: ChurnRooms | null;
  now: () => number;
  downMs: number;
  drainTimeoutMs: number;
  cutShare: number;
  churnMs: number;
  rollbackLagMs: number;
  log: (line: string) => void;
}

const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runFault(kind: FaultKind, ctx: FaultContext, record: FaultRecord): Promise<void> {
  try {
    switch (kind) {
      case 'kill':
        await killAndRestart(ctx, record);
        break;
      case 'cut':
        await cutClients(ctx, record);
        break;
      case 'rolling':
        await rollingRestart(ctx, record);
        break;
      case 'redis':
        await restartRedis(ctx, record);
        break;
      case 'shard':
        await restartShard(ctx, record);
        break;
      case 'rollback':
        await rollbackRedis(ctx, record);
        break;
      case 'churn':
        await churn(ctx, record);
        break;
    }
  } catch (error) {
    record.error = (error as Error).message;
    throw error;
  } finally {
    record.endedAt = ctx.now();
  }
}

/** kill -9 one node, leave it down for `downMs`, start it again under the same id and port. */
async function killAndRestart(ctx: FaultContext, record: FaultRecord): Promise<void> {
  const index = ctx.rng.int(ctx.cluster.nodes.length);
  const node = ctx.cluster.nodes[index];
  if (node === undefined) throw new Error(`no node ${index}`);
  record.target = node.nodeId;
  const onIt = countOn(ctx, node.nodeId);
  await node.kill();
  note(ctx, record, `SIGKILL ${node.nodeId} (pid ${node.pid}) with ${onIt} of the consumers on it`);
  await sleep(ctx.downMs);
  const restarted = await ctx.cluster.restartNode(index, { signal: 'none' });
  const readyIn = await waitReady(restarted.url);
  note(ctx, record, `${node.nodeId} restarted (pid ${restarted.pid}), /readyz 200 after ${readyIn} ms`);
}

/** Closes the transport of a share of the connected consumers (SDK clients and SSE streams) from the client side, spread over a second. */
async function cutClients(ctx: FaultContext, record: FaultRecord): Promise<void> {
  const consumers = ctx.consumers();
  const connected = consumers.filter((consumer) => consumer.isConnected);
  const chosen = ctx.rng.shuffle(connected).slice(0, Math.max(1, Math.round(consumers.length * ctx.cutShare)));
  record.target = `${chosen.length} consumers`;
  note(ctx, record, `cutting ${chosen.length} of ${connected.length} connected consumers: ${chosen.map((consumer) => consumer.id).join(' ')}`);
  const step = 1_000 / chosen.length;
  for (const subscriber of chosen) {
    subscriber.cut();
    await sleep(step);
  }
}

/** One node at a time: SIGTERM, wait for its exit, start it again, wait until /readyz is 200. */
async function rollingRestart(ctx: FaultContext, record: FaultRecord): Promise<void> {
  record.target = ctx.cluster.nodes.map((node) => node.nodeId).join(',');
  for (let index = 0; index < ctx.cluster.nodes.length; index += 1) {
    const node = ctx.cluster.nodes[index];
    if (node === undefined) continue;
    const onIt = countOn(ctx, node.nodeId);
    const started = Date.now();
    // Past the gateway's own deadline (DRAIN_TIMEOUT_MS + 10 s, then it exits 1 by itself): a node still
    // there after that is killed, and that is reported.
    const stopped = node.stop(ctx.drainTimeoutMs + 15_000);
    // Still there a little after its drain window: record what keeps it (its open TCP connections).
    const lateCheck = setTimeout(() => {
      void openSockets(node.pid).then((lines) => note(ctx, record, `${node.nodeId} still running ${ctx.drainTimeoutMs + 2_000} ms after SIGTERM; its sockets:\n      ${lines.join('\n      ')}`));
    }, ctx.drainTimeoutMs + 2_000);
    const finished = await stopped;
    clearTimeout(lateCheck);
    const took = Date.now() - started;
    const clean = finished.code === 0 && took <= ctx.drainTimeoutMs + 1_000;
    (record.drains ??= []).push({ node: node.nodeId, pid: node.pid, clientsOnIt: onIt, tookMs: took, code: finished.code, signal: finished.signal, clean });
    const late = clean ? '' : ` — NOT CLEAN: DRAIN_TIMEOUT_MS is ${ctx.drainTimeoutMs}`;
    note(ctx, record, `SIGTERM ${node.nodeId} (pid ${node.pid}, ${onIt} consumers on it): exited code ${finished.code} signal ${finished.signal} after ${took} ms${late}`);
    const restarted = await ctx.cluster.restartNode(index, { signal: 'none' });
    const readyIn = await waitReady(restarted.url);
    note(ctx, record, `${node.nodeId} restarted (pid ${restarted.pid}), /readyz 200 after ${readyIn} ms`);
  }
}

/** SIGKILL one master of the Redis Cluster, leave it down for `downMs`, start it again on the same port and dir (nodes.conf, AOF). */
async function restartShard(ctx: FaultContext, record: FaultRecord): Promise<void> {
  const redisCluster = ctx.cluster.redisCluster;
  if (redisCluster === null) throw new Error('the deployment has no Redis Cluster');
  const index = ctx.rng.int(redisCluster.nodes.length);
  const master = redisCluster.nodes[index];
  if (master === undefined) throw new Error(`no Redis Cluster node ${index}`);
  record.target = `redis master :${master.port}`;
  const pid = master.pid;
  await master.kill();
  note(ctx, record, `SIGKILL redis-server master :${master.port} (pid ${pid})`);
  await sleep(ctx.downMs);
  const started = Date.now();
  await master.restart();
  note(ctx, record, `master :${master.port} restarted (pid ${master.pid}) with its nodes.conf and AOF; cluster_state:ok on every master after ${Date.now() - started} ms`);
  const times = await Promise.all(ctx.cluster.nodes.map(async (node) => `${node.nodeId} ${await waitReady(node.url)} ms`));
  note(ctx, record, `every node ready again: ${times.join(', ')}`);
}

/**
 * Redis restarted from an older copy of its files: the persistence files are
 * copied aside, publishing goes on for `rollbackLagMs`, then Redis is killed
 * (-9) and started from the copy. Every publication acknowledged after the copy
 * is gone from Redis (history, counters, idempotency keys). A share of the
 * consumers (cutShare) is offline from the copy until Redis is back: they never
 * saw the lost publications, so they must get them reported as a gap.
 */
async function rollbackRedis(ctx: FaultContext, record: FaultRecord): Promise<void> {
  const redis = ctx.cluster.redis;
  if (redis === null) throw new Error('the deployment has no single Redis to roll back');
  record.target = `redis :${redis.port}`;
  const snapshot = await redis.snapshot();
  record.snapshotAt = ctx.now();
  // Some consumers are away for what is about to be lost: they never got it live, so they must be told of a gap.
  const consumers = ctx.consumers();
  const away = ctx.rng.shuffle(consumers.filter((consumer) => consumer.isConnected)).slice(0, Math.max(1, Math.round(consumers.length * ctx.cutShare)));
  for (const consumer of away) consumer.goOffline();
  note(ctx, record, `persistence files copied aside (${snapshot}); publishing goes on for ${ctx.rollbackLagMs} ms with ${away.length} consumers offline: ${away.map((consumer) => consumer.id).join(' ')}`);
  await sleep(ctx.rollbackLagMs);
  const pid = redis.pid;
  await redis.kill();
  record.killedAt = ctx.now();
  note(ctx, record, `SIGKILL redis-server (pid ${pid})`);
  await sleep(Math.min(ctx.downMs, 1_000));
  await redis.restart({ from: snapshot });
  note(ctx, record, `redis-server restarted (pid ${redis.pid}) from the copy: what was acknowledged in the last ${((record.killedAt - record.snapshotAt) / 1000).toFixed(1)} s is gone`);
  const times = await Promise.all(ctx.cluster.nodes.map(async (node) => `${node.nodeId} ${await waitReady(node.url)} ms`));
  note(ctx, record, `every node ready again: ${times.join(', ')}`);
  for (const consumer of away) consumer.goOnline();
  note(ctx, record, `the ${away.length} offline consumers connect again, from their positions before the lost publications`);
}

/** Room hand-overs on their home nodes (see churn.ts) for `churnMs`. */
async function churn(ctx: FaultContext, record: FaultRecord): Promise<void> {
  if (ctx.churn === null) throw new Error('no churn rooms (--churn-rooms 0)');
  record.target = ctx.churn.describe();
  await ctx.churn.run(ctx.churnMs, (line) => note(ctx, record, line));
}

/** SIGKILL redis-server, leave it down for `downMs`, start it again on the same port and dir (it replays its AOF). */
async function restartRedis(ctx: FaultContext, record: FaultRecord): Promise<void> {
  const redis = ctx.cluster.redis;
  if (redis === null) throw new Error('the cluster has no single Redis to restart');
  record.target = `redis :${redis.port}`;
  const pid = redis.pid;
  await redis.kill();
  note(ctx, record, `SIGKILL redis-server (pid ${pid})`);
  await sleep(ctx.downMs);
  await redis.restart();
  note(ctx, record, `redis-server restarted (pid ${redis.pid}) with its AOF`);
  const times = await Promise.all(ctx.cluster.nodes.map(async (node) => `${node.nodeId} ${await waitReady(node.url)} ms`));
  note(ctx, record, `every node ready again: ${times.join(', ')}`);
}

function countOn(ctx: FaultContext, nodeId: string): number {
  return ctx.consumers().filter((consumer) => consumer.connectedNode === nodeId).length;
}

function note(ctx: FaultContext, record: FaultRecord, line: string): void {
  record.notes.push(`+${((ctx.now() - record.startedAt) / 1000).toFixed(1)}s ${line}`);
  ctx.log(`[fault ${record.kind}] ${line}`);
}

/** Polls GET /readyz until it answers 200; resolves with the time it took. */
export async function waitReady(url: string, timeoutMs = READY_TIMEOUT_MS): Promise<number> {
  const started = Date.now();
  let last = 'no answer';
  while (Date.now() - started < timeoutMs) {
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      last = `${response.status} ${(await response.text()).slice(0, 200)}`;
      if (response.status === 200) return Date.now() - started;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url}/readyz not 200 within ${timeoutMs} ms (last: ${last})`);
}

/**
 * The TCP sockets of a process (`ss -tanp`), each with the process at the other
 * end when it is on this machine: what keeps a gateway from exiting.
 */
export async function openSockets(pid: number): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('ss', ['-tanpH', 'exclude', 'time-wait'], { encoding: 'utf8', timeout: 5_000, maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    return [`ss failed: ${(error as Error).message}`];
  }
  const rows = stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [state = '', , , local = '', peer = '', ...rest] = line.trim().split(/\s+/);
      const owner = /\(\("([^"]+)",pid=(\d+)/.exec(rest.join(' '));
      return { state, local, peer, name: owner?.[1] ?? '?', pid: Number(owner?.[2] ?? -1) };
    });
  const ownerOf = new Map(rows.map((row) => [row.local, row.pid === process.pid ? 'the chaos runner' : `${row.name} ${row.pid}`]));
  return rows
    .filter((row) => row.pid === pid && row.state !== 'LISTEN')
    .map((row) => `${row.state} ${row.local} -> ${row.peer} (${ownerOf.get(row.peer) ?? 'gone'})`);
}
