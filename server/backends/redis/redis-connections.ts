/**
 * The Redis connections of one node: a command connection (history, presence,
 * and the adapter's publisher) and a subscriber connection (the adapter's and
 * the canary's), for a single Redis (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER_NODES). Never a connection per socket.
 *
 * Commands fail at once while a connection is down (no offline queue), so a
 * publish during an outage is answered UNAVAILABLE instead of hanging.
 */
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../ops/logger.js';
import { watchShardClients } from './sharded-pubsub.js';

/** The commands Roomcast's stores use; both a client and a cluster provide them. */
export interface RedisCommands {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  sPublish(channel: string, message: string): Promise<number>;
  sAdd(key: string, member: string): Promise<number>;
  sRem(key: string, member: string | string[]): Promise<number>;
  sMembers(key: string): Promise<string[]>;
  hGetAll(key: string): Promise<Record<string, string>>;
  del(key: string): Promise<number>;
  zAdd(key: string, member: { score: number; value: string }): Promise<number>;
  zRangeByScore(key: string, min: number | string, max: number | string): Promise<string[]>;
  zRem(key: string, member: string): Promise<number>;
}

export interface RedisSubscriber {
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
}

export type RedisMode = 'single' | 'cluster';

export interface RedisConnections {
  mode: RedisMode;
  /** The command connection, as node-redis gives it (handed to the adapter as its publisher). */
  publisherClient: RedisClientType | RedisClusterType;
  /** The subscriber connection, as node-redis gives it (handed to the adapter). */
  subscriberClient: RedisClientType | RedisClusterType;
  commands: RedisCommands;
  /** Subscribes on the adapter's subscriber connection (sharded channels in cluster mode). */
  subscriber: RedisSubscriber;
  /** Both connections are up. */
  isReady(): boolean;
  /** The subscriber connection is up with its subscriptions restored (single Redis; a cluster: its slot map is known). */
  subscriberReady(): boolean;
  /** Drops the subscriber connection so that node-redis reconnects and subscribes everything again. */
  resetSubscriber(): Promise<void>;
  /**
   * Calls `listener` each time a subscriber connection (single Redis: the one; Cluster: any sharded one)
   * is ready again after it dropped: what was published while it was away did not reach this node.
   * Returns the function that stops it.
   */
  onSubscriberReconnected(listener: () => void): () => void;
  close(): Promise<void>;
}

// Reconnect quickly at first, then every 2 s, for ever: Redis coming back must need no restart.
const reconnectStrategy = (retries: number): number => Math.min(50 * 2 ** Math.min(retries, 6), 2000);
const CONNECT_TIMEOUT_MS = 2000;

/** Logs connection errors at most once per interval per connection, so an outage does not flood the log. */
function errorLogger(logger: Logger, role: string): (error: unknown) => void {
  let lastLoggedAt = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastLoggedAt < 5000) return;
    lastLoggedAt = now;
    logger.warn({ err: error, role }, 'redis connection error');
  };
}

/** Raised when Redis refuses this node's credentials (or wants some): start-up stops with this message. */
export class RedisAuthError extends Error {
  readonly code = 'REDIS_AUTH';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisAuthError';
  }
}

/** NOAUTH (a password is needed), WRONGPASS (wrong user or password), and older servers' wordings. */
const AUTH_REFUSAL = /^(?:NOAUTH|WRONGPASS)\b|invalid password|invalid username-password|no password is set/i;

function isAuthRefusal(error: unknown): boolean {
  return error instanceof Error && AUTH_REFUSAL.test(error.message);
}

/** Where the credentials go, in the message an operator reads when Redis refuses them. Never the credentials themselves. */
function credentialsHint(mode: RedisMode): string {
  return mode === 'cluster'
    ? 'set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user) to what the Redis Cluster expects'
    : 'put the credentials in REDIS_URL: redis://<user>:<password>@<host>:<port> (rediss:// for TLS)';
}

