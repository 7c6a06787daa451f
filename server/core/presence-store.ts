/**
 * Who is in a room, across every node: one entry per connection (a user with
 * two tabs is two members). The store is also the room's member count, so
 * MAX_ROOM_MEMBERS holds cluster-wide. Memory and Redis stores fulfil the same
 * contract (test/contract/presence-store.contract.ts).
 */
import type { PresenceMember } from '../../shared/index.js';

export type AddOutcome = 'added' | 'present' | 'full';

/**
 * What add() did, and the room's member count right after it, read in the
 * same step (one Redis call), so callers can treat large rooms differently
 * (PRESENCE_EVENTS_MAX_MEMBERS) without counting again.
 */
export interface AddResult {
  outcome: AddOutcome;
  members: number;
}

/** The member a remove() took out, and how many members the room had just before. */
export interface Removal {
  member: PresenceMember;
  membersBefore: number;
}

/** One page of GET /api/v1/rooms: rooms of a namespace whose name starts with `prefix`, after `after`. */
export interface RoomListQuery {
  /** Only rooms whose name starts with this ('' for all). */
  prefix: string;
  /** Rooms after this name (exclusive): the `next` of the previous page; null from the start. */
  after: string | null;
  /** At most this many rooms (at least 1). */
  limit: number;
}

export interface RoomListPage {
  /** Occupied rooms in name order (byte order), each with its member count across every node. */
  rooms: Array<{ room: string; members: number }>;
  /**
   * Where the next page starts (its `after`), or null when no room follows. A page may hold
   * fewer than `limit` rooms while `next` is not null (vacated rooms were skipped): page on until null.
   */
  next: string | null;
}

export interface PresenceStore {
  /**
   * Adds the member unless the room already has `maxMembers` (0: no limit). A store that answers
   * UNAVAILABLE past a deadline (Redis) and still writes the member later takes it out again itself,
   * unannounced: the caller was told the join failed.
   */
  add(namespace: string, room: string, member: PresenceMember, maxMembers: number): Promise<AddResult>;
  /**
   * Removes the connection; returns the member that left, or null if it was not present. A store that
   * answers UNAVAILABLE when a call outlives its deadline (Redis) may still carry the removal out later
   * (a stalled server, not a lost one): it then calls `late` with what it removed, so the leave is told.
   */
  remove(namespace: string, room: string, connectionId: string, late?: (removal: Removal) => void): Promise<Removal | null>;
  list(namespace: string, room: string): Promise<PresenceMember[]>;
  /**
   * Occupied rooms of a namespace, across every node, one page at a time. Paging
   * from `after: null` until `next` is null returns every room occupied
   * throughout exactly once; a room occupied or vacated meanwhile may or may not
   * appear. Read from the store alone: never a request to other nodes.
   */
  listRooms(namespace: string, query: RoomListQuery): Promise<RoomListPage>;
  close(): Promise<void>;
}

/**
 * Whether a join or leave is broadcast to the room as presence:join/leave:
 * only while the room, counting that member, has at most `maxMembers`
 * (PRESENCE_EVENTS_MAX_MEMBERS; 0: never). Every join or leave costs one
 * delivery per member, so a room of n members costs O(n²) for n joins; above
 * the cap, members read the list (presence:list, HTTP) instead.
 */
export function announcesPresence(maxMembers: number, roomMembers: number): boolean {
  return maxMembers > 0 && roomMembers <= maxMembers;
}
