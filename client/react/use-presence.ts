/** usePresence(room): the live member list of a room, from the SDK's LivePresence. */
import { useMemo } from 'react';
import type { LivePresenceOptions, RoomcastClient } from '../index.js';
import { useRoomcastClient } from './client-context.js';
import { idleStore, useExternalStore } from './external-store.js';
import { IDLE_PRESENCE, PresenceStore, type PresenceSnapshot } from './presence-store.js';
import { membershipsOf } from './room-memberships.js';

export interface UsePresenceOptions extends Pick<LivePresenceOptions, 'eventsMaxMembers' | 'pollMs' | 'refreshMs'> {
  /** A client other than the provider's. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- presence does not depend on the event maps
  client?: RoomcastClient<any, any>;
}

const IDLE_PRESENCE_STORE = idleStore(IDLE_PRESENCE);

/**
 * The members of `room` (`null`: none, state `idle`), updated on every join and
 * leave. Holds the room while mounted (joining it if no other hook or the app has),
 * since the gateway tells only members who comes and goes. Each member is a
 * connection (`members`); `users` are the distinct user ids. The options are those
 * of client.presenceList (set `eventsMaxMembers` to the gateway's
 * PRESENCE_EVENTS_MAX_MEMBERS if it is not the default 100).
 */
export function usePresence(room: string | null | undefined, options: UsePresenceOptions = {}): PresenceSnapshot {
  const client = useRoomcastClient(options.client);
  const { eventsMaxMembers, pollMs, refreshMs } = options;
  const store = useMemo(() => {
    if (room === null || room === undefined) return undefined;
    const live: LivePresenceOptions = {};
    if (eventsMaxMembers !== undefined) live.eventsMaxMembers = eventsMaxMembers;
    if (pollMs !== undefined) live.pollMs = pollMs;
    if (refreshMs !== undefined) live.refreshMs = refreshMs;
    return new PresenceStore(client, room, membershipsOf(client), live);
  }, [client, room, eventsMaxMembers, pollMs, refreshMs]);
  return useExternalStore(store ?? IDLE_PRESENCE_STORE);
}