type ClusterOptions = Parameters<typeof createCluster>[0];

/**
 * The node-redis options of a Redis Cluster connection: REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS
 * apply to every node, the ones listed and the ones discovered from them (`defaults`). Root nodes are
 * given as host and port, not as a `redis://` URL, which would turn TLS off for them.
 */
export function clusterOptions(config: Pick<Config, 'redisClusterNodes' | 'redisClusterAuth'>, extra: { name?: string; disableOfflineQueue?: boolean } = {}): ClusterOptions {
  const { username, password, tls } = config.redisClusterAuth;
  return {
    rootNodes: (config.redisClusterNodes ?? []).map(({ host, port }) => ({ socket: { host, port } })),
    defaults: {
      socket: { reconnectStrategy, connectTimeout: CONNECT_TIMEOUT_MS, ...(tls ? { tls: true as const } : {}) },
      ...(username === null ? {} : { username }),
      ...(password === null ? {} : { password }),
      ...extra,
    },
  } as ClusterOptions;
}

/**
 * connect(), but a refusal of the credentials ends it with a RedisAuthError instead of reconnecting
 * for ever (node-redis retries a WRONGPASS handshake like a network error), and a server that
 * wants a password it was not given (it accepts the connection, then answers NOAUTH) is caught
 * by a PING before anything else runs.
 */
async function connectChecked(client: RedisClientType | RedisClusterType, mode: RedisMode, role: string): Promise<void> {
  let refusal: RedisAuthError | null = null;
  let refuse: (error: Error) => void = () => undefined;
  const refused = new Promise<never>((_, reject) => {
    refuse = reject;
  });
  const authFailure = (error: unknown): RedisAuthError =>
    new RedisAuthError(`Redis refused the ${role} connection's credentials (${(error as Error).message.split('\n')[0]}): ${credentialsHint(mode)}`, { cause: error });
  const onError = (error: unknown): void => {
    if (refusal !== null || !isAuthRefusal(error)) return;
    refusal = authFailure(error);
    refuse(refusal);
  };
  client.on('error', onError);
  try {
    await Promise.race([client.connect(), refused]);
    if (mode === 'single') {
      await (client as RedisClientType).ping().catch((error: unknown) => {
        throw isAuthRefusal(error) ? authFailure(error) : error;
      });
    }
  } catch (error) {
    destroyQuietly(client);
    // A cluster whose root nodes all refused the handshake reports "no root node available": say why.
    throw refusal ?? error;
  } finally {
    client.off('error', onError);
  }
}

function destroyQuietly(client: RedisClientType | RedisClusterType): void {
  try {
    (client as unknown as { destroy(): void }).destroy();
  } catch {
    // Never connected, or closed already.
  }
}

