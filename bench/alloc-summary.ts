/**
 * Who allocates on a loaded node: a V8 sampling heap profile (`.heapprofile`, the
 * inspector's HeapProfiler sampling with the objects minor and major GCs collected
 * kept in) summed by the package whose function made each allocation, by the rule
 * the CPU summaries use (profile-summary.ts `packageOf`). Allocation volume is what
 * sets how often the young generation is scavenged, so this tells a GC share that
 * belongs to Roomcast from one that belongs to the libraries both servers run.
 *
 *   node dist/bench/alloc-summary.js node1.heapprofile [node2.heapprofile ...] [--per N]
 *
 * --per N: also print bytes per unit of work (N publications, say) over all files.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { table } from './lib/harness.js';
import { packageOf } from './profile-summary.js';

/** A node of V8's sampling heap profile (Chrome DevTools Protocol `HeapProfiler.SamplingHeapProfileNode`). */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface HeapProfile {
  head: HeapProfileNode;
}

export interface AllocationSummary {
  totalBytes: number;
  byPackage: Array<{ name: string; bytes: number; share: number }>;
  topFunctions: Array<{ name: string; where: string; bytes: number; share: number }>;
}

/** Bytes allocated by package and by function (self: the function that made the object), over one or more profiles. */
export function summarizeAllocations(profiles: HeapProfile[], top = 20): AllocationSummary {
  const packages = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; bytes: number }>();
  let totalBytes = 0;
  const visit = (node: HeapProfileNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      // V8's own frames ("(V8 API)", "(root)") have no script: count them as native.
      const owner = packageOf(url, functionName);
      packages.set(owner, (packages.get(owner) ?? 0) + node.selfSize);
      const where = `${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}`;
      const key = `${functionName}@${where}`;
      const entry = functions.get(key) ?? { name: functionName || '(anonymous)', where, bytes: 0 };
      entry.bytes += node.selfSize;
      functions.set(key, entry);
    }
    for (const child of node.children) visit(child);
  };
  for (const profile of profiles) visit(profile.head);
  const share = (bytes: number): number => (totalBytes > 0 ? Math.round((bytes / totalBytes) * 1000) / 10 : 0);
  return {
    totalBytes,
    byPackage: [...packages.entries()].sort((a, b) => b[1] - a[1]).map(([name, bytes]) => ({ name, bytes, share: share(bytes) })),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top)
      .map((f) => ({ ...f, share: share(f.bytes) })),
  };
}

const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

export function allocationMarkdown(summary: AllocationSummary, per?: { count: number; unit: string }): string {
  const perUnit = (bytes: number): string => (per !== undefined && per.count > 0 ? String(Math.round(bytes / per.count)) : '-');
  return [
    `Sampled allocations: ${mb(summary.totalBytes)} MB${per !== undefined ? ` (${perUnit(summary.totalBytes)} bytes per ${per.unit}, ${per.count} ${per.unit}s)` : ''}.`,
    '',
    table(
      ['package', 'MB', 'share', `bytes per ${per?.unit ?? 'unit'}`],
      summary.byPackage.slice(0, 15).map((p) => [p.name, mb(p.bytes), `${p.share}%`, perUnit(p.bytes)]),
    ),
    '',
    table(
      ['function', 'where', 'MB', 'share'],
      summary.topFunctions.map((f) => [f.name, f.where, mb(f.bytes), `${f.share}%`]),
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const perAt = args.indexOf('--per');
  const count = perAt >= 0 ? Number(args[perAt + 1]) : undefined;
  const files = args.filter((_, i) => perAt < 0 || (i !== perAt && i !== perAt + 1));
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/alloc-summary.js A.heapprofile [B.heapprofile ...] [--per N]\n');
    process.exit(2);
  }
  const summary = summarizeAllocations(files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as HeapProfile));
  process.stdout.write(`${allocationMarkdown(summary, count !== undefined ? { count, unit: 'unit' } : undefined)}\n`);
}
