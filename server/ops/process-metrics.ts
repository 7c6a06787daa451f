/**
 * The process's own metrics (memory, CPU, event-loop delay, GC, descriptors):
 * prom-client's defaults, less those whose collection walks every handle or
 * descriptor on the event loop at each scrape.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/** prom-client default metrics whose collection is O(open handles) on the event loop. */
const WALKING_DEFAULT_METRICS = ['process_open_fds', 'nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total'];
const FD_DIR = '/proc/self/fd';

/**
 * Default metrics describe the process, not a gateway: they are created once
 * per process (each collectDefaultMetrics() call starts an event-loop monitor
 * and a GC observer that are never stopped, which a test process starting
 * hundreds of gateways would pile up) and registered in each gateway's registry.
 */
let processMetrics: Metric[] | null = null;
export function defaultMetrics(): Metric[] {
  if (processMetrics === null) {
    const shared = new Registry();
    collectDefaultMetrics({ register: shared });
    // These walk every handle or descriptor of the process on the main thread at each scrape: a node holding
    // 16,000 connections stalled 40-60 ms per scrape, most of it process_open_fds (a synchronous readdir of
    // /proc/self/fd, ~20 ms) and the active handles and resources (~25 ms). roomcast_connections_active says
    // what the handle counts said; process_open_fds is kept, read off the main thread.
    for (const name of WALKING_DEFAULT_METRICS) shared.removeSingleMetric(name);
    if (existsSync(FD_DIR)) {
      new Gauge({
        name: 'process_open_fds',
        help: 'Number of open file descriptors.',
        registers: [shared],
        async collect() {
          try {
            // readdir runs on libuv's thread pool; the main thread only gets the names.
            this.set((await readdir(FD_DIR)).length);
          } catch {
            // Keep the last count: at the descriptor limit (EMFILE), when it matters most, the scrape must still answer.
          }
        },
      });
    }
    // The typings say MetricObject; the registry holds (and returns) the metric instances.
    processMetrics = shared.getMetricsAsArray() as unknown as Metric[];
  }
  return processMetrics;
}