export async function connectRedis(config: Config, logger: Logger): Promise<RedisConnections> {
  const subscriberName = `roomcast-sub-${config.nodeId}`;
  let publisherClient: RedisClientType | RedisClusterType;
  let subscriberClient: RedisClientType | RedisClusterType;
  let mode: RedisMode;
  if (config.redisClusterNodes !== null) {
    mode = 'cluster';
    const cluster = createCluster(clusterOptions(config, { disableOfflineQueue: true }));
    publisherClient = cluster as unknown as RedisClusterType;
    // duplicate() replaces `defaults` as a whole: the credentials and TLS are given again.
    subscriberClient = cluster.duplicate({ defaults: clusterOptions(config, { name: subscriberName }).defaults }) as unknown as RedisClusterType;
  } else if (config.redisUrl !== null) {
    mode = 'single';
    // The URL's user, password and rediss:// (TLS) are node-redis's own to parse.
    const client = createClient({ url: config.redisUrl, socket: { reconnectStrategy, connectTimeout: CONNECT_TIMEOUT_MS }, disableOfflineQueue: true });
    publisherClient = client as unknown as RedisClientType;
    subscriberClient = client.duplicate({ name: subscriberName, disableOfflineQueue: false }) as unknown as RedisClientType;
  } else {
    throw new Error('connectRedis needs REDIS_URL or REDIS_CLUSTER_NODES');
  }
  publisherClient.on('error', errorLogger(logger, 'publisher'));
  subscriberClient.on('error', errorLogger(logger, 'subscriber'));
  await connectChecked(publisherClient, mode, 'command');
  try {
    await connectChecked(subscriberClient, mode, 'subscriber');
  } catch (error) {
    destroyQuietly(publisherClient);
    throw error;
  }

  const commands = publisherClient as unknown as RedisCommands;
  const sub = subscriberClient as unknown as {
    subscribe(channel: string, listener: (message: string) => void): Promise<void>;
    unsubscribe(channel: string): Promise<void>;
    sSubscribe(channel: string, listener: (message: string) => void): Promise<void>;
    sUnsubscribe(channel: string): Promise<void>;
  };
  const subscriber: RedisSubscriber =
    mode === 'cluster'
      ? { subscribe: (channel, listener) => sub.sSubscribe(channel, listener), unsubscribe: (channel) => sub.sUnsubscribe(channel) }
      : { subscribe: (channel, listener) => sub.subscribe(channel, listener), unsubscribe: (channel) => sub.unsubscribe(channel) };

  const isReady = (): boolean => {
    if (mode === 'single') return (publisherClient as RedisClientType).isReady && (subscriberClient as RedisClientType).isReady;
    // A cluster client is ready once it has its slot map; each node connection reconnects by itself.
    return (publisherClient as unknown as { isOpen: boolean }).isOpen && (subscriberClient as unknown as { isOpen: boolean }).isOpen;
  };

  const subscriberReady = (): boolean =>
    mode === 'single' ? (subscriberClient as RedisClientType).isReady : (subscriberClient as unknown as { isOpen: boolean }).isOpen;

  const resetSubscriber = async (): Promise<void> => {
    // A subscriber connection cannot send CLIENT KILL itself; the command connection finds it by name.
    const targets =
      mode === 'single'
        ? [publisherClient as RedisClientType]
        : (publisherClient as RedisClusterType).masters.map((master) => master.client).filter((client): client is NonNullable<typeof client> => client !== undefined);
    for (const target of targets) {
      const client = (await target) as unknown as { sendCommand(args: string[]): Promise<unknown> };
      // Not filtered by TYPE pubsub: a connection that lost all its subscriptions is no longer of that type.
      const list = String(await client.sendCommand(['CLIENT', 'LIST']));
      for (const line of list.split('\n')) {
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id !== undefined && line.includes(` name=${subscriberName} `)) await client.sendCommand(['CLIENT', 'KILL', 'ID', id]);
      }
    }
  };

  const onSubscriberReconnected = (listener: () => void): (() => void) => {
    const dropped = new WeakSet<object>();
    const ready = (client: object): void => {
      if (!dropped.has(client)) return;
      dropped.delete(client);
      listener();
    };
    const reconnecting = (client: object): void => {
      dropped.add(client);
    };
    if (mode === 'cluster') return watchShardClients(subscriberClient as RedisClusterType, { ready, reconnecting });
    const client = subscriberClient as RedisClientType;
    const onReady = (): void => ready(client);
    const onReconnecting = (): void => reconnecting(client);
    client.on('ready', onReady);
    client.on('reconnecting', onReconnecting);
    return () => {
      client.off('ready', onReady);
      client.off('reconnecting', onReconnecting);
    };
  };

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const client of [subscriberClient, publisherClient]) {
        try {
          await (client as unknown as { close(): Promise<void> }).close();
        } catch {
          // Already closed or never connected: closing is best effort.
        }
      }
    })();
    return closing;
  };

  return { mode, publisherClient, subscriberClient, commands, subscriber, isReady, subscriberReady, resetSubscriber, onSubscriberReconnected, close };
}
