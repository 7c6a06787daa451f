/**
 * This node's figures for a status page: read from the metrics' plain totals,
 * the connections, readiness and the canary, with no scrape and no await, so a
 * caller may take them every second. Totals only grow while the process lives;
 * a reader computes rates from two readings.
 */
import type { Totals } from './metrics.js';

export interface NodeStats {
  nodeId: string;
  /** Open Socket.IO connections (namespace sockets) on this node now. */
  connections: number;
  /** Packets received from clients since start (every event, refused ones included). */
  messagesInTotal: number;
  /** Socket.IO packets written to clients since start: broadcast deliveries, acks and direct events. */
  messagesOutTotal: number;
  /** Broadcast packets written to this node's connections since start (roomcast_deliveries_total summed). */
  deliveriesTotal: number;
  /** The canary's p99 pub/sub lag over its last 30 probes, in ms; null on a single node or before the first probe. */
  pubsubLagP99Ms: number | null;
  heapUsedBytes: number;
  ready: boolean;
  draining: boolean;
}

export interface NodeStatsSources {
  nodeId: string;
  totals: Readonly<Totals>;
  connections(): number;
  pubsubLagP99Ms(): number | null;
  ready(): boolean;
  draining(): boolean;
}

export function nodeStats(sources: NodeStatsSources): NodeStats {
  return {
    nodeId: sources.nodeId,
    connections: sources.connections(),
    messagesInTotal: sources.totals.messagesIn,
    messagesOutTotal: sources.totals.messagesOut,
    deliveriesTotal: sources.totals.deliveries,
    pubsubLagP99Ms: sources.pubsubLagP99Ms(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    ready: sources.ready(),
    draining: sources.draining(),
  };
}
