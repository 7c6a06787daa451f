/**
 * Command line of the chaos runner: a profile (ci or full) gives the defaults,
 * flags override them. Parsed once, validated, with a usage text on error.
 */
import { parseArgs } from 'node:util';

export const FAULT_KINDS = ['kill', 'cut', 'rolling', 'redis'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type Profile = 'ci' | 'full';

export interface ChaosOptions {
  profile: Profile;
  /** Gateway nodes behind NGINX. */
  nodes: number;
  clients: number;
  rooms: number;
  /** Publications per second, all publishers together. */
  rate: number;
  publishers: number;
  /** Length of the publishing phase (warm-up, faults, settle), in seconds. */
  seconds: number;
  seed: number;
  /** Share of clients in a second room. */
  twoRoomShare: number;
  /** Share of clients whose connection each `cut` fault closes from the client side. */
  cutShare: number;
  /** How many times the fault sequence runs within `seconds`. */
  rounds: number;
  faults: FaultKind[];
  /** Publishing before the first fault and after the last one, in ms. */
  warmupMs: number;
  settleMs: number;
  /** How long a killed node or Redis stays down, in ms. */
  downMs: number;
  drainTimeoutMs: number;
  /** Longest wait after the publishers stop for every client to reach every room's last offset. */
  catchUpMs: number;
  /** The run is aborted (and fails) after this long, whatever happens. */
  hardLimitMs: number;
  artifactsDir: string;
  quiet: boolean;
}

const PROFILES: Record<Profile, Omit<ChaosOptions, 'profile' | 'seed' | 'artifactsDir' | 'quiet' | 'faults'>> = {
  ci: {
    nodes: 3,
    clients: 60,
    rooms: 12,
    rate: 50,
    publishers: 4,
    seconds: 75,
    twoRoomShare: 1 / 3,
    cutShare: 0.25,
    rounds: 1,
    warmupMs: 5_000,
    settleMs: 8_000,
    downMs: 3_000,
    drainTimeoutMs: 4_000,
    catchUpMs: 30_000,
    hardLimitMs: 175_000,
  },
  full: {
    nodes: 3,
    clients: 200,
    rooms: 30,
    rate: 100,
    publishers: 8,
    seconds: 300,
    twoRoomShare: 1 / 3,
    cutShare: 0.3,
    rounds: 3,
    warmupMs: 5_000,
    settleMs: 10_000,
    downMs: 4_000,
    drainTimeoutMs: 5_000,
    catchUpMs: 30_000,
    hardLimitMs: 600_000,
  },
};

export const USAGE = `usage: node dist/test/chaos/run-chaos.js [--profile ci|full] [--clients N] [--rooms N] [--rate N]
       [--seconds N] [--seed N] [--publishers N] [--rounds N] [--faults kill,cut,rolling,redis] [--artifacts DIR] [--quiet]

  --profile     ci (default): ~75 s of publishing with one round of faults; full: 300 s, three rounds, more clients
  --clients     SDK clients through NGINX (a third of them in two rooms; half WebSocket-only)
  --rooms       rooms the clients are spread over
  --rate        publications per second, all publishers together (HTTP API of random nodes)
  --seconds     length of the publishing phase; the faults are spread over it
  --seed        seed of every random choice (rooms, targets, which node, which clients); default: random
  --rounds      how many times the fault sequence runs
  --faults      which faults run, in this order within a round (default: all)
  --artifacts   where the JSON report goes (default: test-artifacts)
  --quiet       no progress lines`;

export class UsageError extends Error {}

export function parseChaosArgs(argv: readonly string[]): ChaosOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      profile: { type: 'string' },
      clients: { type: 'string' },
      rooms: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      seed: { type: 'string' },
      publishers: { type: 'string' },
      rounds: { type: 'string' },
      faults: { type: 'string' },
      artifacts: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) throw new UsageError('');
  const profile = values.profile ?? 'ci';
  if (profile !== 'ci' && profile !== 'full') throw new UsageError(`--profile must be ci or full, got ${profile}`);
  const base = PROFILES[profile];
  const integer = (name: string, value: string | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
    return parsed;
  };
  const faults = values.faults === undefined ? [...FAULT_KINDS] : values.faults.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
  for (const kind of faults) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--faults: unknown fault ${kind} (known: ${FAULT_KINDS.join(', ')})`);
  }
  const seconds = integer('seconds', values.seconds, base.seconds, 10, 3_600);
  const options: ChaosOptions = {
    ...base,
    profile,
    clients: integer('clients', values.clients, base.clients, 1, 5_000),
    rooms: integer('rooms', values.rooms, base.rooms, 1, 1_000),
    rate: integer('rate', values.rate, base.rate, 1, 2_000),
    seconds,
    seed: integer('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31 - 1),
    publishers: integer('publishers', values.publishers, base.publishers, 1, 64),
    rounds: integer('rounds', values.rounds, base.rounds, 1, 20),
    faults: faults as FaultKind[],
    artifactsDir: values.artifacts ?? 'test-artifacts',
    quiet: values.quiet ?? false,
  };
  // A longer run than the profile's gets a proportionally later hard limit.
  options.hardLimitMs = Math.max(base.hardLimitMs, (seconds + 70) * 1_000 + options.catchUpMs);
  return options;
}
