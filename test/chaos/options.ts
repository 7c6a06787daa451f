/**
 * Command line of the chaos runner: a profile (ci or full) gives the defaults,
 * the topology which faults make sense, flags override them. Parsed once,
 * validated, with a usage text on error.
 */
import { parseArgs } from 'node:util';

export const FAULT_KINDS = ['kill', 'cut', 'rolling', 'redis', 'shard', 'rollback', 'churn'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const TOPOLOGIES = ['memory', 'redis', 'cluster'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export type Durability = 'lossy' | 'lossless';

export type Profile = 'ci' | 'full';

/** Which faults each topology can run. */
export const TOPOLOGY_FAULTS: Record<Topology, readonly FaultKind[]> = {
  memory: ['kill', 'cut', 'rolling', 'churn'],
  redis: ['kill', 'cut', 'rolling', 'redis', 'rollback', 'churn'],
  cluster: ['kill', 'cut', 'rolling', 'shard', 'churn'],
};

/**
 * The faults a topology runs by default, in this order within a round. Churn
 * comes last: a node left unsubscribed from a room by a hand-over stays so
 * until the end (a later restart of that node would subscribe it again and
 * hide the bug). The memory topology's kill loses the node's whole history.
 */
export const DEFAULT_FAULTS: Record<Topology, readonly FaultKind[]> = {
  memory: ['cut', 'kill', 'churn'],
  redis: ['kill', 'cut', 'rolling', 'redis', 'churn'],
  cluster: ['kill', 'cut', 'rolling', 'shard', 'churn'],
};

export interface ChaosOptions {
  profile: Profile;
  topology: Topology;
  /** REDIS_DURABILITY given to the gateways: lossy, any Redis restart may have lost writes (rooms start a new epoch); lossless, restarts lose nothing. */
  durability: Durability;
  /** Gateway nodes behind NGINX. */
  nodes: number;
  /** SDK clients through NGINX. */
  clients: number;
  /** SSE consumers through NGINX. */
  sseClients: number;
  rooms: number;
  /** Rooms whose members on one node are handed over by the churn fault (extra rooms, publishers include them). */
  churnRooms: number;
  /** Publications per second, all publishers together. */
  rate: number;
  publishers: number;
  /** Length of the publishing phase (warm-up, faults, settle), in seconds. */
  seconds: number;
  seed: number;
  /** Share of clients in a second room. */
  twoRoomShare: number;
  /** Share of consumers whose connection each `cut` fault closes from the client side. */
  cutShare: number;
  /** How many times the fault sequence runs within `seconds`. */
  rounds: number;
  faults: FaultKind[];
  /** Publishing before the first fault and after the last one, in ms. */
  warmupMs: number;
  settleMs: number;
  /** How long a killed node or Redis stays down, in ms. */
  downMs: number;
  /** How long the churn fault hands rooms over. */
  churnMs: number;
  /** churn: how long the holder has to receive the check publication made on another node after each hand-over. */
  checkMs: number;
  /** rollback: how long publishing goes on between the snapshot and the kill (what the rollback loses). */
  rollbackLagMs: number;
  drainTimeoutMs: number;
  /** Longest wait after the publishers stop for every consumer to reach every room's last offset. */
  catchUpMs: number;
  /** Probe: how long each consumer has to receive a publication made on each node in turn. */
  probeWaitMs: number;
  /** The run is aborted (and fails) after this long, whatever happens. */
  hardLimitMs: number;
  artifactsDir: string;
  /** Appended to the report's name: chaos-<topology>-<profile>[-<label>]. */
  label: string;
  quiet: boolean;
}

type ProfileDefaults = Omit<ChaosOptions, 'profile' | 'topology' | 'durability' | 'seed' | 'artifactsDir' | 'label' | 'quiet' | 'faults'>;

const PROFILES: Record<Profile, ProfileDefaults> = {
  ci: {
    nodes: 3,
    clients: 60,
    sseClients: 12,
    rooms: 12,
    churnRooms: 6,
    rate: 50,
    publishers: 4,
    seconds: 75,
    twoRoomShare: 1 / 3,
    cutShare: 0.25,
    rounds: 1,
    warmupMs: 5_000,
    settleMs: 8_000,
    downMs: 3_000,
    churnMs: 8_000,
    checkMs: 1_500,
    rollbackLagMs: 5_000,
    drainTimeoutMs: 4_000,
    catchUpMs: 30_000,
    probeWaitMs: 3_000,
    hardLimitMs: 175_000,
  },
  full: {
    nodes: 3,
    clients: 200,
    sseClients: 30,
    rooms: 30,
    churnRooms: 9,
    rate: 100,
    publishers: 8,
    seconds: 300,
    twoRoomShare: 1 / 3,
    cutShare: 0.3,
    rounds: 3,
    warmupMs: 5_000,
    settleMs: 10_000,
    downMs: 4_000,
    churnMs: 15_000,
    checkMs: 1_500,
    rollbackLagMs: 6_000,
    drainTimeoutMs: 5_000,
    catchUpMs: 30_000,
    probeWaitMs: 3_000,
    hardLimitMs: 600_000,
  },
};

export const USAGE = `usage: node dist/test/chaos/run-chaos.js [--topology memory|redis|cluster] [--profile ci|full] [--faults kill,cut,...]
       [--clients N] [--sse N] [--rooms N] [--churn-rooms N] [--rate N] [--seconds N] [--seed N] [--publishers N]
       [--rounds N] [--durability lossy|lossless] [--artifacts DIR] [--label NAME] [--quiet]

  --topology    memory: one node, everything in memory (no Redis); redis (default): 3 nodes + one redis-server
                (classic adapter); cluster: 3 nodes + a three-master Redis Cluster (sharded adapter). NGINX in front.
  --profile     ci (default): ~75 s of publishing with one round of faults; full: 300 s, three rounds, more clients
  --faults      which faults run, in this order within a round (default per topology:
                memory ${DEFAULT_FAULTS.memory.join(',')}; redis ${DEFAULT_FAULTS.redis.join(',')}; cluster ${DEFAULT_FAULTS.cluster.join(',')})
                kill, cut, rolling, churn: every topology; redis, rollback: redis; shard: cluster
  --clients     SDK clients through NGINX (a third of them in two rooms; half WebSocket-only)
  --sse         SSE consumers through NGINX (GET /sse, resumed with Last-Event-ID)
  --rooms       rooms the clients are spread over
  --churn-rooms rooms handed over by the churn fault, each on its own node (0: none)
  --rate        publications per second, all publishers together (HTTP API of random nodes)
  --seconds     length of the publishing phase; the faults are spread over it
  --seed        seed of every random choice (rooms, targets, which node, which clients); default: random
  --rounds      how many times the fault sequence runs
  --durability  REDIS_DURABILITY of the gateways (default: $REDIS_DURABILITY, else lossy with rollback, else lossless)
  --artifacts   where the JSON report and the logs go (default: test-artifacts)
  --label       appended to the report's name: chaos-<topology>-<profile>-<label>.json
  --quiet       no progress lines`;

export class UsageError extends Error {}

export function parseChaosArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ChaosOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      profile: { type: 'string' },
      topology: { type: 'string' },
      durability: { type: 'string' },
      clients: { type: 'string' },
      sse: { type: 'string' },
      rooms: { type: 'string' },
      'churn-rooms': { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      seed: { type: 'string' },
      publishers: { type: 'string' },
      rounds: { type: 'string' },
      faults: { type: 'string' },
      artifacts: { type: 'string' },
      label: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) throw new UsageError('');
  const profile = values.profile ?? 'ci';
  if (profile !== 'ci' && profile !== 'full') throw new UsageError(`--profile must be ci or full, got ${profile}`);
  const topology = values.topology ?? 'redis';
  if (!(TOPOLOGIES as readonly string[]).includes(topology)) throw new UsageError(`--topology must be one of ${TOPOLOGIES.join(', ')}, got ${topology}`);
  const base = PROFILES[profile];
  const integer = (name: string, value: string | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
    return parsed;
  };
  const top = topology as Topology;
  const faults = values.faults === undefined ? [...DEFAULT_FAULTS[top]] : values.faults.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
  for (const kind of faults) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--faults: unknown fault ${kind} (known: ${FAULT_KINDS.join(', ')})`);
    if (!TOPOLOGY_FAULTS[top].includes(kind as FaultKind)) throw new UsageError(`--faults: ${kind} does not apply to the ${topology} topology (it runs ${TOPOLOGY_FAULTS[top].join(', ')})`);
  }
  const durabilityRaw = values.durability ?? env.REDIS_DURABILITY?.trim() ?? (faults.includes('rollback') ? 'lossy' : 'lossless');
  if (durabilityRaw !== 'lossy' && durabilityRaw !== 'lossless') throw new UsageError(`--durability (or REDIS_DURABILITY) must be lossy or lossless, got ${durabilityRaw}`);
  const label = values.label ?? '';
  if (!/^[A-Za-z0-9_-]{0,40}$/.test(label)) throw new UsageError(`--label: letters, digits, _ and - only, got ${label}`);
  const seconds = integer('seconds', values.seconds, base.seconds, 10, 3_600);
  const options: ChaosOptions = {
    ...base,
    profile,
    topology: top,
    durability: durabilityRaw,
    nodes: top === 'memory' ? 1 : base.nodes,
    clients: integer('clients', values.clients, base.clients, 1, 5_000),
    sseClients: integer('sse', values.sse, base.sseClients, 0, 2_000),
    rooms: integer('rooms', values.rooms, base.rooms, 1, 1_000),
    churnRooms: integer('churn-rooms', values['churn-rooms'], base.churnRooms, 0, 100),
    rate: integer('rate', values.rate, base.rate, 1, 2_000),
    seconds,
    seed: integer('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31 - 1),
    publishers: integer('publishers', values.publishers, base.publishers, 1, 64),
    rounds: integer('rounds', values.rounds, base.rounds, 1, 20),
    faults: faults as FaultKind[],
    artifactsDir: values.artifacts ?? 'test-artifacts',
    label,
    quiet: values.quiet ?? false,
  };
  // A longer run than the profile's gets a proportionally later hard limit.
  options.hardLimitMs = Math.max(base.hardLimitMs, (seconds + 70) * 1_000 + options.catchUpMs);
  return options;
}

/** The report's base name: chaos-<topology>-<profile>[-<label>]. */
export function runName(options: Pick<ChaosOptions, 'topology' | 'profile' | 'label'>): string {
  return `chaos-${options.topology}-${options.profile}${options.label === '' ? '' : `-${options.label}`}`;
}

/**
 * Whether a fault of this run can lose acknowledged data, which allows rooms to
 * start a new epoch and consumers to get gaps with it (see the verdict):
 * - rollback: Redis restarted from an older copy of its files;
 * - memory topology, kill or rolling: the node's history lives in its memory;
 * - redis or shard with REDIS_DURABILITY=lossy: the gateways are told a Redis
 *   restart may have lost writes, so they may start new epochs (with
 *   `appendfsync always` nothing is lost, but they cannot know that).
 */
export function faultsCanLoseData(options: Pick<ChaosOptions, 'topology' | 'faults' | 'durability'>): boolean {
  return options.faults.some(
    (kind) =>
      kind === 'rollback' ||
      (options.topology === 'memory' && (kind === 'kill' || kind === 'rolling')) ||
      (options.durability === 'lossy' && (kind === 'redis' || kind === 'shard')),
  );
}
