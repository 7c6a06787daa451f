/**
 * Runs every scenario of docs/performance.md once, one after the other, at the
 * sizes the final report uses, within a time budget, then rebuilds the doc:
 *
 *   npm run bench:all -- [--budget-min 50] [--runs N] [--only a,b] [--skip a,b] [--dry-run] [--smoke] [--no-report]
 *
 * The plan below says, per scenario, the arguments and how long it took at that
 * size on the project's 2-core machine (an estimate: the machine before issue 16;
 * faster connection ramps shorten the headline and idle-hold). Before each scenario
 * the runner checks that its estimate still fits the budget; one that does not is
 * skipped and named (its target then reads "not measured", or keeps an older report).
 * `--runs N` replaces every scenario's runs (N = 1: about a third of the time where
 * a scenario runs 3). Every scenario writes its report to bench/reports/; the
 * runner writes bench/reports/bench-all-<time>.json with what ran, for how long, and
 * its exit code, and runs bench/report.ts at the end (`--no-report`: not).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { argValue, repoRoot } from './lib/harness.js';

interface Step {
  scenario: string;
  /** Arguments at the final report's size (see docs/performance.md, "How to reproduce"). */
  args: string[];
  /** Minutes at that size on the 2-core machine. */
  estimateMin: number;
  /** Whether the size's runs may be replaced by `--runs`. */
  runs: number;
}

/** In order of issue 16's targets; the two scenarios without an issue 16 target come last. */
export const PLAN: Step[] = [
  // 3 runs x 3 targets at 10,000 connections instead of 19,500 (~15 min): the per-connection figures are slopes over the ramp.
  { scenario: 'capacity', args: ['--connections', '10000', '--step', '2000'], estimateMin: 8, runs: 3 },
  { scenario: 'fanout', args: [], estimateMin: 3, runs: 3 },
  { scenario: 'publish-cost', args: [], estimateMin: 3, runs: 3 },
  // 2 nodes (the issue's topology), 30 s idle + 30 s at 500/s, per target and run.
  { scenario: 'cross-node', args: [], estimateMin: 6, runs: 3 },
  { scenario: 'reconnect-storm', args: [], estimateMin: 8, runs: 3 },
  // 100,000 over 6 nodes, 60 s of load after the ramp (the issue's own rerun: --seconds 60).
  { scenario: 'headline', args: ['--seconds', '60'], estimateMin: 7, runs: 1 },
  // 100,000 idle over 6 nodes, Roomcast then plain Socket.IO, 30 s hold each after 10 s settle, then 30 s of the
  // headline's publication load on both (the headline's p99 gets a baseline from the same machine).
  { scenario: 'idle-hold', args: ['--hold-s', '30', '--load-s', '30'], estimateMin: 10, runs: 1 },
  // Not issue 16's targets: one run each keeps the whole set near 50 minutes.
  { scenario: 'history-cost', args: [], estimateMin: 3, runs: 1 },
  { scenario: 'large-room', args: [], estimateMin: 3, runs: 1 },
];

interface Outcome {
  scenario: string;
  args: string[];
  estimateMin: number;
  status: 'ran' | 'failed' | 'skipped (budget)' | 'dry run';
  code?: number | null;
  minutes?: number;
}

function runOne(scenario: string, args: string[]): Promise<number | null> {
  return new Promise((resolveCode) => {
    const child = spawn(process.execPath, [join(repoRoot, 'dist/bench/scenarios', `${scenario}.js`), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    const stop = (): void => {
      child.kill('SIGINT');
    };
    process.once('SIGINT', stop);
    child.on('exit', (code) => {
      process.off('SIGINT', stop);
      resolveCode(code);
    });
  });
}

function runReport(): Promise<number | null> {
  return new Promise((resolveCode) => {
    spawn(process.execPath, [join(repoRoot, 'dist/bench/report.js')], { stdio: 'inherit' }).on('exit', resolveCode);
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const budgetMin = Number(argValue(argv, 'budget-min') ?? 50);
  const runsArg = argValue(argv, 'runs');
  const only = argValue(argv, 'only')?.split(',');
  const skip = argValue(argv, 'skip')?.split(',') ?? [];
  const smoke = argv.includes('--smoke');
  const dryRun = argv.includes('--dry-run');
  const steps = PLAN.filter((s) => (only === undefined || only.includes(s.scenario)) && !skip.includes(s.scenario));
  const runsOf = (step: Step): number => (runsArg !== undefined ? Number(runsArg) : step.runs);
  // Estimates scale with runs where a scenario repeats them.
  const estimate = (step: Step): number => (smoke ? 0.5 : Math.round(((step.estimateMin * runsOf(step)) / step.runs) * 10) / 10);
  const argsOf = (step: Step): string[] => (smoke ? ['--smoke'] : [...step.args, '--runs', String(runsOf(step))]);
  process.stderr.write(`bench:all, budget ${budgetMin} min:\n${steps.map((s) => `  ${s.scenario} ${argsOf(s).join(' ')}  (~${estimate(s)} min)`).join('\n')}\n  total ~${Math.round(steps.reduce((a, s) => a + estimate(s), 0))} min\n`);
  const began = Date.now();
  const outcomes: Outcome[] = [];
  for (const step of steps) {
    const args = argsOf(step);
    const spent = (Date.now() - began) / 60_000;
    if (dryRun) {
      outcomes.push({ scenario: step.scenario, args, estimateMin: estimate(step), status: 'dry run' });
      continue;
    }
    if (spent + estimate(step) > budgetMin) {
      process.stderr.write(`bench:all: ${step.scenario} skipped: ${spent.toFixed(1)} min spent + ~${estimate(step)} min > budget ${budgetMin} min\n`);
      outcomes.push({ scenario: step.scenario, args, estimateMin: estimate(step), status: 'skipped (budget)' });
      continue;
    }
    process.stderr.write(`bench:all: ${step.scenario} ${args.join(' ')} (~${estimate(step)} min; ${spent.toFixed(1)} min spent)\n`);
    const started = Date.now();
    const code = await runOne(step.scenario, args);
    const minutes = Math.round(((Date.now() - started) / 60_000) * 10) / 10;
    outcomes.push({ scenario: step.scenario, args, estimateMin: estimate(step), status: code === 0 ? 'ran' : 'failed', code, minutes });
    process.stderr.write(`bench:all: ${step.scenario} ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${minutes} min\n`);
  }
  const dir = join(repoRoot, 'bench/reports');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-all-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}${smoke ? '-smoke' : ''}.log.json`);
  writeFileSync(file, `${JSON.stringify({ budgetMin, smoke, minutes: Math.round(((Date.now() - began) / 60_000) * 10) / 10, outcomes }, null, 2)}\n`);
  process.stderr.write(`bench:all: ${outcomes.map((o) => `${o.scenario} ${o.status}${o.minutes !== undefined ? ` ${o.minutes} min` : ''}`).join(', ')}\nbench:all: ${file}\n`);
  if (!dryRun && !smoke && !argv.includes('--no-report')) await runReport();
  if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:all failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
