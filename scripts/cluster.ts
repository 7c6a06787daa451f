/**
 * `npm run cluster`: a local multi-node Roomcast in one command. Starts Redis
 * (unless given), N gateway nodes as child processes and NGINX in front, prints
 * their URLs, and stops every child by PID on Ctrl-C/SIGTERM, or as soon as any
 * of them dies unexpectedly (exit code 1, naming it).
 *
 * The process helpers are the ones the integration tests use (tools/processes/), so
 * the cluster a developer runs is the cluster the tests run.
 */
import { isDevelopment } from '../server/config/load.js';
import { fitToFileLimit, hardFileLimit } from '../nginx/file-limit.js';
import { freePort } from '../tools/processes/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../tools/processes/gateway-process.js';
import { startNginx, type NginxProcess } from '../tools/processes/nginx.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../tools/processes/redis-server.js';
import { CLUSTER_USAGE, parseClusterArgs, type ClusterPlan } from './cluster-options.js';

const HOST = '127.0.0.1';

/** Everything started so far, in start order; stopped in reverse. */
interface Started {
  redis: RedisProcess | null;
  redisCluster: RedisCluster | null;
  nodes: GatewayProcess[];
  nginx: NginxProcess | null;
}

const started: Started = { redis: null, redisCluster: null, nodes: [], nginx: null };
let stopping = false;

function say(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

async function stopAll(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping...');
    await started.nginx?.stop().catch(() => undefined);
    await Promise.all(started.nodes.map((node) => node.stop().catch(() => undefined)));
    await started.redis?.stop().catch(() => undefined);
    await started.redisCluster?.stop().catch(() => undefined);
    say('stopped');
  }
  process.exit(exitCode);
}

/** Any child that exits while we are not stopping takes the whole cluster down, saying which one. */
function watch(name: string, pid: number, exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>, details?: () => Promise<string>): void {
  void exited.then(async ({ code, signal }) => {
    if (stopping) return;
    say(`${name} (pid ${pid}) exited unexpectedly (code ${code}, signal ${signal})`);
    const text = (await details?.().catch(() => ''))?.trim();
    if (text) process.stdout.write(`${text.split('\n').slice(-20).join('\n')}\n`);
    void stopAll(1);
  });
}

/** Prefixes a node's log lines with its id, so interleaved output stays readable; starts with what it logged so far. */
function forwardOutput(node: GatewayProcess): void {
  const sofar = node.output();
  for (const [stream, text] of [
    [node.process.stdout, sofar.stdout],
    [node.process.stderr, sofar.stderr],
  ] as const) {
    let pending = '';
    const write = (chunk: string): void => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`[${node.nodeId}] ${line}\n`);
    };
    write(text);
    stream?.on('data', write);
  }
}

async function nodePorts(plan: ClusterPlan): Promise<number[]> {
  if (plan.firstPort !== undefined) return Array.from({ length: plan.nodes }, (_, index) => (plan.firstPort ?? 0) + index);
  const ports = new Set<number>();
  while (ports.size < plan.nodes) ports.add(await freePort(HOST));
  return [...ports];
}

async function startRedisFor(plan: ClusterPlan): Promise<Record<string, string>> {
  switch (plan.redis.kind) {
    case 'none':
      say('no Redis: every node runs on its own (in-memory history and presence)');
      return {};
    case 'given':
      say(`Redis (given): ${Object.values(plan.redis.env).join('')}`);
      return plan.redis.env;
    case 'start-single': {
      started.redis = await startRedis({ host: HOST });
      watch('redis-server', started.redis.pid, started.redis.exited);
      say(`Redis:   ${started.redis.url} (pid ${started.redis.pid})`);
      return { REDIS_URL: started.redis.url };
    }
    case 'start-cluster': {
      started.redisCluster = await startRedisCluster({ host: HOST, masters: 3 });
      for (const node of started.redisCluster.nodes) watch(`redis-server ${node.host}:${node.port}`, node.pid, node.exited);
      say(`Redis Cluster: ${started.redisCluster.envValue}`);
      return { REDIS_CLUSTER_NODES: started.redisCluster.envValue };
    }
  }
}

async function main(): Promise<void> {
  let plan: ClusterPlan;
  try {
    const command = parseClusterArgs(process.argv.slice(2), process.env);
    if (command.help) {
      process.stdout.write(CLUSTER_USAGE);
      return;
    }
    plan = command;
  } catch (error) {
    process.stderr.write(`cluster: ${(error as Error).message}\n\n${CLUSTER_USAGE}`);
    process.exit(2);
  }

  process.on('SIGINT', () => void (stopping ? process.exit(1) : stopAll(0)));
  process.on('SIGTERM', () => void (stopping ? process.exit(1) : stopAll(0)));

  const redisEnv = await startRedisFor(plan);
  const ports = await nodePorts(plan);
  // Sequential: a failing node reports before the others pile their output on top.
  for (const [index, port] of ports.entries()) {
    if (stopping) return;
    // Detached: Ctrl-C reaches only this script, which then drains each node with one SIGTERM.
    const node = await startGatewayProcess({ ...plan.nodeEnv, ...redisEnv, HOST, PORT: String(port), NODE_ID: `node${index + 1}` }, undefined, { detached: true });
    started.nodes.push(node);
    forwardOutput(node);
    watch(`gateway ${node.nodeId}`, node.pid, node.exited);
    say(`${node.nodeId}:   ${node.url} (pid ${node.pid})`);
  }
  if (stopping) return;

  // The production limits, cut to what this machine lets an unprivileged NGINX open.
  const limits = fitToFileLimit(hardFileLimit());
  started.nginx = await startNginx({
    nodes: started.nodes.map((node) => ({ id: node.nodeId, host: HOST, port: node.port })),
    workerProcesses: 'auto',
    ...limits,
    ...(plan.listen === undefined ? {} : { listen: plan.listen }),
    // Development nodes (no JWT setting) mint the demo page's tokens at POST /dev/token.
    devToken: isDevelopment(plan.nodeEnv),
  });
  const nginx = started.nginx;
  watch('nginx', nginx.pid, nginx.exited, () => nginx.errorLog());
  say(`NGINX:   ${started.nginx.url} (pid ${started.nginx.pid}; config and logs in ${started.nginx.dir})`);
  const redisLine = started.redis?.url ?? started.redisCluster?.envValue ?? Object.values(redisEnv)[0] ?? 'none';
  say(
    [
      'ready (Ctrl-C stops everything):',
      `  NGINX  ${started.nginx.url}/   <- clients and the demo page`,
      ...started.nodes.map((node) => `  ${node.nodeId.padEnd(5)}  ${node.url}`),
      `  Redis  ${redisLine}`,
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  void stopAll(1);
});
