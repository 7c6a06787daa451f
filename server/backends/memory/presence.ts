/** Presence in this process's memory, for a single node: a map of rooms to their connections. */
import type { PresenceMember } from '../../../shared/index.js';
import type { AddResult, PresenceStore, Removal, RoomListPage, RoomListQuery } from '../../core/presence-store.js';

export class MemoryPresenceStore implements PresenceStore {
  private readonly rooms = new Map<string, Map<string, PresenceMember>>();

  async add(namespace: string, room: string, member: PresenceMember, maxMembers: number): Promise<AddResult> {
    const key = `${namespace}\u0000${room}`;
    let members = this.rooms.get(key);
    if (members === undefined) {
      members = new Map();
      this.rooms.set(key, members);
    }
    if (members.has(member.connectionId)) return { outcome: 'present', members: members.size };
    if (maxMembers > 0 && members.size >= maxMembers) return { outcome: 'full', members: members.size };
    members.set(member.connectionId, member);
    return { outcome: 'added', members: members.size };
  }

  async remove(namespace: string, room: string, connectionId: string): Promise<Removal | null> {
    const key = `${namespace}\u0000${room}`;
    const members = this.rooms.get(key);
    const member = members?.get(connectionId);
    if (members === undefined || member === undefined) return null;
    const membersBefore = members.size;
    members.delete(connectionId);
    if (members.size === 0) this.rooms.delete(key);
    return { member, membersBefore };
  }

  async list(namespace: string, room: string): Promise<PresenceMember[]> {
    return [...(this.rooms.get(`${namespace}\u0000${room}`)?.values() ?? [])];
  }

  /**
   * Walks every occupied room of every namespace and sorts the matches: O(rooms) per page,
   * which one node's memory holds without trouble (no ordered index to keep on each join).
   */
  async listRooms(namespace: string, { prefix, after, limit }: RoomListQuery): Promise<RoomListPage> {
    const keyPrefix = `${namespace}\u0000${prefix}`;
    const matches: Array<{ room: string; members: number }> = [];
    for (const [key, members] of this.rooms) {
      if (!key.startsWith(keyPrefix)) continue;
      const room = key.slice(namespace.length + 1);
      if (after === null || room > after) matches.push({ room, members: members.size });
    }
    matches.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
    const rooms = matches.slice(0, limit);
    return { rooms, next: matches.length > limit ? (rooms[rooms.length - 1] as { room: string }).room : null };
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
