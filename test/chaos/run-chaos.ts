/**
 * The chaos suite. A deployment (--topology): memory, one gateway node with
 * everything in memory; redis, 3 nodes + one redis-server (classic adapter);
 * cluster, 3 nodes + a three-master Redis Cluster (sharded adapter); NGINX in
 * front in every case, Redis with `appendfsync always`. Consumers: SDK clients
 * and SSE streams through NGINX in several rooms, and the churn fault's
 * consumers pinned to one node each. Publishers at a steady rate through the
 * HTTP API of random nodes. Meanwhile faults: a node killed (-9), clients cut,
 * a rolling restart, Redis or one Cluster master restarted, Redis rolled back
 * to an older copy, room hand-overs. Then a probe (each node publishes in every
 * room, every member must get it), Redis read back, and the verdict: every
 * consumer must have received every stored offset of every room it was in,
 * exactly once and in order, or have been told of a gap where a fault could
 * lose data. See test/chaos/README.md.
 *
 *   npm run test:chaos -- --topology cluster --profile ci --seed 42
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type TestCluster } from '../support/cluster.js';
import type { GatewayProcess } from '../../tools/processes/gateway-process.js';
import { connectTestRedis, connectTestRedisCluster } from '../../tools/processes/redis-client.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { ChurnRooms } from './churn.js';
import type { ChaosConsumer } from './consumers.js';
import { describeLagging, describeProblems, refusedBreakdown, summarizeLoss, writeLogs } from './diagnostics.js';
import { runFault, type FaultRecord } from './faults.js';
import { auditHistory, type HistoryAudit } from './history-audit.js';
import { computeVerdict, Ledger } from './ledger.js';
import { faultsCanLoseData, parseChaosArgs, runName, UsageError, USAGE, type ChaosOptions } from './options.js';
import { probe, type ProbeResult } from './probe.js';
import { PublisherFleet } from './publishers.js';
import { formatTable, recoveryStats, summaryLine, writeReport, type ChaosReport } from './report.js';
import { createRng } from './rng.js';
import { SseSubscriber } from './sse-subscribers.js';
import { ChaosSubscriber } from './subscribers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything that must be stopped, whatever way the run ends. */
interface Resources {
  cluster: TestCluster | null;
  subscribers: ChaosSubscriber[];
  streams: SseSubscriber[];
  churn: ChurnRooms | null;
  /** Every gateway process of the run (restarts included), for their logs. */
  gateways: Set<GatewayProcess>;
}

const resources: Resources = { cluster: null, subscribers: [], streams: [], churn: null, gateways: new Set() };
let cleaning: Promise<void> | null = null;

