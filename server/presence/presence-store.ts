/**
 * Who is in a room, across every node: one entry per connection (a user with
 * two tabs is two members). The store is also the room's member count, so
 * MAX_ROOM_MEMBERS holds cluster-wide. Memory and Redis stores fulfil the same
 * contract (test/contract/presence-store.contract.ts).
 */
import type { PresenceMember } from '../../shared/index.js';

export type AddOutcome = 'added' | 'present' | 'full';

export interface PresenceStore {
  /** Adds the member unless the room already has `maxMembers` (0: no limit). */
  add(namespace: string, room: string, member: PresenceMember, maxMembers: number): Promise<AddOutcome>;
  /** Removes the connection; returns the member that left, or null if it was not present. */
  remove(namespace: string, room: string, connectionId: string): Promise<PresenceMember | null>;
  list(namespace: string, room: string): Promise<PresenceMember[]>;
  close(): Promise<void>;
}
