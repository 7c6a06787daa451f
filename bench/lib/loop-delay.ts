/**
 * Each Roomcast node's event-loop delay over the load, from the node's own
 * `/metrics` (prom-client's `nodejs_eventloop_lag_max_seconds`: Node's
 * monitorEventLoopDelay histogram, which prom-client resets at every scrape, so
 * each scrape covers the time since the previous one). Beside the delivery
 * latency it tells a late window made by one node's busy or starved loop from
 * one where every node was late at once.
 */
import { nowMs } from './lean-client.js';

export interface LoopDelaySample {
  /** nowMs() when the scrape was answered; it covers the `periodMs` before. */
  at: number;
  node: number;
  maxMs: number;
}

/** The value of an unlabelled metric line `name value` in a Prometheus text exposition; NaN when absent. */
export function metricValue(text: string, name: string): number {
  const lines = `\n${text}`;
  const at = lines.indexOf(`\n${name} `);
  if (at < 0) return Number.NaN;
  const end = lines.indexOf('\n', at + 1);
  return Number(lines.slice(at + name.length + 2, end < 0 ? undefined : end));
}

/** Scrapes every node every `periodMs` until stop(); a scrape still unanswered at the next tick is skipped, not queued. */
export function sampleLoopDelay(urls: string[], periodMs: number): { stop(): LoopDelaySample[] } {
  const samples: LoopDelaySample[] = [];
  const busy = new Set<number>();
  // A first scrape resets each node's histogram, so the first sample covers one period only.
  const tick = (record: boolean): void => {
    urls.forEach((url, node) => {
      if (busy.has(node)) return;
      busy.add(node);
      fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })
        .then((response) => response.text())
        .then((text) => {
          if (record) samples.push({ at: nowMs(), node, maxMs: metricValue(text, 'nodejs_eventloop_lag_max_seconds') * 1000 });
        })
        .catch(() => undefined)
        .finally(() => busy.delete(node));
    });
  };
  tick(false);
  const timer = setInterval(() => tick(true), periodMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}