function allConsumers(): ChaosConsumer[] {
  return [...resources.subscribers, ...resources.streams, ...(resources.churn?.all ?? [])];
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(allConsumers().map(async (consumer) => consumer.close())).catch(() => undefined);
    await resources.cluster?.stop().catch((error: unknown) => say(`stopping the deployment failed: ${(error as Error).message}`));
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
  const name = runName(options);
  const lossAllowed = faultsCanLoseData(options);
  const reproduce =
    `${options.topology === 'memory' ? '' : `REDIS_DURABILITY=${options.durability} `}npm run test:chaos -- ` +
    ['--topology', options.topology, '--profile', options.profile, '--seed', String(options.seed), ...withoutFlags(process.argv.slice(2), ['--topology', '--profile', '--seed'])].join(' ');

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process of the run\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const hardLimit = setTimeout(() => {
    process.stderr.write(`${name}: hard time limit of ${options.hardLimitMs} ms reached: aborting (FAIL)\n`);
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
  say(`${name}: seed ${options.seed}, faults ${options.faults.join(',')}, ${lossAllowed ? 'a fault can lose data (new epochs and their gaps allowed)' : 'no fault can lose data (no gap allowed)'} (reproduce: ${reproduce})`);

  // ---- the deployment ----------------------------------------------------------
  const cluster = await startCluster({
    nodes: options.nodes,
    ...(options.topology === 'memory' ? {} : { redis: options.topology === 'cluster' ? ('cluster' as const) : ('single' as const) }),
    nginx: true,
    // fsync on every write: a SIGKILLed Redis (or Cluster master) comes back with every acknowledged publication.
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
      // Ignored by a gateway that does not know it yet (server/config/load.ts reads only the variables it knows).
      ...(options.topology === 'memory' ? {} : { REDIS_DURABILITY: options.durability }),
    },
  });
  resources.cluster = cluster;
  const noteGateways = (): void => cluster.nodes.forEach((node) => resources.gateways.add(node));
  noteGateways();
  const nginxUrl = cluster.nginx?.url ?? cluster.url;
  const redisDescription = cluster.redis?.url ?? (cluster.redisCluster === null ? 'none' : `cluster ${cluster.redisCluster.envValue}`);
  say(`deployment: ${cluster.nodes.map((node) => `${node.nodeId} ${node.url}`).join(', ')}; redis ${redisDescription}; nginx ${nginxUrl}`);
  const token = (id: string): Promise<string> => signToken(TEST_JWT_SECRET, { sub: id, rooms: ['chaos:*'] }, { expiresIn: '2h' });

  // ---- consumers -----------------------------------------------------------------
  const rooms = Array.from({ length: options.rooms }, (_, index) => `chaos:r${String(index + 1).padStart(2, '0')}`);
  const churnRooms = options.faults.includes('churn') ? Array.from({ length: options.churnRooms }, (_, index) => `chaos:h${String(index + 1).padStart(2, '0')}`) : [];
  const roomRng = rng.fork('rooms');
  const inTwo = new Set(roomRng.shuffle(Array.from({ length: options.clients }, (_, index) => index)).slice(0, Math.round(options.clients * options.twoRoomShare)));
  for (let index = 0; index < options.clients; index += 1) {
    const primary = rooms[index % rooms.length] as string;
    const others = rooms.filter((room) => room !== primary);
    const clientRooms = inTwo.has(index) && others.length > 0 ? [primary, roomRng.pick(others)] : [primary];
    const id = `c${String(index + 1).padStart(3, '0')}`;
    resources.subscribers.push(
      new ChaosSubscriber({ id, url: nginxUrl, token: await token(id), rooms: clientRooms, transport: index % 2 === 0 ? 'websocket' : 'default', ledger, now }),
    );
  }
  const firstSseRoom = roomRng.int(rooms.length);
  for (let index = 0; index < options.sseClients; index += 1) {
    const id = `s${String(index + 1).padStart(3, '0')}`;
    resources.streams.push(new SseSubscriber({ id, url: nginxUrl, token: await token(id), room: rooms[(firstSseRoom + index) % rooms.length] as string, ledger, now }));
  }
  const subscribers = resources.subscribers;
  const joinStarted = Date.now();
  for (let start = 0; start < subscribers.length; start += 20) {
    await Promise.all(subscribers.slice(start, start + 20).map((subscriber) => withTimeout(subscriber.start(), 20_000, `client ${subscriber.id} connect and join`)));
  }
  await Promise.all(resources.streams.map((stream) => withTimeout(stream.start(), 20_000, `SSE ${stream.id} open`)));
  // Created below, before the faults run (the churn fault publishes its checks through it).
  const fleet: { current?: PublisherFleet } = {};
  if (churnRooms.length > 0) {
    resources.churn = new ChurnRooms({
      rooms: churnRooms,
      nodes: () => cluster.nodes.map((node) => ({ id: node.nodeId, url: node.url })),
      ledger,
      now,
      rng: rng.fork('churn'),
      token,
      regulars: () => subscribers,
      publishVia: (nodeId, room) => {
        if (fleet.current === undefined) throw new Error('no publishers yet');
        return fleet.current.publishVia(nodeId, room);
      },
      pausePublishers: (paused) => (paused ? fleet.current?.pause(churnRooms) : fleet.current?.resume(churnRooms)),
      checkMs: options.checkMs,
    });
    await withTimeout(resources.churn.setup(), 30_000, 'churn rooms set-up');
  }
  say(
    `${subscribers.length} SDK clients and ${resources.streams.length} SSE streams through NGINX in ${Date.now() - joinStarted} ms (SDK on ${distribution(subscribers)})` +
      (resources.churn === null ? '' : `; churn rooms ${resources.churn.describe()}`),
  );
  const longLived = (): ChaosConsumer[] => allConsumers().filter((consumer) => consumer.rooms().length > 0 || consumer.kind === 'sdk');

  // ---- publishing and faults ------------------------------------------------------
  origin = Date.now();
  const publishTargets = cluster.nodes.map((node) => ({ id: node.nodeId, url: node.url }));
  const publishers = new PublisherFleet({
    ledger,
    rng: rng.fork('publishers'),
    targets: publishTargets,
    rooms: [...rooms, ...churnRooms],
    rate: options.rate,
    publishers: options.publishers,
    apiKey: TEST_API_KEY,
    runId: `${options.seed}-${origin.toString(36)}`,
    now,
  });
  fleet.current = publishers;
  publishers.start();
  let currentFault = 'warm-up';
  const progress = setInterval(() => {
    const stats = publishers.snapshot();
    const delivered = [...ledger.subscriptions.values()].reduce((sum, log) => sum + log.deliveries.length, 0);
    const consumers = longLived().filter((consumer) => consumer.rooms().length > 0);
    const connected = consumers.filter((consumer) => consumer.isConnected).length;
    say(
      `  t=${(now() / 1000).toFixed(0).padStart(3)}s  published ${stats.published} refused ${stats.refused} pending ${stats.pending} retries ${stats.retries}` +
        `  delivered ${delivered}  connected ${connected}/${consumers.length}  [${currentFault}]`,
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
          consumers: () => longLived().filter((consumer) => consumer.rooms().length > 0),
          churn: resources.churn,
          now,
          downMs: options.downMs,
          drainTimeoutMs: options.drainTimeoutMs,
          cutShare: options.cutShare,
          churnMs: Math.min(options.churnMs, Math.max(2_000, slotMs - 1_000)),
          rollbackLagMs: options.rollbackLagMs,
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

  // ---- catch-up, probe ------------------------------------------------------------------
  currentFault = 'catch-up';
  // Waits until every consumer stands at its rooms' last offsets; gives up early when none of the lagging ones moved for 10 s.
  const waitCaughtUp = async (limitMs: number): Promise<{ reached: boolean; ms: number }> => {
    const targets = ledger.targets();
    const started = Date.now();
    const positions = (): string =>
      longLived()
        .filter((consumer) => !consumer.caughtUp(targets))
        .map((consumer) => `${consumer.id}:${consumer.rooms().map((room) => JSON.stringify(consumer.position(room))).join(',')}`)
        .join(' ');
    let last = positions();
    let movedAt = Date.now();
    while (Date.now() - started < limitMs && !longLived().every((consumer) => consumer.caughtUp(targets)) && Date.now() - movedAt < 10_000) {
      await sleep(200);
      const current = positions();
      if (current !== last) {
        last = current;
        movedAt = Date.now();
      }
    }
    return { reached: longLived().every((consumer) => consumer.caughtUp(targets)), ms: Date.now() - started };
  };
  const first = await waitCaughtUp(options.catchUpMs);
  say(first.reached ? `every consumer caught up in ${first.ms} ms` : `catch-up NOT reached after ${first.ms} ms`);
  currentFault = 'probe';
  let probeResult: ProbeResult | null = null;
  try {
    probeResult = await probe({ rooms: [...rooms, ...churnRooms], targets: publishTargets, publishers, consumers: longLived, waitMs: options.probeWaitMs });
    say(`probe: ${probeResult.steps.map((step) => `via ${step.via} ${step.published} published, slowest ${step.slowestMs ?? '-'} ms, ${step.stalls} stalled`).join('; ')}`);
  } catch (error) {
    failures.push(`the probe failed: ${(error as Error).message}`);
  }
  // The probe's own publications must reach everyone too (a stalled one may arrive once a later one reveals it).
  const final = await waitCaughtUp(first.reached ? 10_000 : 3_000);
  clearInterval(progress);
  const targets = ledger.targets();
  const lagging = final.reached ? [] : await describeLagging(longLived(), targets, { url: cluster.nodes[0]?.url ?? nginxUrl, apiKey: TEST_API_KEY });
  if (!final.reached) say(`catch-up after the probe NOT reached: ${lagging.length} consumer-rooms behind`);

  // ---- verdict and report ---------------------------------------------------------------
  let audit: HistoryAudit | null = null;
  let auditSkipped: string | undefined;
  if (options.topology === 'memory') auditSkipped = 'memory topology: no Redis to read';
  else {
    try {
      const redisCluster = cluster.redisCluster;
      const connect = redisCluster === null ? () => connectTestRedis(cluster.redis?.url ?? '') : () => connectTestRedisCluster(redisCluster.nodes);
      audit = await auditHistory(connect, '/', [...rooms, ...churnRooms], ledger.publications.values(), { lossAllowed });
      if (!audit.ok) failures.push('the history audit found differences between what Redis holds and what the API answered');
    } catch (error) {
      failures.push(`the history audit failed: ${(error as Error).message}`);
    }
  }
  const verdict = computeVerdict(ledger.publications.values(), ledger.subscriptions.values(), { lossAllowed });
  failures.unshift(...verdict.reasons);
  const consumers = allConsumers();
  const episodes = consumers.flatMap((consumer) => consumer.episodes);
  const errors: Record<string, number> = {};
  for (const consumer of consumers) for (const [code, count] of consumer.errors) errors[code] = (errors[code] ?? 0) + count;
  const problems = describeProblems(verdict.problems, ledger, consumers, faults);
  const loss = summarizeLoss(verdict.problems, ledger, consumers);
  if (probeResult !== null && probeResult.stalls.length > 0) {
    const nodes = [...new Set(probeResult.stalls.map((stall) => stall.node))].join(', ');
    failures.push(`probe: ${probeResult.stalls.length} consumer-rooms did not get a publication made on another node within ${options.probeWaitMs} ms (consumers on ${nodes}; rooms ${[...new Set(probeResult.stalls.map((stall) => stall.room))].join(', ')})`);
  }
  for (const drain of faults.flatMap((fault) => fault.drains ?? []).filter((candidate) => !candidate.clean)) {
    failures.push(`${drain.node} (pid ${drain.pid}) took ${drain.tookMs} ms to exit after SIGTERM, code ${drain.code} signal ${drain.signal} (DRAIN_TIMEOUT_MS ${options.drainTimeoutMs})`);
  }
  const openEpisodes = longLived()
    .filter((consumer) => consumer.rooms().length > 0)
    .map((consumer) => consumer.openEpisode())
    .filter((episode) => episode !== undefined);
  if (openEpisodes.length > 0) failures.push(`${openEpisodes.length} consumers never fully recovered from their last disconnect`);
  if (!final.reached) failures.push(`${lagging.length} consumer-rooms did not reach their room's last offset (${options.catchUpMs} ms after the publishers stopped, then after the probe)`);
  const churnStats = resources.churn?.stats;
  if (churnStats !== undefined && churnStats.stalls.length > 0) {
    failures.push(
      `churn: after ${churnStats.stalls.length} of ${churnStats.checks} hand-overs the room's new holder did not get a publication made on another node within ${options.checkMs} ms ` +
        `(${[...new Set(churnStats.stalls.map((stall) => `${stall.room}@${stall.node}`))].join(', ')})`,
    );
  }
  if (resources.churn !== null && resources.churn.stats.errors.length > 0) {
    failures.push(`churn: ${resources.churn.stats.errors.length} joins, leaves or streams failed (${resources.churn.stats.errors.slice(0, 3).join('; ')})`);
  }

  const nginxErrors = (await cluster.nginx?.errorLog().catch(() => '')) ?? '';
  // NGINX's logs go with its temp dir at stop: keep them next to the gateways'.
  const nginxLogs = { error: nginxErrors, access: cluster.nginx === null ? '' : await readFile(join(cluster.nginx.dir, 'access.log'), 'utf8').catch(() => '') };
  const report: ChaosReport = {
    name,
    profile: options.profile,
    topology: options.topology,
    durability: options.durability,
    lossAllowed,
    seed: options.seed,
    command: reproduce,
    startedAt: startedAt.toISOString(),
    originEpochMs: origin,
    durationMs: Date.now() - runStart,
    options,
    passed: failures.length === 0,
    failures,
    totals: verdict.totals,
    recovery: recoveryStats(episodes),
    publishers: publishers.snapshot(),
    refusedBy: refusedBreakdown(ledger, faults),
    catchUp: { reached: first.reached && final.reached, ms: first.ms, afterPublishers: first.reached, afterProbe: final.reached, lagging },
    probe: probeResult,
    churn: churnStats ?? null,
    historyAudit: audit,
    ...(auditSkipped === undefined ? {} : { historyAuditSkipped: auditSkipped }),
    faults,
    rooms: verdict.rooms,
    loss,
    problems,
    consumers: {
      churnRooms: churnRooms.length,
      sdk: subscribers.length,
      sse: resources.streams.length,
      churn: resources.churn?.all.length ?? 0,
      websocketOnly: subscribers.filter((subscriber) => subscriber.transport === 'websocket').length,
      inTwoRooms: subscribers.filter((subscriber) => subscriber.initialRooms.length > 1).length,
      memberships: verdict.subscriptions,
      errors,
    },
    nginx: { errorLogTail: nginxErrors.split('\n').slice(-40).join('\n') },
    timelines: Object.fromEntries(
      consumers.map((consumer) => [
        consumer.id,
        {
          kind: consumer.kind,
          transport: consumer.transport,
          ...(consumer.pinnedNode === undefined ? {} : { node: consumer.pinnedNode }),
          rooms: consumer.rooms(),
          events: consumer.timeline.map((entry) => `${entry.at} ${entry.event}${entry.node === undefined ? '' : ` ${entry.node}`}`),
        },
      ]),
    ),
  };
  noteGateways();
  await cleanup();
  report.durationMs = Date.now() - runStart;
  const path = await writeReport(report);
  const logsDir = await writeLogs(options.artifactsDir, name, [...resources.gateways], nginxLogs);
  process.stdout.write(`\n${formatTable(report)}\n`);
  say(`report: ${path}; gateway logs: ${logsDir}`);
  process.stdout.write(`${summaryLine(report)}\n`);
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
