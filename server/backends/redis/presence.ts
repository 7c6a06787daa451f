/**
 * Presence in Redis, shared by every node. Per room a hash of connection id ->
 * member; per node a set indexing its entries, so that when a node dies the
 * others can remove exactly its members (see node-liveness.ts).
 * The index entry is written before the room entry and removed after it, so a
 * crash in between leaves at most an index entry pointing at nothing.
 *
 * The room index (GET /api/v1/rooms): per namespace a sorted set of room names,
 * all of score 0, so ZRANGEBYLEX pages through them in name order with a prefix
 * and an exclusive cursor, in O(log n + page) on one key, never a SCAN of the
 * keyspace. On a Redis Cluster it lives in another slot than the rooms' hashes,
 * so no script can keep it exact; it is kept a superset of the occupied rooms
 * instead, and readers skip (and prune) the rooms found empty:
 * - a join that makes a room's first member (count 1) adds the room after the
 *   member is written;
 * - the leave that empties a room (and the lister meeting an empty one) removes
 *   it, then counts the room again and adds it back if someone joined meanwhile.
 * Whatever the interleaving, a room that has members once the writes are done
 * is indexed: either the last removal counted its members and put it back, or
 * the join that found it empty after that removal added it later. The one gap:
 * a node that dies between writing a first member and indexing the room leaves
 * that room unlisted until the liveness sweeper removes the member (NODE_TTL_MS)
 * or the room empties and fills again. Rooms occupied before this index existed
 * are listed once they have emptied and filled again.
 */
import type { PresenceMember } from '../../../shared/index.js';
import { LuaScript } from './lua-script.js';
import type { RedisCommands } from './redis-connections.js';
import { REDIS_CALL_TIMEOUT_MS, redisCall, timed, type ObserveRedis } from './redis-errors.js';
import { KEY_PREFIX, roomTag } from './keys.js';
import { PresenceRemovals } from './presence-removals.js';
import type { AddOutcome, AddResult, PresenceStore, Removal, RoomListPage, RoomListQuery } from '../../core/presence-store.js';

export const roomMembersKey = (namespace: string, room: string): string => `${KEY_PREFIX}${roomTag(namespace, room)}:members`;
export const nodeIndexKey = (nodeId: string): string => `${KEY_PREFIX}node:{${nodeId}}:members`;
/** The namespace's room index: a sorted set of room names (score 0), tagged by namespace. */
export const roomIndexKey = (namespace: string): string => `${KEY_PREFIX}rooms:{${namespace}}`;
/** Sorts after every character a room name may hold: the exclusive upper bound of a prefix's range. */
const AFTER_ROOM_CHARACTERS = '{';
/** Index reads one listing makes at most before it answers what it has (a run of empty rooms being pruned). */
const MAX_INDEX_READS = 8;

