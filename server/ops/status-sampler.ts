/**
 * The status page's figures for this node: Engine.IO's connection count,
 * process.memoryUsage(), the readiness function, the canary's lag percentiles
 * and two totals kept by the metrics (client packets in, broadcast deliveries
 * out) turned into rates between samples.
 */
import type { NodeStatus } from '../../shared/index.js';
import type { CanaryStatus, Readiness } from './readiness.js';

/** Monotonic totals read at each sample (the metrics module keeps them). */
export interface TrafficCounters {
  /** Client packets received. */
  readonly in: number;
  /** Packets written to sockets by broadcasts: local recipients per broadcast. */
  readonly out: number;
}

export interface StatusSources {
  nodeId: string;
  traffic: TrafficCounters;
  connections: () => number;
  readiness: Readiness;
  draining: () => boolean;
  /** The canary's status; null on a single node. */
  canary: () => CanaryStatus | null;
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

export class StatusSampler {
  private readonly startedAt = performance.now();
  private previous: { at: number; in: number; out: number };
  private last: NodeStatus | null = null;

  constructor(private readonly sources: StatusSources) {
    this.previous = { at: performance.now(), in: sources.traffic.in, out: sources.traffic.out };
  }

  /** Takes new figures; the rates cover the time since the previous call. */
  sample(): NodeStatus {
    const { sources } = this;
    const at = performance.now();
    const { in: received, out: sent } = sources.traffic;
    const seconds = Math.max((at - this.previous.at) / 1000, 0.001);
    const memory = process.memoryUsage();
    const { ready, reason } = sources.readiness();
    this.last = {
      nodeId: sources.nodeId,
      at: Date.now(),
      connections: sources.connections(),
      messagesInPerSecond: round((received - this.previous.in) / seconds, 1),
      messagesOutPerSecond: round((sent - this.previous.out) / seconds, 1),
      pubsubLagP99Ms: sources.canary()?.p99Ms ?? null,
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      ready,
      notReadyReason: ready ? null : (reason ?? 'not ready'),
      draining: sources.draining(),
      uptimeSeconds: Math.floor((at - this.startedAt) / 1000),
    };
    this.previous = { at, in: received, out: sent };
    return this.last;
  }

  /** The latest figures without starting a new rate window (for a page that just connected). */
  latest(): NodeStatus {
    return this.last ?? this.sample();
  }
}

export interface StatusBroadcast {
  /** Sends fresh figures at once (e.g. when the node starts draining), besides the regular ticks. */
  sendNow(): void;
  stop(): void;
}

/** Sends this node's figures every `intervalMs` through `emit` (the adapter takes them to every node). */
export function startStatusBroadcast(sampler: StatusSampler, emit: (status: NodeStatus) => void, intervalMs: number): StatusBroadcast {
  const tick = (): void => emit(sampler.sample());
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { sendNow: tick, stop: () => clearInterval(timer) };
}
