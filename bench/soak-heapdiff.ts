/**
 * Compares two V8 heap snapshots (.heapsnapshot, as v8.writeHeapSnapshot
 * writes them) by object class: count and self size of each constructor (or
 * internal type) in both, sorted by growth. With --retainers <class>, also
 * lists what holds the objects of that class in the second snapshot (owner
 * class and edge name), which points at the module keeping them alive.
 *
 *   node dist/bench/soak-heapdiff.js before.heapsnapshot after.heapsnapshot [--top 30] [--retainers Socket]
 *
 * bench/soak-churn.ts --snapshots uses the same functions on its baseline and final snapshots.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface ClassFigures {
  count: number;
  selfSize: number;
}

export interface ClassDelta {
  name: string;
  countBefore: number;
  countAfter: number;
  countDelta: number;
  sizeDelta: number;
}

export interface Retainer {
  retainer: string;
  edge: string;
  count: number;
}

export class HeapSnapshot {
  private readonly raw: RawSnapshot;
  private readonly nodeFieldCount: number;
  private readonly edgeFieldCount: number;
  private readonly typeOffset: number;
  private readonly nameOffset: number;
  private readonly sizeOffset: number;
  private readonly edgeCountOffset: number;
  private readonly edgeTypeOffset: number;
  private readonly edgeNameOffset: number;
  private readonly edgeToOffset: number;
  private readonly nodeTypes: string[];
  private readonly edgeTypes: string[];

  constructor(path: string) {
    this.raw = JSON.parse(readFileSync(path, 'utf8')) as RawSnapshot;
    const meta = this.raw.snapshot.meta;
    this.nodeFieldCount = meta.node_fields.length;
    this.edgeFieldCount = meta.edge_fields.length;
    this.typeOffset = meta.node_fields.indexOf('type');
    this.nameOffset = meta.node_fields.indexOf('name');
    this.sizeOffset = meta.node_fields.indexOf('self_size');
    this.edgeCountOffset = meta.node_fields.indexOf('edge_count');
    this.edgeTypeOffset = meta.edge_fields.indexOf('type');
    this.edgeNameOffset = meta.edge_fields.indexOf('name_or_index');
    this.edgeToOffset = meta.edge_fields.indexOf('to_node');
    this.nodeTypes = meta.node_types[0];
    this.edgeTypes = meta.edge_types[0];
  }

  get nodeCount(): number {
    return this.raw.nodes.length / this.nodeFieldCount;
  }

  /** The class a node is counted under, like the Summary view of Chrome DevTools. */
  classOf(nodeIndex: number): string {
    const base = nodeIndex * this.nodeFieldCount;
    const type = this.nodeTypes[this.raw.nodes[base + this.typeOffset] as number] ?? 'unknown';
    const name = this.raw.strings[this.raw.nodes[base + this.nameOffset] as number] ?? '';
    switch (type) {
      case 'object':
      case 'native':
        return name;
      case 'closure':
        return `${name || '(anonymous)'}()`;
      case 'array':
      case 'hidden':
      case 'object shape':
        return `(${type}) ${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
      default:
        return `(${type})`;
    }
  }

  classes(): Map<string, ClassFigures> {
    const figures = new Map<string, ClassFigures>();
    for (let index = 0; index < this.nodeCount; index += 1) {
      const name = this.classOf(index);
      const entry = figures.get(name) ?? { count: 0, selfSize: 0 };
      entry.count += 1;
      entry.selfSize += this.raw.nodes[index * this.nodeFieldCount + this.sizeOffset] as number;
      figures.set(name, entry);
    }
    return figures;
  }

  /** Who references the objects of class `target`: owner class and edge name, most frequent first (weak edges left out). */
  retainersOf(target: string, top = 20): Retainer[] {
    const counts = new Map<string, Retainer>();
    let edgeBase = 0;
    for (let index = 0; index < this.nodeCount; index += 1) {
      const edgeCount = this.raw.nodes[index * this.nodeFieldCount + this.edgeCountOffset] as number;
      for (let edge = 0; edge < edgeCount; edge += 1) {
        const at = edgeBase + edge * this.edgeFieldCount;
        const toNode = (this.raw.edges[at + this.edgeToOffset] as number) / this.nodeFieldCount;
        if (this.classOf(toNode) !== target) continue;
        const edgeType = this.edgeTypes[this.raw.edges[at + this.edgeTypeOffset] as number] ?? 'unknown';
        if (edgeType === 'weak') continue;
        const nameOrIndex = this.raw.edges[at + this.edgeNameOffset] as number;
        const edgeName = edgeType === 'element' || edgeType === 'hidden' ? `[${edgeType}]` : (this.raw.strings[nameOrIndex] ?? String(nameOrIndex));
        const retainer = this.classOf(index);
        const key = `${retainer}\u0000${edgeName}`;
        const entry = counts.get(key) ?? { retainer, edge: edgeName, count: 0 };
        entry.count += 1;
        counts.set(key, entry);
      }
      edgeBase += edgeCount * this.edgeFieldCount;
    }
    return [...counts.values()].sort((a, b) => b.count - a.count).slice(0, top);
  }
}

export function diffClasses(before: Map<string, ClassFigures>, after: Map<string, ClassFigures>): ClassDelta[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].map((name) => {
    const b = before.get(name) ?? { count: 0, selfSize: 0 };
    const a = after.get(name) ?? { count: 0, selfSize: 0 };
    return { name, countBefore: b.count, countAfter: a.count, countDelta: a.count - b.count, sizeDelta: a.selfSize - b.selfSize };
  });
}

/** The classes that grew most, by self size and by count (merged, in that order). */
export function topGrowth(deltas: ClassDelta[], top: number): { bySize: ClassDelta[]; byCount: ClassDelta[] } {
  return {
    bySize: [...deltas].sort((a, b) => b.sizeDelta - a.sizeDelta).slice(0, top),
    byCount: [...deltas].sort((a, b) => b.countDelta - a.countDelta).slice(0, top),
  };
}

export function formatDeltas(title: string, deltas: ClassDelta[]): string {
  const lines = [title, `${'class'.padEnd(64)} ${'before'.padStart(9)} ${'after'.padStart(9)} ${'Δcount'.padStart(9)} ${'Δself KB'.padStart(10)}`];
  for (const delta of deltas) {
    lines.push(
      `${delta.name.slice(0, 64).padEnd(64)} ${String(delta.countBefore).padStart(9)} ${String(delta.countAfter).padStart(9)} ${String(delta.countDelta).padStart(9)} ${(delta.sizeDelta / 1024).toFixed(1).padStart(10)}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' }, retainers: { type: 'string', multiple: true } },
  });
  if (positionals.length !== 2) {
    process.stderr.write('usage: node dist/bench/soak-heapdiff.js before.heapsnapshot after.heapsnapshot [--top 30] [--retainers Class]...\n');
    process.exit(2);
  }
  const top = Number(values.top);
  const before = new HeapSnapshot(positionals[0] as string);
  const beforeClasses = before.classes();
  const after = new HeapSnapshot(positionals[1] as string);
  const growth = topGrowth(diffClasses(beforeClasses, after.classes()), top);
  process.stdout.write(`${formatDeltas(`Top ${top} by self-size growth`, growth.bySize)}\n\n${formatDeltas(`Top ${top} by count growth`, growth.byCount)}\n`);
  for (const target of values.retainers ?? []) {
    process.stdout.write(`\nRetainers of ${target} in ${positionals[1]}:\n`);
    for (const entry of after.retainersOf(target, top)) process.stdout.write(`  ${String(entry.count).padStart(7)}  ${entry.retainer} --${entry.edge}-->\n`);
  }
}
