/**
 * The chaos suite: 3 gateway nodes + NGINX + Redis (AOF), SDK clients through
 * NGINX in several rooms, publishers at a steady rate through the HTTP API of
 * random nodes; meanwhile a node is killed (-9) and restarted, clients' connections
 * are cut, every node is restarted (SIGTERM, one at a time) and Redis is
 * restarted. At the end every client must have received every stored offset of
 * every room it is in, exactly once and in order. See test/chaos/README.md.
 *
 *   npm run test:chaos -- --profile ci --seed 42
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type TestCluster } from '../support/cluster.js';
import type { GatewayProcess } from '../support/gateway-process.js';
import { TEST_API_KEY } from '../support/gateway.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';
import { runFault, type FaultRecord } from './faults.js';
import { auditHistory, type HistoryAudit } from './history-audit.js';
import { describeLagging, describeProblems, refusedBreakdown, writeLogs } from './diagnostics.js';
import { computeVerdict, Ledger } from './ledger.js';
import { parseChaosArgs, UsageError, USAGE, type ChaosOptions } from './options.js';
import { PublisherFleet } from './publishers.js';
import { formatTable, recoveryStats, writeReport, type ChaosReport } from './report.js';
import { createRng } from './rng.js';
import { ChaosSubscriber } from './subscribers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything that must be stopped, whatever way the run ends. */
interface Resources {
  cluster: TestCluster | null;
  subscribers: ChaosSubscriber[];
  /** Every gateway process of the run (restarts included), for their logs. */
  gateways: Set<GatewayProcess>;
}

const resources: Resources = { cluster: null, subscribers: [], gateways: new Set() };
let cleaning: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const subscriber of resources.subscribers) subscriber.close();
    await resources.cluster?.stop().catch((error: unknown) => say(`stopping the cluster failed: ${(error as Error).message}`));
  })();
  return cleaning;
}

