/**
 * Last-resort cleanup: every helper that spawns a server process registers its
 * PID here, and whatever is still registered when this process exits (a test
 * run aborted, a hook that never ran) is killed, so no redis-server, nginx or
 * gateway outlives the run. Normal stops unregister first.
 */
const tracked = new Map<number, { group: boolean }>();
let installed = false;

/** `group`: the PID leads its own process group (nginx with its workers); kill the whole group. */
export function track(pid: number, options: { group?: boolean } = {}): void {
  tracked.set(pid, { group: options.group ?? false });
  if (!installed) {
    installed = true;
    process.once('exit', killTracked);
  }
}

export function untrack(pid: number): void {
  tracked.delete(pid);
}

function killTracked(): void {
  for (const [pid, { group }] of tracked) {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  tracked.clear();
}
