/**
 * The skeleton every benchmark scenario shares, written once: read the command
 * line, run the measured rounds (each run goes over the scenario's units in
 * order: targets, modes or variants, interleaved per run), then print the
 * Markdown report and write it with its JSON to bench/reports/, all under an
 * overall time limit that kills every child on the way out.
 *
 * A scenario file holds only what is its own: its options, one round, and what
 * its report says:
 *
 *   runScenario({ name, options, timeLimitMs, units, describe, run, report });
 */
import { argValue, machineLine, median, round, runMain, writeReport } from './harness.js';

/** What every scenario's options carry. */
export interface ScenarioOptions {
  runs: number;
  smoke: boolean;
}

/** The command line of a scenario, read the same way by every one. */
export interface ScenarioArgs {
  readonly argv: string[];
  /** `--smoke`: the few-seconds size the test suite runs. */
  readonly smoke: boolean;
  /** `--name value`, or undefined. */
  get(name: string): string | undefined;
  /** Whether the bare flag `--name` is given. */
  has(name: string): boolean;
  /** `--name value` as a number, `fallback` when absent. */
  number(name: string, fallback: number): number;
  /** `--name a,b,c`, each one of `allowed` (else an error naming the valid ones); `fallback` when absent. */
  list<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[];
}

export function scenarioArgs(argv: string[]): ScenarioArgs {
  const get = (name: string): string | undefined => argValue(argv, name);
  return {
    argv,
    smoke: argv.includes('--smoke'),
    get,
    has: (name) => argv.includes(`--${name}`),
    number: (name, fallback) => Number(get(name) ?? fallback),
    list: <T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] => {
      const values = (get(name) ?? fallback.join(',')).split(',').map((value) => value.trim()) as T[];
      for (const value of values) if (!allowed.includes(value)) throw new Error(`unknown ${name.replace(/s$/, '')} ${value} (${allowed.join(', ')})`);
      return values;
    },
  };
}

/** What one round is given. */
export interface Round<O, S> {
  options: O;
  /** 0-based index of the run. */
  run: number;
  /** What `setup` opened for every round (e.g. one redis-server). */
  shared: S;
}

/** What the report step is given. */
export interface ReportContext<O, S> {
  options: O;
  /** The command that ran, as the report quotes it. */
  command: string;
  /** What `setup` returned (closed by now). */
  shared: S;
}

export interface ScenarioReport {
  /** Printed on stdout and written as bench/reports/<name>-<time>.md. */
  markdown: string;
  /** The JSON report after `command` and `options` (an `options` here replaces the parsed ones in place). */
  json: Record<string, unknown>;
}

export interface Scenario<O extends ScenarioOptions, U, R, S = undefined> {
  /** The report name and the script, dist/bench/scenarios/<name>.js. */
  name: string;
  options(args: ScenarioArgs): O;
  /** The overall time limit: past it every child is killed and the process exits 2. */
  timeLimitMs(options: O): number;
  /** What each run measures, in order (targets, modes, variants); one round per run when absent. */
  units?(options: O, run: number): readonly U[];
  /** The progress line (stderr) before a round. */
  describe?(unit: U, options: O, run: number): string;
  /** One measured round. */
  run(unit: U, round: Round<O, S>): Promise<R>;
  /** After the last round (and any follow-up measurement it needs, such as a profile): the report. */
  report(results: R[], context: ReportContext<O, S>): ScenarioReport | Promise<ScenarioReport>;
  /** The command quoted in the report; by default `node dist/bench/scenarios/<name>.js <args>`. */
  command?(options: O, argv: string[]): string;
  /** Opened before the first round (e.g. one redis-server for every round), closed after the last. */
  setup?(options: O): Promise<S & { close?(): Promise<void> }>;
}

/**
 * Runs `scenario` from the command line (process.argv): the rounds of every run,
 * then the report on stdout and in bench/reports/; exits 0, 1 on an error, 2 past
 * the time limit, every child killed.
 */
export function runScenario<O extends ScenarioOptions, U = undefined, R = unknown, S = undefined>(scenario: Scenario<O, U, R, S>, argv = process.argv.slice(2)): void {
  const options = scenario.options(scenarioArgs(argv));
  runMain(scenario.name, () => measureAndReport(scenario, options, argv), scenario.timeLimitMs(options));
}

async function measureAndReport<O extends ScenarioOptions, U, R, S>(scenario: Scenario<O, U, R, S>, options: O, argv: string[]): Promise<void> {
  const command = scenario.command?.(options, argv) ?? `node dist/bench/scenarios/${scenario.name}.js ${argv.join(' ')}`.trim();
  const shared = await scenario.setup?.(options);
  const results: R[] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      for (const unit of scenario.units?.(options, run) ?? [undefined as U]) {
        if (scenario.describe) process.stderr.write(`${scenario.describe(unit, options, run)}\n`);
        results.push(await scenario.run(unit, { options, run, shared: shared as S }));
      }
    }
  } finally {
    await shared?.close?.();
  }
  const { markdown, json } = await scenario.report(results, { options, command, shared: shared as S });
  process.stdout.write(markdown);
  writeReport(scenario.name, options.smoke, { command, options, ...json }, markdown);
}

// ---------- what the reports have in common

/** The top of every scenario's Markdown report: title, command, machine (and what the runs were). */
export function reportHeader(title: string, command: string, setting?: string): string[] {
  return [`# ${title}`, '', `Command: \`${command}\`  `, `Machine: ${machineLine()}${setting !== undefined ? `; ${setting}` : ''}`, ''];
}

/** The median of one figure over `items`, rounded. */
export function medianOf<T>(items: readonly T[], pick: (item: T) => number, digits = 2): number {
  return round(median(items.map(pick)), digits);
}
