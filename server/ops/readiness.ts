/** What a node says about its health: on /readyz, the status page and the metrics. */

/** Whether this node should receive traffic, and why not; extra fields (e.g. the canary's figures) are shown on /readyz. */
export type Readiness = () => { ready: boolean; reason?: string; [detail: string]: unknown };

/** The pub/sub canary's view of cross-node delivery (Redis only): lag percentiles of its own probes. */
export interface CanaryStatus {
  healthy: boolean;
  lastLagMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  samples: number;
  resets: number;
}
