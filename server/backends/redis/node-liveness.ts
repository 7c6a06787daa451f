/**
 * Node liveness for presence: each node heartbeats into a sorted set; every
 * node sweeps it, and the first to remove a node that stopped heartbeating
 * (crashed, kill -9, partitioned) removes that node's members and announces
 * their `presence:leave`. A member of a dead node is gone within
 * NODE_TTL_MS plus one sweep interval.
 *
 * After Redis was unreachable, every node's heartbeat is old: a node sweeps
 * only once its own heartbeats have succeeded for a whole NODE_TTL_MS, so the
 * first node back does not take the others for dead. And once back, each node
 * writes its own members again (Redis may have come back empty) and removes
 * the ones that left while Redis could not be told.
 *
 * A Redis that stalls past NODE_TTL_MS (rather than fails) holds every node's
 * heartbeats up alike, and writes them with the scores of when they were sent:
 * a beat that took that long restarts the healthy window too, so no node
 * sweeps the others on those stale scores.
 *
 * A node that is alive can still be swept: one whose event loop stalled past
 * NODE_TTL_MS (a starved or SIGSTOPped process heartbeats late, not never).
 * Its heartbeat then adds it to the set instead of updating it (ZADD answers
 * 1), and it writes its members back the same way. A sweeper may still be
 * purging it at that moment and remove what was just written back, so it does
 * so once more a NODE_TTL_MS later.
 */
import type { MemberChanges } from '../../core/membership.js';
import type { RedisCommands } from './redis-connections.js';
import { timed, type ObserveRedis } from './redis-errors.js';
import type { Logger } from '../../ops/logger.js';
import { indexEntry, nodeIndexKey, NODES_KEY, parseIndexEntry, type RedisPresenceStore } from './presence.js';

export interface NodeLivenessOptions {
  /** Members removed for a dead node or written back after an outage go to Membership (events, announcements). */
  changes: MemberChanges;
  redis: RedisCommands;
  presence: RedisPresenceStore;
  nodeId: string;
  ttlMs: number;
  logger: Logger;
  /** Times each heartbeat (metrics). */
  observe?: ObserveRedis;
}

export class NodeLiveness {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Since when this node's heartbeats succeed without a break; null after a failed one. */
  private healthySince: number | null = null;
  /** Why this node's members must be written back on the next healthy tick, if they must. */
  private needsReconcile: string | null = null;
  /** When to write them back once more after this node found itself swept (see the head of this file). */
  private reconcileAgainAt: number | null = null;

  constructor(private readonly options: NodeLivenessOptions) {}

  /** Removes what a previous process with this node id left behind, then starts heartbeating and sweeping. */
  async start(): Promise<void> {
    await this.purge(this.options.nodeId);
    await this.beat();
    this.healthySince = Date.now();
    const interval = Math.max(100, Math.floor(this.options.ttlMs / 3));
    this.timer = setInterval(() => void this.tick(), interval);
    this.timer.unref();
  }

  /** Stops heartbeating; a clean shutdown also withdraws the node at once. */
  async stop(withdraw: boolean): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (!withdraw) return;
    try {
      await this.purge(this.options.nodeId);
      await this.options.redis.zRem(NODES_KEY, this.options.nodeId);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not withdraw the node from presence');
    }
  }

  /** True when this node was not in the set: swept as dead (or Redis lost the set) since the previous beat. */
  private async beat(): Promise<boolean> {
    const added = await timed(this.options.observe, 'heartbeat', () => this.options.redis.zAdd(NODES_KEY, { score: Date.now(), value: this.options.nodeId }));
    return Number(added) === 1;
  }

  private async tick(): Promise<void> {
    // One tick at a time: a slow Redis must not pile up sweeps.
    if (this.running) return;
    this.running = true;
    try {
      let swept: boolean;
      const sentAt = Date.now();
      try {
        swept = await this.beat();
      } catch (error) {
        this.healthySince = null;
        this.needsReconcile = 'after a Redis outage';
        throw error;
      }
      // A beat that took a whole TTL to land (Redis stalled rather than failed): every node's beats were held
      // up alike and Redis wrote them with the scores of when they were sent, so the others look dead until
      // their next ones land. Sweep only after a TTL of prompt beats again, as after a failed one.
      if (Date.now() - sentAt >= this.options.ttlMs) this.healthySince = Date.now();
      else this.healthySince ??= Date.now();
      if (swept) {
        this.options.logger.warn('this node was taken for dead (its heartbeat was older than NODE_TTL_MS): writing its members back');
        this.needsReconcile ??= 'after this node was swept';
        this.reconcileAgainAt = Date.now() + this.options.ttlMs;
      }
      if (this.needsReconcile !== null) {
        await this.reconcile(this.needsReconcile);
        this.needsReconcile = null;
      } else if (this.reconcileAgainAt !== null && Date.now() >= this.reconcileAgainAt) {
        await this.reconcile('after this node was swept, once its sweeper is done');
        this.reconcileAgainAt = null;
      }
      if (Date.now() - this.healthySince >= this.options.ttlMs) await this.sweep();
    } catch (error) {
      this.options.logger.debug({ err: error }, 'presence liveness tick failed');
    } finally {
      this.running = false;
    }
  }

  /** Finds nodes whose heartbeat is older than the TTL; whoever removes one from the set cleans it up. */
  async sweep(): Promise<void> {
    const dead = await this.options.redis.zRangeByScore(NODES_KEY, '-inf', Date.now() - this.options.ttlMs);
    for (const nodeId of dead) {
      if (nodeId === this.options.nodeId) continue;
      if ((await this.options.redis.zRem(NODES_KEY, nodeId)) === 1) {
        this.options.logger.warn({ deadNode: nodeId }, 'node stopped heartbeating: removing its presence');
        await this.purge(nodeId);
      }
    }
  }

  /** Makes Redis agree with this node's own connections again (after an outage, or after being swept while alive). */
  async reconcile(reason = 'after a Redis outage'): Promise<void> {
    const local = this.options.changes.localMemberships();
    const localEntries = new Set(local.map(({ namespace, room, member }) => indexEntry(namespace, room, member.connectionId)));
    let added = 0;
    for (const { namespace, room, member } of local) {
      // No member limit here: these connections are in their rooms already.
      const result = await this.options.presence.add(namespace, room, member, 0);
      if (result.outcome === 'added') {
        added += 1;
        this.options.changes.restored(namespace, room, member, result.members);
      }
    }
    let removed = 0;
    for (const raw of await this.options.redis.sMembers(nodeIndexKey(this.options.nodeId))) {
      if (localEntries.has(raw)) continue;
      const entry = parseIndexEntry(raw);
      if (entry === null) continue;
      const removal = await this.options.presence.removeEntry(entry.namespace, entry.room, entry.connectionId);
      await this.options.redis.sRem(nodeIndexKey(this.options.nodeId), raw);
      if (removal !== null) {
        removed += 1;
        this.options.changes.removed(entry.namespace, entry.room, removal.member, removal.membersBefore);
      }
    }
    this.options.logger.info({ added, removed }, `presence reconciled ${reason}`);
  }

  private async purge(nodeId: string): Promise<void> {
    const indexKey = nodeIndexKey(nodeId);
    const entries = await this.options.redis.sMembers(indexKey);
    for (const raw of entries) {
      const entry = parseIndexEntry(raw);
      if (entry === null) continue;
      const removal = await this.options.presence.removeEntry(entry.namespace, entry.room, entry.connectionId);
      if (removal !== null) this.options.changes.removed(entry.namespace, entry.room, removal.member, removal.membersBefore);
    }
    await this.options.redis.del(indexKey);
  }
}
