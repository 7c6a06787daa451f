/**
 * Presence in Redis, shared by every node. Per room a hash of connection id ->
 * member; per node a set indexing its entries, so that when a node dies the
 * others can remove exactly its members (see node-liveness.ts).
 * The index entry is written before the room entry and removed after it, so a
 * crash in between leaves at most an index entry pointing at nothing.
 */
import type { PresenceMember } from '../../../shared/index.js';
import { LuaScript } from './lua-script.js';
import type { RedisCommands } from './redis-connections.js';
import { redisCall, timed, type ObserveRedis } from './redis-errors.js';
import { KEY_PREFIX, roomTag } from './keys.js';
import type { AddOutcome, AddResult, PresenceStore, Removal } from '../../core/presence-store.js';

export const roomMembersKey = (namespace: string, room: string): string => `${KEY_PREFIX}${roomTag(namespace, room)}:members`;
export const nodeIndexKey = (nodeId: string): string => `${KEY_PREFIX}node:{${nodeId}}:members`;
/** Node ids by the time of their last heartbeat. */
export const NODES_KEY = `${KEY_PREFIX}nodes`;

/** An index entry: namespace, room and connection id; none of them can contain "|". */
export const indexEntry = (namespace: string, room: string, connectionId: string): string => `${namespace}|${room}|${connectionId}`;
export function parseIndexEntry(entry: string): { namespace: string; room: string; connectionId: string } | null {
  const [namespace, room, connectionId] = entry.split('|');
  return namespace && room && connectionId ? { namespace, room, connectionId } : null;
}

/** KEYS: room members. ARGV: connection id, member JSON, max members (0: none). -> { outcome, member count after }. */
const ADD_SCRIPT = new LuaScript(`
local count = redis.call('HLEN', KEYS[1])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return { 'present', count } end
local max = tonumber(ARGV[3])
if max > 0 and count >= max then return { 'full', count } end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { 'added', count + 1 }
`);

/** KEYS: room members. ARGV: connection id. -> { removed member JSON, member count before }, or false. */
const REMOVE_SCRIPT = new LuaScript(`
local member = redis.call('HGET', KEYS[1], ARGV[1])
if not member then return false end
local count = redis.call('HLEN', KEYS[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return { member, count }
`);

export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: RedisCommands,
    private readonly nodeId: string,
    /** Times each add, remove and list (metrics). */
    private readonly observe?: ObserveRedis,
  ) {}

  async add(namespace: string, room: string, member: PresenceMember, maxMembers: number): Promise<AddResult> {
    const entry = indexEntry(namespace, room, member.connectionId);
    return redisCall('presence add', () => timed(this.observe, 'presence_add', async () => {
      await this.redis.sAdd(nodeIndexKey(this.nodeId), entry);
      const [outcome, members] = (await ADD_SCRIPT.run(this.redis, [roomMembersKey(namespace, room)], [member.connectionId, JSON.stringify(member), maxMembers])) as [
        AddOutcome,
        number,
      ];
      if (outcome === 'full') await this.redis.sRem(nodeIndexKey(this.nodeId), entry);
      return { outcome, members: Number(members) };
    }));
  }

  async remove(namespace: string, room: string, connectionId: string): Promise<Removal | null> {
    return redisCall('presence remove', () => timed(this.observe, 'presence_remove', async () => {
      const removal = await this.removeEntry(namespace, room, connectionId);
      await this.redis.sRem(nodeIndexKey(this.nodeId), indexEntry(namespace, room, connectionId));
      return removal;
    }));
  }

  /** Removes a room entry of any node (used when sweeping a dead node's members). */
  async removeEntry(namespace: string, room: string, connectionId: string): Promise<Removal | null> {
    const removed = (await REMOVE_SCRIPT.run(this.redis, [roomMembersKey(namespace, room)], [connectionId])) as [string, number] | null;
    if (!Array.isArray(removed)) return null;
    return { member: JSON.parse(removed[0]) as PresenceMember, membersBefore: Number(removed[1]) };
  }

  async list(namespace: string, room: string): Promise<PresenceMember[]> {
    const members = await redisCall('presence list', () => timed(this.observe, 'presence_list', () => this.redis.hGetAll(roomMembersKey(namespace, room))));
    return Object.values(members)
      .map((json) => JSON.parse(json) as PresenceMember)
      .sort((a, b) => a.joinedAt - b.joinedAt);
  }

  async close(): Promise<void> {
    // The connection belongs to the gateway.
  }
}
