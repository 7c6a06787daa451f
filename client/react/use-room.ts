/**
 * useRoom(room): joins a room while the component is mounted and renders its
 * publications, delivered once and in offset order across reconnects (the SDK's
 * guarantee), with its gaps and where its join stands.
 */
import { useMemo } from 'react';
import { RoomcastError, type DefaultEvents, type EventName, type PublishOptions, type PublishResult, type RoomcastClient } from '../index.js';
import { useRoomcastClient } from './client-context.js';
import { idleStore, useExternalStore, type ExternalStore } from './external-store.js';
import { membershipsOf } from './room-memberships.js';
import { IDLE_ROOM, RoomStore, type RoomSnapshot } from './room-store.js';

export interface UseRoomOptions<Events extends object = DefaultEvents> {
  /** How many of the latest messages `messages` keeps. Default 200; `Infinity` keeps every one. */
  maxMessages?: number;
  /** A client other than the provider's (its event map types the result). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any signal map: useRoom does not use signals
  client?: RoomcastClient<Events, any>;
}

export interface UseRoomResult<Events extends object = DefaultEvents> extends RoomSnapshot<Events> {
  /**
   * Publishes into the room: RoomcastClient.publish (waits for the room's rejoin,
   * queued in the outbox while offline). The publication comes back in `messages`
   * with its offset. Stable for a given client and room.
   */
  publish<K extends EventName<Events>>(event: K, data: Events[K], options?: PublishOptions): Promise<PublishResult>;
}

const IDLE_ROOM_STORE = idleStore<RoomSnapshot<never>>(IDLE_ROOM);

const publishNowhere = (): Promise<PublishResult> => Promise.reject(RoomcastError.local('INVALID_PAYLOAD', 'useRoom was given no room to publish to', { event: 'room:publish' }));

/**
 * Joins `room` on mount and leaves it on unmount or when `room` changes (`null`:
 * no room, state `idle`). Hooks of the same client share one join per room
 * (StrictMode's double mount too: one join, each message once). `messages` holds
 * what was delivered since this hook mounted; changing `room` or `maxMessages`
 * starts a new list. `state`: joining | joined | rejoining | left | error (`error`
 * holds the refusal, e.g. FORBIDDEN_ROOM) | idle.
 */
export function useRoom<Events extends object = DefaultEvents>(room: string | null | undefined, options: UseRoomOptions<Events> = {}): UseRoomResult<Events> {
  const client = useRoomcastClient<Events>(options.client);
  const { maxMessages } = options;
  const store = useMemo(
    () => (room === null || room === undefined ? undefined : new RoomStore<Events>(client, room, membershipsOf(client), { maxMessages })),
    [client, room, maxMessages],
  );
  const snapshot = useExternalStore<RoomSnapshot<Events>>(store ?? (IDLE_ROOM_STORE as unknown as ExternalStore<RoomSnapshot<Events>>));
  const publish = (store?.publish ?? publishNowhere) as UseRoomResult<Events>['publish'];
  return useMemo(() => ({ ...snapshot, publish }), [snapshot, publish]);
}
