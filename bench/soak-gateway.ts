/**
 * A gateway entry for the soak (bench/soak-churn.ts), started by it with
 * child_process.fork and `--expose-gc`. Configured from the environment exactly
 * as server/main.ts is; it talks to its parent over the IPC channel:
 *
 *   -> { type: 'ready', port, pid }                       once listening
 *   <- { type: 'count' }     -> { type: 'count', connections }
 *   <- { type: 'measure' }   -> { type: 'memory', heapUsed, heapTotal, rss, external, arrayBuffers, connections, ... }
 *   <- { type: 'snapshot', path } -> { type: 'snapshot', path }  (v8.writeHeapSnapshot after GC)
 *
 * `connections` is Engine.IO's clientsCount: open transports of any namespace.
 * SIGTERM (or the parent going away) closes the gateway and exits.
 *
 *   node --expose-gc dist/bench/soak-gateway.js   (with PORT, JWT_SECRET, API_KEYS, ... in the environment)
 */
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { ConfigError } from '../server/config/config-error.js';
import { loadConfig } from '../server/config/load.js';
import { startGateway, type Gateway } from '../server/gateway.js';
import { createLogger } from '../server/ops/logger.js';

export type ParentMessage = { type: 'count' } | { type: 'measure'; gcRounds?: number } | { type: 'snapshot'; path: string };

export interface MemoryFigures {
  type: 'memory';
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
  /** v8 heap statistics: objects v8 still counts after the GC (native contexts catch leaked vm contexts). */
  numberOfNativeContexts: number;
  numberOfDetachedContexts: number;
  connections: number;
  /** Sockets of each namespace still known to Socket.IO (should reach 0 with the transports). */
  namespaceSockets: Record<string, number>;
  /** Socket.IO rooms of each namespace in the in-process adapter (each socket's own room included). */
  namespaceRooms: Record<string, number>;
}

export type ChildMessage =
  | { type: 'ready'; port: number; pid: number }
  | { type: 'count'; connections: number }
  | MemoryFigures
  | { type: 'snapshot'; path: string }
  | { type: 'error'; message: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Full GCs with short pauses between, so finalizers and weak callbacks run and what they free is collected too. */
async function collect(rounds: number): Promise<void> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('gc() is not exposed: start this script with node --expose-gc');
  for (let round = 0; round < rounds; round += 1) {
    gc();
    await pause(100);
  }
  gc();
}

function measure(gateway: Gateway): Omit<MemoryFigures, 'type'> {
  const memory = process.memoryUsage();
  const heap = getHeapStatistics();
  const namespaceSockets: Record<string, number> = {};
  const namespaceRooms: Record<string, number> = {};
  for (const [name, namespace] of gateway.io._nsps) {
    namespaceSockets[name] = namespace.sockets.size;
    namespaceRooms[name] = namespace.adapter.rooms.size;
  }
  return {
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    rss: memory.rss,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    numberOfNativeContexts: heap.number_of_native_contexts,
    numberOfDetachedContexts: heap.number_of_detached_contexts,
    connections: gateway.io.engine.clientsCount,
    namespaceSockets,
    namespaceRooms,
  };
}

async function main(): Promise<void> {
  if (process.send === undefined) {
    process.stderr.write('soak-gateway: start me with child_process.fork (an IPC channel is needed)\n');
    process.exit(1);
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`soak-gateway: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);
  const gateway = await startGateway({ config, logger }).catch((error: unknown) => {
    logger.fatal({ err: error }, 'gateway failed to start');
    process.exit(1);
  });

  let closing = false;
  const shutdown = (reason: string): void => {
    if (closing) {
      process.exit(1);
    }
    closing = true;
    logger.info({ reason }, 'soak gateway shutting down');
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The parent died or let go: do not outlive it.
  process.on('disconnect', () => shutdown('parent disconnected'));

  process.on('message', (message: ParentMessage) => {
    void (async () => {
      try {
        switch (message.type) {
          case 'count':
            send({ type: 'count', connections: gateway.io.engine.clientsCount });
            break;
          case 'measure':
            await collect(message.gcRounds ?? 4);
            send({ type: 'memory', ...measure(gateway) });
            break;
          case 'snapshot':
            await collect(4);
            send({ type: 'snapshot', path: writeHeapSnapshot(message.path) });
            break;
        }
      } catch (error) {
        send({ type: 'error', message: (error as Error).message });
      }
    })();
  });

  send({ type: 'ready', port: gateway.port, pid: process.pid });
}

void main();