let quiet = false;
function say(line: string): void {
  if (!quiet) process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseChaosArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(error as Error).message === '' ? '' : `${(error as Error).message}\n\n`}${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  quiet = options.quiet;
  const reproduce = `npm run test:chaos -- ${['--profile', options.profile, '--seed', String(options.seed), ...withoutFlags(process.argv.slice(2), ['--profile', '--seed'])].join(' ')}`;

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process of the run\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const hardLimit = setTimeout(() => {
    process.stderr.write(`chaos: hard time limit of ${options.hardLimitMs} ms reached: aborting (FAIL)\n`);
    void cleanup().finally(() => process.exit(1));
  }, options.hardLimitMs);
  hardLimit.unref();

  const startedAt = new Date();
  const runStart = Date.now();
  let origin = Date.now();
  const now = (): number => Date.now() - origin;
  const rng = createRng(options.seed);
  const ledger = new Ledger();
  const failures: string[] = [];
  say(`chaos ${options.profile}: seed ${options.seed} (reproduce: ${reproduce})`);

  // ---- the deployment ----------------------------------------------------------
  const cluster = await startCluster({
    nodes: options.nodes,
    redis: 'single',
    nginx: true,
    // fsync on every write: a SIGKILLed Redis comes back with every acknowledged publication.
    redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
    env: {
      DRAIN_TIMEOUT_MS: String(options.drainTimeoutMs),
      NODE_TTL_MS: '3000',
      // The suite is about faults, not about trimming: history holds the whole run.
      HISTORY_SIZE: '100000',
      PING_INTERVAL_MS: '10000',
      PING_TIMEOUT_MS: '5000',
      // info: the drain's own lines (draining, drain finished, gateway closed) end up in the logs.
      LOG_LEVEL: 'info',
    },
  });
  resources.cluster = cluster;
  const noteGateways = (): void => cluster.nodes.forEach((node) => resources.gateways.add(node));
  noteGateways();
  const nginxUrl = cluster.nginx?.url ?? cluster.url;
  say(`cluster: ${cluster.nodes.map((node) => `${node.nodeId} ${node.url}`).join(', ')}; redis ${cluster.redis?.url}; nginx ${nginxUrl}`);

  // ---- clients -----------------------------------------------------------------
  const rooms = Array.from({ length: options.rooms }, (_, index) => `chaos:r${String(index + 1).padStart(2, '0')}`);
  const roomRng = rng.fork('rooms');
  const inTwo = new Set(roomRng.shuffle(Array.from({ length: options.clients }, (_, index) => index)).slice(0, Math.round(options.clients * options.twoRoomShare)));
  for (let index = 0; index < options.clients; index += 1) {
    const primary = rooms[index % rooms.length] as string;
    const others = rooms.filter((room) => room !== primary);
    const clientRooms = inTwo.has(index) && others.length > 0 ? [primary, roomRng.pick(others)] : [primary];
    const id = `c${String(index + 1).padStart(3, '0')}`;
    resources.subscribers.push(
      new ChaosSubscriber({
        id,
        url: nginxUrl,
        token: await signToken(TEST_JWT_SECRET, { sub: id, rooms: ['chaos:*'] }, { expiresIn: '2h' }),
        rooms: clientRooms,
        transport: index % 2 === 0 ? 'websocket' : 'default',
        ledger,
        now,
      }),
    );
  }
  const subscribers = resources.subscribers;
  const joinStarted = Date.now();
  for (let start = 0; start < subscribers.length; start += 20) {
    await Promise.all(subscribers.slice(start, start + 20).map((subscriber) => withTimeout(subscriber.start(), 20_000, `client ${subscriber.id} connect and join`)));
  }
  say(`${subscribers.length} clients connected and joined in ${Date.now() - joinStarted} ms (${distribution(subscribers)})`);

  // ---- publishing and faults ------------------------------------------------------
  origin = Date.now();
  const publishers = new PublisherFleet({
    ledger,
    rng: rng.fork('publishers'),
    targets: cluster.nodes.map((node) => ({ id: node.nodeId, url: node.url })),
    rooms,
    rate: options.rate,
    publishers: options.publishers,
    apiKey: TEST_API_KEY,
    runId: `${options.seed}-${origin.toString(36)}`,
    now,
  });
  publishers.start();
  let currentFault = 'warm-up';
  const progress = setInterval(() => {
    const stats = publishers.snapshot();
    const delivered = [...ledger.subscriptions.values()].reduce((sum, log) => sum + log.deliveries.length, 0);
    const connected = subscribers.filter((subscriber) => subscriber.isConnected).length;
    say(
      `  t=${(now() / 1000).toFixed(0).padStart(3)}s  published ${stats.published} refused ${stats.refused} pending ${stats.pending} retries ${stats.retries}` +
        `  delivered ${delivered}  connected ${connected}/${subscribers.length}  [${currentFault}]`,
    );
  }, 5_000);

  const faults: FaultRecord[] = [];
  const faultRng = rng.fork('faults');
  const sequence = Array.from({ length: options.rounds }, () => options.faults).flat();
  const phaseMs = Math.max(0, options.seconds * 1_000 - options.warmupMs - options.settleMs);
  const slotMs = sequence.length === 0 ? 0 : phaseMs / sequence.length;
  try {
    for (const [index, kind] of sequence.entries()) {
      const plannedAt = Math.round(options.warmupMs + index * slotMs);
      if (plannedAt > now()) await sleep(plannedAt - now());
      const record: FaultRecord = { kind, plannedAt, startedAt: now(), target: '', notes: [] };
      faults.push(record);
      currentFault = kind;
      noteGateways();
      await runFault(
        kind,
        {
          cluster,
          rng: faultRng,
          subscribers,
          now,
          downMs: options.downMs,
          drainTimeoutMs: options.drainTimeoutMs,
          cutShare: options.cutShare,
          log: (line) => say(`  t=${(now() / 1000).toFixed(1)}s ${line}`),
        },
        record,
      ).catch((error: unknown) => {
        failures.push(`fault ${kind} at ${(record.startedAt / 1000).toFixed(1)} s failed: ${(error as Error).message}`);
        say(`  fault ${kind} FAILED: ${(error as Error).message}`);
      });
      noteGateways();
      currentFault = 'between faults';
    }
    currentFault = 'settle';
    const lastEnd = faults.at(-1)?.endedAt ?? 0;
    const publishUntil = Math.max(options.seconds * 1_000, lastEnd + options.settleMs);
    if (publishUntil > now()) await sleep(publishUntil - now());
  } finally {
    currentFault = 'stopping publishers';
    await publishers.stop();
  }
  const publishedFor = now();
  say(`publishers stopped at t=${(publishedFor / 1000).toFixed(1)} s`);

  // ---- catch-up ---------------------------------------------------------------------
  currentFault = 'catch-up';
  const targets = ledger.targets();
  const catchUpStart = Date.now();
  while (Date.now() - catchUpStart < options.catchUpMs && !subscribers.every((subscriber) => subscriber.caughtUp(targets))) await sleep(200);
  const catchUpMs = Date.now() - catchUpStart;
  clearInterval(progress);
  const reached = subscribers.every((subscriber) => subscriber.caughtUp(targets));
  const lagging = reached ? [] : await describeLagging(subscribers, targets);
  say(reached ? `every client caught up in ${catchUpMs} ms` : `catch-up NOT reached after ${catchUpMs} ms: ${lagging.length} client-rooms behind`);

  // ---- verdict and report ---------------------------------------------------------------
  let audit: HistoryAudit | null = null;
  try {
    audit = await auditHistory(cluster.redis?.url ?? '', '/', rooms, ledger.publications.values());
    if (!audit.ok) failures.push('the history audit found differences between what Redis holds and what the API answered');
  } catch (error) {
    failures.push(`the history audit failed: ${(error as Error).message}`);
  }
  const verdict = computeVerdict(ledger.publications.values(), ledger.subscriptions.values());
  const episodes = subscribers.flatMap((subscriber) => subscriber.episodes);
  const errors: Record<string, number> = {};
  for (const subscriber of subscribers) for (const [code, count] of subscriber.errors) errors[code] = (errors[code] ?? 0) + count;
  const problems = describeProblems(verdict.problems, ledger, subscribers, faults);
  for (const drain of faults.flatMap((fault) => fault.drains ?? []).filter((candidate) => !candidate.clean)) {
    failures.push(`${drain.node} (pid ${drain.pid}) took ${drain.tookMs} ms to exit after SIGTERM, code ${drain.code} signal ${drain.signal} (DRAIN_TIMEOUT_MS ${options.drainTimeoutMs})`);
  }
  const openEpisodes = subscribers.map((subscriber) => subscriber.openEpisode()).filter((episode) => episode !== undefined);
  if (openEpisodes.length > 0) failures.push(`${openEpisodes.length} clients never fully recovered from their last disconnect`);
  if (!reached) failures.push(`${lagging.length} client-rooms did not reach their room's last offset within ${options.catchUpMs} ms`);

  const nginxErrors = (await cluster.nginx?.errorLog().catch(() => '')) ?? '';
  // NGINX's logs go with its temp dir at stop: keep them next to the gateways'.
  const nginxLogs = { error: nginxErrors, access: cluster.nginx === null ? '' : await readFile(join(cluster.nginx.dir, 'access.log'), 'utf8').catch(() => '') };
  const report: ChaosReport = {
    profile: options.profile,
    seed: options.seed,
    command: reproduce,
    startedAt: startedAt.toISOString(),
    originEpochMs: origin,
    durationMs: Date.now() - runStart,
    options,
    passed: verdict.ok && failures.length === 0,
    failures,
    totals: verdict.totals,
    recovery: recoveryStats(episodes),
    publishers: publishers.snapshot(),
    refusedBy: refusedBreakdown(ledger, faults),
    catchUp: { reached, ms: catchUpMs, lagging },
    historyAudit: audit,
    faults,
    rooms: verdict.rooms,
    problems,
    clients: {
      total: subscribers.length,
      websocketOnly: subscribers.filter((subscriber) => subscriber.transport === 'websocket').length,
      inTwoRooms: subscribers.filter((subscriber) => subscriber.rooms.length > 1).length,
      errors,
    },
    nginx: { errorLogTail: nginxErrors.split('\n').slice(-40).join('\n') },
    timelines: Object.fromEntries(
      subscribers.map((subscriber) => [
        subscriber.id,
        {
          transport: subscriber.transport,
          rooms: subscriber.rooms,
          events: subscriber.timeline.map((entry) => `${entry.at} ${entry.event}${entry.node === undefined ? '' : ` ${entry.node}`}`),
        },
      ]),
    ),
  };
  noteGateways();
  await cleanup();
  report.durationMs = Date.now() - runStart;
  const path = await writeReport(report);
  const logsDir = await writeLogs(options, [...resources.gateways], nginxLogs);
  process.stdout.write(`\n${formatTable(report)}\n`);
  say(`report: ${path}; gateway logs: ${logsDir}`);
  return report.passed ? 0 : 1;
}

function distribution(subscribers: readonly ChaosSubscriber[]): string {
  const counts = new Map<string, number>();
  for (const subscriber of subscribers) counts.set(subscriber.connectedNode ?? '?', (counts.get(subscriber.connectedNode ?? '?') ?? 0) + 1);
  return [...counts].sort().map(([node, count]) => `${node}: ${count}`).join(', ');
}

function withoutFlags(args: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    const flag = flags.find((candidate) => arg === candidate || arg.startsWith(`${candidate}=`));
    if (flag === undefined) out.push(arg);
    else if (arg === flag) index += 1;
  }
  return out;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (error: unknown) => {
    process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`);
    await cleanup();
    process.exit(1);
  },
);