/** The commands of the room index, beyond what the other stores use. */
interface RoomIndexCommands {
  hLen(key: string): Promise<number>;
  zRangeByLex(key: string, min: string, max: string, options: { LIMIT: { offset: number; count: number } }): Promise<string[]>;
}

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
  private readonly removals: PresenceRemovals;
  /** Each member's newest add while it is in flight or timed out and unsettled (see add()). */
  private readonly newestAdd = new Map<string, object>();

  constructor(
    private readonly redis: RedisCommands,
    private readonly nodeId: string,
    /** Times each add, remove and list (metrics). */
    private readonly observe?: ObserveRedis,
  ) {
    this.removals = new PresenceRemovals({
      redis,
      nodeIndexKey: nodeIndexKey(nodeId),
      roomMembersKey,
      indexEntry,
      emptied: (namespace, room) => this.unindexIfEmpty(namespace, room),
      ...(observe === undefined ? {} : { observe }),
    });
  }

  async add(namespace: string, room: string, member: PresenceMember, maxMembers: number): Promise<AddResult> {
    const entry = indexEntry(namespace, room, member.connectionId);
    // A removal of this member still queued or in flight goes first: a leave never overtakes a later join.
    await this.removals.settled(entry);
    // Answered UNAVAILABLE past the deadline, the add may still be run by a Redis that was only slow (its steps go
    // one after the other). A member it writes then never joined: taken out once the add is done, so the removal
    // follows it; not if a newer add of the same member (a retried join) was made since, which then counts as the
    // member's join.
    const attempt = {};
    const earlierTimedOut = this.newestAdd.has(entry);
    this.newestAdd.set(entry, attempt);
    const forget = (): void => {
      if (this.newestAdd.get(entry) === attempt) this.newestAdd.delete(entry);
    };
    const late = (result: AddResult): void => {
      if (result.outcome === 'added' && this.newestAdd.get(entry) === attempt) this.remove(namespace, room, member.connectionId).catch(() => undefined);
    };
    const work = timed(this.observe, 'presence_add', async (): Promise<AddResult> => {
      await this.redis.sAdd(nodeIndexKey(this.nodeId), entry);
      const [outcome, members] = (await ADD_SCRIPT.run(this.redis, [roomMembersKey(namespace, room)], [member.connectionId, JSON.stringify(member), maxMembers])) as [
        AddOutcome,
        number,
      ];
      if (outcome === 'full') await this.redis.sRem(nodeIndexKey(this.nodeId), entry);
      // The first member: index the room, after the member is written (see the head of this file).
      if (outcome === 'added' && Number(members) === 1) await this.redis.zAdd(roomIndexKey(namespace), { score: 0, value: room });
      return { outcome, members: Number(members) };
    });
    let result: AddResult;
    try {
      result = await redisCall('presence add', () => work, REDIS_CALL_TIMEOUT_MS, late);
    } catch (error) {
      work.then(forget, forget);
      throw error;
    }
    forget();
    // Present only because the timed-out add wrote it late, unannounced: this join is the member's first.
    return result.outcome === 'present' && earlierTimedOut ? { ...result, outcome: 'added' } : result;
  }

  /** Coalesced with the other removals of this tick (presence-removals.ts): a node emptying pays per room, not per member. */
  remove(namespace: string, room: string, connectionId: string, late?: (removal: Removal) => void): Promise<Removal | null> {
    return this.removals.remove(namespace, room, connectionId, late);
  }

  /** Removes a room entry of any node (used when sweeping a dead node's members). */
  async removeEntry(namespace: string, room: string, connectionId: string): Promise<Removal | null> {
    const removed = (await REMOVE_SCRIPT.run(this.redis, [roomMembersKey(namespace, room)], [connectionId])) as [string, number] | null;
    if (!Array.isArray(removed)) return null;
    const membersBefore = Number(removed[1]);
    if (membersBefore === 1) await this.unindexIfEmpty(namespace, room);
    return { member: JSON.parse(removed[0]) as PresenceMember, membersBefore };
  }

  async listRooms(namespace: string, { prefix, after, limit }: RoomListQuery): Promise<RoomListPage> {
    return redisCall('presence rooms', () => timed(this.observe, 'presence_list', async () => {
      const index = this.redis as unknown as RoomIndexCommands;
      const key = roomIndexKey(namespace);
      const upper = `(${prefix}${AFTER_ROOM_CHARACTERS}`;
      let lower = after !== null && after >= prefix ? `(${after}` : `[${prefix}`;
      let lastRead: string | null = null;
      const rooms: Array<{ room: string; members: number }> = [];
      // One more than the page: finding it is how the page knows another follows.
      for (let reads = 0; reads < MAX_INDEX_READS; reads += 1) {
        const wanted = limit + 1 - rooms.length;
        const candidates = await index.zRangeByLex(key, lower, upper, { LIMIT: { offset: 0, count: wanted } });
        const counts = await Promise.all(candidates.map((room) => index.hLen(roomMembersKey(namespace, room))));
        candidates.forEach((room, position) => {
          const members = Number(counts[position]);
          if (members > 0) rooms.push({ room, members });
          else void this.unindexIfEmpty(namespace, room).catch(() => undefined);
        });
        if (rooms.length > limit) return { rooms: rooms.slice(0, limit), next: (rooms[limit - 1] as { room: string }).room };
        if (candidates.length < wanted) return { rooms, next: null };
        lastRead = candidates[candidates.length - 1] as string;
        lower = `(${lastRead}`;
      }
      // A long run of emptied rooms: answer what was found; the next page starts after the last room read.
      return { rooms, next: lastRead };
    }));
  }

  /** Takes an emptied room out of the index, and puts it back if a member joined meanwhile (see the head of this file). */
  private async unindexIfEmpty(namespace: string, room: string): Promise<void> {
    const index = this.redis as unknown as RoomIndexCommands;
    await this.redis.zRem(roomIndexKey(namespace), room);
    if ((await index.hLen(roomMembersKey(namespace, room))) > 0) await this.redis.zAdd(roomIndexKey(namespace), { score: 0, value: room });
  }

  async list(namespace: string, room: string): Promise<PresenceMember[]> {
    const members = await redisCall('presence list', () => timed(this.observe, 'presence_list', () => this.redis.hGetAll(roomMembersKey(namespace, room))));
    return Object.values(members)
      .map((json) => JSON.parse(json) as PresenceMember)
      .sort((a, b) => a.joinedAt - b.joinedAt);
  }

  async close(): Promise<void> {
    // The connection belongs to the gateway; the removals asked before closing still reach Redis.
    await this.removals.close();
  }
}
