/**
 * Linux `perf` samples of running servers over a window the bench chooses (the
 * idle hold, say). Where V8's inspector puts everything outside a JavaScript
 * function into "(program)" or "(garbage collector)", perf sees the whole
 * process: the kernel (system calls, TCP), V8's GC, inline-cache misses and
 * builtins, Node's C++ and libuv, and JavaScript by function, because the
 * servers are started with `--perf-basic-prof` (V8 writes /tmp/perf-<pid>.map,
 * which `perf script` reads to name JIT frames). A sampling tool for comparing
 * two targets doing the same job, not a test: it needs `perf` (Debian's
 * linux-perf) and permission to attach (root, or kernel.perf_event_paranoid <= 1).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Node flags for a server that perf is to sample: JIT frames get names. */
export const PERF_NODE_ARGS = ['--perf-basic-prof'];

/** Sampling rate: prime, so it does not beat with timers (1 ms, 10 ms) in the process. */
const FREQUENCY_HZ = 499;

/** Samples the processes `pids` with call graphs for `ms` into `file` (perf.data). */
export async function recordPerf(pids: readonly number[], ms: number, file: string): Promise<void> {
  if (pids.length === 0) throw new Error('recordPerf: no process to sample');
  const args = ['record', '-F', String(FREQUENCY_HZ), '-g', '-p', pids.join(','), '-o', file, '--', 'sleep', String(ms / 1000)];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.once('error', (error) => reject(new Error(`perf could not be started (apt-get install linux-perf): ${error.message}`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`perf record exited with ${code}: ${stderr.trim().slice(-500)}`))));
  });
}

/** One sample: its frames, the leaf first, each `{ symbol, kernel }`. */
export interface PerfSample {
  frames: Array<{ symbol: string; kernel: boolean }>;
}

/**
 * One frame line of `perf script` (`\t    7fc5b80a5653 JS:^runChecks file:///...:34:27+0x153 (/tmp/perf-1.map)`),
 * or null for anything else (a sample's header: comm, pid, time, event).
 */
export function parsePerfFrame(line: string): PerfSample['frames'][number] | null {
  if (!line.startsWith('\t') && !line.startsWith(' ')) return null;
  const match = /^\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\(([^)]*)\)\s*$/.exec(line);
  if (match === null) return null;
  return { symbol: match[1] ?? '', kernel: (match[2] ?? '').includes('kernel') };
}

/** Reads `perf script` of `file` one sample at a time (a minute of 6 nodes is hundreds of MB of text). */
export async function forEachPerfSample(file: string, onSample: (sample: PerfSample) => void): Promise<void> {
  const child = spawn('perf', ['script', '-i', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  let frames: PerfSample['frames'] = [];
  const flush = (): void => {
    if (frames.length > 0) onSample({ frames });
    frames = [];
  };
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.length === 0) {
      flush();
      continue;
    }
    const frame = parsePerfFrame(line);
    if (frame !== null) frames.push(frame);
  }
  flush();
  const code = await exited;
  if (code !== 0) throw new Error(`perf script -i ${file} exited with ${code}`);
}
