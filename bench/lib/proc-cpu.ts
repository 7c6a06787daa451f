/** What /proc tells of the bench's processes and of the machine's TCP listeners. */
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

/** CPU time of a process from /proc/<pid>/stat (utime + stime), in seconds. */
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

/**
 * The machine's TCP listen-queue counters from /proc/net/netstat (TcpExt): ListenOverflows (a connection
 * ready to be accepted found the accept queue full) and ListenDrops (SYNs dropped at a listener, those
 * included), and SyncookiesSent (SYNs answered with a cookie because the SYN queue was full). Counted
 * since boot for every listener on the machine: read the difference over a window. NaN when unreadable.
 */
export function tcpListenCounters(): { listenOverflows: number; listenDrops: number; syncookiesSent: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const at = lines.findIndex((line) => line.startsWith('TcpExt:'));
    const names = (lines[at] ?? '').split(' ');
    const values = (lines[at + 1] ?? '').split(' ');
    const value = (name: string): number => {
      const index = names.indexOf(name);
      return index > 0 ? Number(values[index]) : Number.NaN;
    };
    return { listenOverflows: value('ListenOverflows'), listenDrops: value('ListenDrops'), syncookiesSent: value('SyncookiesSent') };
  } catch {
    return { listenOverflows: Number.NaN, listenDrops: Number.NaN, syncookiesSent: Number.NaN };
  }
}
