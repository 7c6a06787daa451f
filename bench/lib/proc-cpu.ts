/** CPU time of a process from /proc/<pid>/stat (utime + stime), in seconds. */
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process from /proc/<pid>/statm, in bytes (NaN when gone). */
export function processRssBytes(pid: number): number {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch {
    return Number.NaN;
  }
}
