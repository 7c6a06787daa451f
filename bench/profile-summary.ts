/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, or a bench's --cpu-prof-dir):
 * self time by package (server/, socket.io, engine.io, ws, node internals,
 * GC, idle) and the top functions by self time. This is the evidence for
 * "what still costs the most" in docs/performance.md.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { argValue, round, table } from './lib/harness.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Several processes' profiles as one (node ids renumbered apart), to sum self time over all nodes of a run. */
export function mergeProfiles(profiles: CpuProfile[]): CpuProfile {
  const merged: CpuProfile = { nodes: [], samples: [], timeDeltas: [] };
  let offset = 0;
  for (const profile of profiles) {
    const highest = profile.nodes.reduce((max, node) => Math.max(max, node.id), 0);
    for (const node of profile.nodes) merged.nodes.push({ ...node, id: node.id + offset, ...(node.children ? { children: node.children.map((c) => c + offset) } : {}) });
    for (const id of profile.samples) merged.samples.push(id + offset);
    for (const delta of profile.timeDeltas) merged.timeDeltas.push(delta);
    offset += highest + 1;
  }
  return merged;
}

/** Which part of the stack a frame belongs to, from its script URL. */
export function packageOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8 / native (program)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules?.[1]) return inModules[1];
  const ours = /\/dist\/(server|shared|bench)\//.exec(url);
  if (ours?.[1]) return `roomcast ${ours[1]}/`;
  if (url.startsWith('node:')) return 'node core';
  return url === '' ? 'native' : 'other';
}

export interface ProfileSummary {
  totalMs: number;
  byPackage: Array<{ name: string; ms: number; share: number }>;
  topFunctions: Array<{ name: string; where: string; ms: number; share: number }>;
}

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const busyUs = [...selfUs.entries()].reduce((sum, [id, us]) => (byId.get(id)?.callFrame.functionName === '(idle)' ? sum : sum + us), 0);
  const packages = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    const pkg = packageOf(frame.url, frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const where = `${frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const share = (us: number): number => round((100 * us) / busyUs, 1);
  return {
    totalMs: round(busyUs / 1000, 0),
    byPackage: [...packages.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: round(us / 1000, 0), share: share(us) })),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, ms: round(f.us / 1000, 0), share: share(f.us) })),
  };
}

export interface SecondOfProfile {
  second: number;
  busyMs: number;
  gcMs: number;
  /** The function with the most self time in that second. */
  top: string;
}

/** Busy and GC time per second of the profile (wall clock from its start): where a stall or a GC storm sits. */
export function busyBySecond(profile: CpuProfile & { startTime: number }): SecondOfProfile[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const seconds = new Map<number, { busyUs: number; gcUs: number; self: Map<string, number> }>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    const second = Math.floor((at - profile.startTime) / 1e6);
    const entry = seconds.get(second) ?? { busyUs: 0, gcUs: 0, self: new Map<string, number>() };
    entry.busyUs += delta;
    if (frame.functionName === '(garbage collector)') entry.gcUs += delta;
    const name = `${frame.functionName || '(anonymous)'} ${packageOf(frame.url, frame.functionName)}`;
    entry.self.set(name, (entry.self.get(name) ?? 0) + delta);
    seconds.set(second, entry);
  });
  return [...seconds.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([second, entry]) => ({
      second,
      busyMs: round(entry.busyUs / 1000, 0),
      gcMs: round(entry.gcUs / 1000, 0),
      top: [...entry.self.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
    }));
}

export function profileMarkdown(summary: ProfileSummary): string {
  return [
    `Busy CPU in the profile: ${summary.totalMs} ms (idle excluded).`,
    '',
    table(['self time by package', 'ms', '% of busy'], summary.byPackage.map((p) => [p.name, p.ms, p.share])),
    '',
    table(['function', 'where', 'self ms', '% of busy'], summary.topFunctions.map((f) => [f.name, f.where, f.ms, f.share])),
  ].join('\n');
}

if (process.argv[1]?.endsWith('profile-summary.js') === true) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [--top 25]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`${profileMarkdown(summarizeProfile(profile, Number(argValue(process.argv, 'top') ?? 25)))}\n`);
}
