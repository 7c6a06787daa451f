/**
 * Where a process's time goes, from Linux `perf` samples (bench/lib/perf-record.ts),
 * by what owns it: the kernel, V8's GC, V8's compiler, each JavaScript package
 * (with the V8 builtins and inline-cache handlers its code calls), Node's own
 * JavaScript, and native code with no JavaScript on the stack (the event loop,
 * libuv, Node's C++). Given two recordings of two targets doing the same job, it
 * prints them side by side with the difference, so a gap between them can be
 * placed: in Roomcast's code, in the libraries both run, in GC or in the kernel.
 *
 *   node dist/bench/perf-summary.js A.data [B.data] [--frame <regex> ...] [--symbols 20]
 *
 * --frame: also counts the samples with a frame matching the regex anywhere on
 * the stack (time spent inside that function and everything it calls).
 * --symbols: the N leaf symbols that differ most between A and B.
 * Sample counts are comparable between A and B when both were recorded for the
 * same time at the same rate (idle-hold --perf-dir does so).
 */
import { basename } from 'node:path';
import { forEachPerfSample, type PerfSample } from './lib/perf-record.js';
import { table } from './lib/harness.js';
import { packageOf as scriptPackageOf } from './profile-summary.js';

const GC = /Scaveng|MarkCompact|ConcurrentMarking|IncrementalMarking|MarkingVisitor|MarkingBarrier|Sweeper|GCTracer|Evacuat|RememberedSet|SlotSet|ArrayBufferSweeper|MinorMark|Heap::|HeapObject::SizeFromMap|BodyDescriptor|MemoryChunk|Page::|NewSpace|PagedSpace/;
const COMPILER = /compiler::|maglev::|Maglev|baseline::|BaselineBatchCompiler|Compiler::|CompileLazy|Parser::|Parse[A-Z]|BytecodeGenerator|interpreter::/;

/**
 * The package a JavaScript frame's code belongs to, by the rule the inspector's summary uses
 * (profile-summary.ts): a perf JIT frame is `JS:<tier><function> <script>:<line>:<column>`.
 */
