/**
 * Who is in a room: one entry per connection (a user with two tabs is two
 * members). Memory and Redis stores fulfil the same contract.
 */
import type { PresenceMember } from '../../shared/index.js';

export interface PresenceStore {
  /** Adds the member; false when this connection was already present. */
  add(namespace: string, room: string, member: PresenceMember): Promise<boolean>;
  /** Removes the connection; returns the member that left, or null if it was not present. */
  remove(namespace: string, room: string, connectionId: string): Promise<PresenceMember | null>;
  list(namespace: string, room: string): Promise<PresenceMember[]>;
  close(): Promise<void>;
}
