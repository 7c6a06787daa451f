/**
 * The node's Prometheus metrics (prom-client), in a registry of its own so that
 * several gateways in one process (tests) do not collide. Label sets are
 * bounded: error codes and namespaces, never rooms or users.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  /** Tells the connections gauge where to read its value at each scrape. */
  countConnections(read: () => number): void;
  connectionsRefused: Counter<'code'>;
  slowConsumerDisconnects: Counter;
  drains: Counter;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  let readConnections = (): number => 0;
  new Gauge({
    name: 'roomcast_connections_active',
    help: 'Open Engine.IO connections on this node',
    registers: [registry],
    collect() {
      this.set(readConnections());
    },
  });
  return {
    registry,
    countConnections: (read) => {
      readConnections = read;
    },
    connectionsRefused: new Counter({
      name: 'roomcast_connections_refused_total',
      help: 'Connections refused at the handshake, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    slowConsumerDisconnects: new Counter({
      name: 'roomcast_slow_consumer_disconnects_total',
      help: 'Connections closed because their outgoing buffer passed MAX_CLIENT_BUFFER_BYTES',
      registers: [registry],
    }),
    drains: new Counter({ name: 'roomcast_drains_total', help: 'Graceful drains started on this node', registers: [registry] }),
  };
}