export function packageOf(symbol: string): string {
  const [, name = '', location = ''] = /^JS:[*~^+-]?(.*?)\s*(\S*)$/.exec(symbol) ?? [];
  const script = location.replace(/:\d+:\d+$/, '').replace(/^file:\/\//, '');
  // No script: code made by eval or new Function (zod's compiled checks, say), still JavaScript.
  return script === '' ? 'other JavaScript (eval)' : scriptPackageOf(script, name);
}

/** What owns a sample: the leaf decides kernel, GC and compiler; anything else goes to the nearest JavaScript frame's package. */
export function ownerOf(sample: PerfSample): string {
  const leaf = sample.frames[0];
  if (leaf === undefined) return 'unknown';
  if (leaf.kernel) return 'kernel (system calls, TCP, scheduling)';
  if (!leaf.symbol.startsWith('JS:')) {
    if (GC.test(leaf.symbol)) return 'V8 garbage collection';
    if (COMPILER.test(leaf.symbol)) return 'V8 compiler';
  }
  const js = sample.frames.find((frame) => frame.symbol.startsWith('JS:'));
  if (js === undefined) return 'native, no JavaScript on the stack (event loop, libuv, Node C++)';
  return `JS: ${packageOf(js.symbol)}`;
}

interface Tally {
  samples: number;
  owners: Map<string, number>;
  leaves: Map<string, number>;
  frames: Map<string, number>;
}

async function tally(file: string, framePatterns: RegExp[]): Promise<Tally> {
  const result: Tally = { samples: 0, owners: new Map(), leaves: new Map(), frames: new Map() };
  const add = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
  await forEachPerfSample(file, (sample) => {
    result.samples += 1;
    add(result.owners, ownerOf(sample));
    // JIT tiers (*, ~, ^) of one function are one function here.
    add(result.leaves, (sample.frames[0]?.symbol ?? '').replace(/^JS:[*~^+-]?/, 'JS:'));
    for (const pattern of framePatterns) if (sample.frames.some((frame) => pattern.test(frame.symbol))) add(result.frames, pattern.source);
  });
  return result;
}

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

function rows(keys: Iterable<string>, tallies: Tally[], pick: (t: Tally) => Map<string, number>): Array<Array<string | number>> {
  const [a, b] = tallies as [Tally, Tally | undefined];
  const ordered = [...new Set(keys)].sort((x, y) => (pick(a).get(y) ?? 0) - (pick(a).get(x) ?? 0));
  return ordered.map((key) => {
    const na = pick(a).get(key) ?? 0;
    if (b === undefined) return [key, na, pct(na, a.samples)];
    const nb = pick(b).get(key) ?? 0;
    return [key, na, pct(na, a.samples), nb, pct(nb, b.samples), na - nb, nb > 0 ? (na / nb).toFixed(2) : '-'];
  });
}

/** Samples per owner of one recording (what idle-hold --perf-dir keeps per run). */
export interface PerfOwners {
  samples: number;
  owners: Record<string, number>;
}

export async function perfOwners(file: string): Promise<PerfOwners> {
  const t = await tally(file, []);
  return { samples: t.samples, owners: Object.fromEntries(t.owners) };
}

/** Two recordings' owners side by side (A, B, A - B, A / B), or one recording's. */
export function ownersMarkdown(named: Array<{ name: string } & PerfOwners>): string {
  const tallies = named.map((n): Tally => ({ samples: n.samples, owners: new Map(Object.entries(n.owners)), leaves: new Map(), frames: new Map() }));
  return ownersTable(tallies, named.map((n) => n.name));
}

function head(tallies: Tally[], names: string[], first: string): string[] {
  return tallies.length === 1 ? [first, 'samples', 'share'] : [first, `${names[0]} samples`, 'share', `${names[1]} samples`, 'share', 'difference', 'ratio'];
}

function ownersTable(tallies: Tally[], names: string[]): string {
  const total = tallies.length === 1 ? [['all samples', tallies[0]?.samples ?? 0, '100%']] : rows(['all'], tallies, (t) => new Map([['all', t.samples]]));
  return table(head(tallies, names, 'owner'), [...total, ...rows(tallies.flatMap((t) => [...t.owners.keys()]), tallies, (t) => t.owners)]);
}

export async function perfSummaryMarkdown(files: string[], framePatterns: RegExp[] = [], symbols = 0): Promise<string> {
  const tallies = await Promise.all(files.map((file) => tally(file, framePatterns)));
  const names = files.map((file) => basename(file));
  const out = [ownersTable(tallies, names)];
  if (framePatterns.length > 0) {
    out.push('', table(head(tallies, names, 'samples with a frame matching'), rows(framePatterns.map((p) => p.source), tallies, (t) => t.frames)));
  }
  if (symbols > 0 && tallies.length === 2) {
    const [a, b] = tallies as [Tally, Tally];
    const keys = [...new Set([...a.leaves.keys(), ...b.leaves.keys()])];
    const diff = (key: string): number => (a.leaves.get(key) ?? 0) - (b.leaves.get(key) ?? 0);
    const top = keys.sort((x, y) => Math.abs(diff(y)) - Math.abs(diff(x))).slice(0, symbols);
    out.push('', table(['leaf symbol (most different)', names[0] ?? 'A', names[1] ?? 'B', 'difference'], top.map((key) => [key.slice(0, 140), a.leaves.get(key) ?? 0, b.leaves.get(key) ?? 0, diff(key)])));
  }
  return out.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) {
  const args = process.argv.slice(2);
  const files: string[] = [];
  const frames: RegExp[] = [];
  let symbols = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--frame') frames.push(new RegExp(args[++i] ?? ''));
    else if (arg === '--symbols') symbols = Number(args[++i] ?? 0);
    else files.push(arg);
  }
  if (files.length < 1 || files.length > 2) {
    process.stderr.write('usage: node dist/bench/perf-summary.js A.data [B.data] [--frame <regex> ...] [--symbols N]\n');
    process.exit(2);
  }
  process.stdout.write(`${await perfSummaryMarkdown(files, frames, symbols)}\n`);
}
