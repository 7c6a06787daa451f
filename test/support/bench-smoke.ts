/**
 * Runs one benchmark scenario in its smoke size as a child process and returns
 * the JSON report it wrote, so the bench is exercised by `npm test` and never
 * rots. The smoke run asserts that the scenario works, never how fast.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNode } from '../../tools/processes/processes.js';

const distRoot = join(import.meta.dirname, '../..');

export interface SmokeResult {
  report: Record<string, unknown>;
  stdout: string;
  stderr: string;
}

/** `script` is relative to dist/bench, e.g. 'scenarios/fanout.js'. */
export async function runBenchSmoke(script: string, args: string[] = [], timeoutMs = 120_000): Promise<SmokeResult> {
  const child = startNode(join(distRoot, 'bench', script), {}, ['--smoke', ...args]);
  const finished = await child.exited(timeoutMs);
  if (finished.code !== 0) {
    throw new Error(`${script} --smoke exited with ${finished.code ?? finished.signal}:\n${finished.stderr.slice(-4000)}`);
  }
  const match = /report: (\S+\.json)/.exec(finished.stderr);
  if (!match?.[1]) throw new Error(`${script} wrote no report:\n${finished.stderr.slice(-4000)}`);
  const report = JSON.parse(readFileSync(match[1], 'utf8')) as Record<string, unknown>;
  return { report, stdout: finished.stdout, stderr: finished.stderr };
}
