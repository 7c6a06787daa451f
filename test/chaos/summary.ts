/**
 * One line per chaos run, from their JSON reports: what .ci/run prints after
 * running the suite on every topology.
 *
 *   node dist/test/chaos/summary.js test-artifacts/chaos-memory-ci.json test-artifacts/chaos-redis-ci.json ...
 *
 * Exits 1 when a report is missing or a run failed.
 */
import { readFile } from 'node:fs/promises';
import { summaryLine, type ChaosReport } from './report.js';

async function main(paths: readonly string[]): Promise<number> {
  let failed = false;
  for (const path of paths) {
    let report: ChaosReport;
    try {
      report = JSON.parse(await readFile(path, 'utf8')) as ChaosReport;
    } catch (error) {
      process.stdout.write(`${path}: no report (${(error as Error).message})\n`);
      failed = true;
      continue;
    }
    failed ||= !report.passed;
    process.stdout.write(`${summaryLine(report)}\n`);
    for (const failure of report.failures.slice(0, 6)) process.stdout.write(`    ${failure}\n`);
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
