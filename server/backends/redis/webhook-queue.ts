/**
 * The webhook queue in Redis, shared by every node: one stream (`XADD`), read
 * through one consumer group by the node that holds the delivering lease (a
 * key with a TTL that the holder renews). Each node reads as its own consumer;
 * what a holder read and did not acknowledge stays in the group's pending list.
 * A node that takes the lease over (the last holder stopped renewing: killed
 * with -9, cut off) first claims every pending entry (`XAUTOCLAIM`, from the
 * oldest), then reads new ones (`XREADGROUP >`): nothing is lost and the
 * stream's order is kept. Delivered entries are acknowledged and deleted
 * (`XACK` + `XDEL` in one script), so the stream holds only what waits.
 *
 * Both keys carry the hash tag `{webhooks}`: on Redis Cluster they live on one
 * master, so the scripts touching them run there.
 */
import type { RedisClientType, RedisClusterType } from 'redis';
import type { WebhookEvent } from '../../../shared/index.js';
import type { QueuedEvent, WebhookQueue } from '../../core/webhook-queue.js';
import { KEY_PREFIX } from './keys.js';
import { LuaScript } from './lua-script.js';
import type { RedisConnections } from './redis-connections.js';
import { redisCall } from './redis-errors.js';

export const webhookKeys = {
  /** stream: field `e` = the event as JSON */
  stream: `${KEY_PREFIX}{webhooks}:stream`,
  /** string: the node id of the delivering node, with a TTL */
  lease: `${KEY_PREFIX}{webhooks}:lease`,
};
export const WEBHOOK_GROUP = 'roomcast';

/** KEYS: stream. ARGV: events as JSON, in order. Appends them all or none. */
const ENQUEUE_SCRIPT = new LuaScript(`
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]) end
return #ARGV
`);

/** KEYS: lease. ARGV: node id, TTL ms. -> 1 renewed, 2 taken, 0 held by another node. */
const ACQUIRE_SCRIPT = new LuaScript(`
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0
`);

/** KEYS: lease. ARGV: node id. Deletes the lease if this node holds it. */
const RELEASE_SCRIPT = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS: stream. ARGV: group, entry ids. */
const ACK_SCRIPT = new LuaScript(`
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
return redis.call('XDEL', KEYS[1], unpack(ids))
`);

type RawEntry = [string, string[]] | null;

/** One command with its key (Cluster routes it by that key's slot). */
type KeyedCommand = (key: string, args: string[]) => Promise<unknown>;

function keyedCommand(redis: RedisConnections): KeyedCommand {
  if (redis.mode === 'cluster') {
    const cluster = redis.publisherClient as RedisClusterType;
    return (key, args) => cluster.sendCommand(key, false, args) as Promise<unknown>;
  }
  const client = redis.publisherClient as RedisClientType;
  return (_key, args) => client.sendCommand(args) as Promise<unknown>;
}

function parseEntries(entries: unknown): QueuedEvent[] {
  if (!Array.isArray(entries)) return [];
  const parsed: QueuedEvent[] = [];
  for (const entry of entries as RawEntry[]) {
    // A claimed entry deleted meanwhile comes back as nil (Redis 6.2): nothing to deliver.
    if (!Array.isArray(entry)) continue;
    const [entryId, fields] = entry;
    const index = fields.indexOf('e');
    if (index < 0 || fields[index + 1] === undefined) continue;
    parsed.push({ entryId, event: JSON.parse(fields[index + 1] as string) as WebhookEvent });
  }
  return parsed;
}

export interface RedisWebhookQueueOptions {
  nodeId: string;
  /** How long the lease lasts unrenewed (NODE_TTL_MS: a dead node's lease goes when its members do). */
  leaseMs: number;
}

export class RedisWebhookQueue implements WebhookQueue {
  readonly leaseMs: number;
  private readonly command: KeyedCommand;
  private groupReady = false;

  constructor(
    private readonly redis: RedisConnections,
    private readonly options: RedisWebhookQueueOptions,
  ) {
    this.leaseMs = options.leaseMs;
    this.command = keyedCommand(redis);
  }

  async enqueue(events: readonly WebhookEvent[]): Promise<void> {
    if (events.length === 0) return;
    await redisCall('webhook enqueue', () =>
      ENQUEUE_SCRIPT.run(
        this.redis.commands,
        [webhookKeys.stream],
        events.map((event) => JSON.stringify(event)),
      ),
    );
  }

  async acquire(): Promise<boolean> {
    const outcome = Number(await redisCall('webhook lease', () => ACQUIRE_SCRIPT.run(this.redis.commands, [webhookKeys.lease], [this.options.nodeId, this.leaseMs])));
    if (outcome === 2) this.groupReady = false;
    return outcome > 0;
  }

  async read(max: number): Promise<QueuedEvent[]> {
    return redisCall('webhook read', async () => {
      await this.ensureGroup();
      try {
        return await this.readEntries(max);
      } catch (error) {
        // The stream was deleted (a flush, an operator): make the group again and read from the start.
        if (!String((error as Error).message).startsWith('NOGROUP')) throw error;
        this.groupReady = false;
        await this.ensureGroup();
        return this.readEntries(max);
      }
    });
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    if (entryIds.length === 0) return;
    await redisCall('webhook ack', () => ACK_SCRIPT.run(this.redis.commands, [webhookKeys.stream], [WEBHOOK_GROUP, ...entryIds]));
  }

  async depth(): Promise<number> {
    return Number(await redisCall('webhook depth', () => this.command(webhookKeys.stream, ['XLEN', webhookKeys.stream])));
  }

  async release(): Promise<void> {
    await redisCall('webhook lease release', () => RELEASE_SCRIPT.run(this.redis.commands, [webhookKeys.lease], [this.options.nodeId]));
  }

  /** Pending entries first (any consumer's, oldest first); new ones only once none is left pending. */
  private async readEntries(max: number): Promise<QueuedEvent[]> {
    const { stream } = webhookKeys;
    const claimed = (await this.command(stream, ['XAUTOCLAIM', stream, WEBHOOK_GROUP, this.options.nodeId, '0', '0-0', 'COUNT', String(max)])) as [string, unknown, unknown?];
    const pending = parseEntries(claimed[1]);
    // More pending than `max`: the rest comes next time, before anything new.
    if (claimed[0] !== '0-0' || pending.length >= max) return pending;
    const reply = (await this.command(stream, ['XREADGROUP', 'GROUP', WEBHOOK_GROUP, this.options.nodeId, 'COUNT', String(max - pending.length), 'STREAMS', stream, '>'])) as
      | Array<[string, unknown]>
      | null;
    const fresh = reply === null ? [] : parseEntries(reply[0]?.[1]);
    return [...pending, ...fresh];
  }

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    const { stream } = webhookKeys;
    try {
      // From the stream's start: events queued before any node made the group are delivered too.
      await this.command(stream, ['XGROUP', 'CREATE', stream, WEBHOOK_GROUP, '0', 'MKSTREAM']);
    } catch (error) {
      if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
    }
    this.groupReady = true;
  }
}
