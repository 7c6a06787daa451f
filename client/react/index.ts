/**
 * @roomcast/client/react: React hooks over the Roomcast client SDK (React 18 or
 * 19, an optional peer dependency). Wrap the app in <RoomcastProvider client={client}>
 * with a client it created once, then:
 * - useRoomcast() -> { client, state }: the connection state;
 * - useRoom(room, { maxMessages }) -> { messages, gaps, state, error, publish };
 * - usePresence(room) -> { members, users, loaded, state, error };
 * - useSignal(room, event?) -> { last, byMember, state, error, send } (send throttled);
 * - createRoomcastHooks<Events, Signals>(): the same hooks under the app's event maps.
 * Every hook cleans up on unmount (listeners, timers, and the room's join once no
 * hook of that client holds it), and StrictMode's double mount joins once.
 */
export { RoomcastProvider, useRoomcast, useRoomcastClient } from './client-context.js';
export type { RoomcastProviderProps, RoomcastValue } from './client-context.js';
export { useRoom } from './use-room.js';
export type { UseRoomOptions, UseRoomResult } from './use-room.js';
export { usePresence } from './use-presence.js';
export type { UsePresenceOptions } from './use-presence.js';
export { useSignal } from './use-signal.js';
export type { UseSignalOptions, UseSignalResult, UseSignalsResult } from './use-signal.js';
export { createRoomcastHooks } from './typed-hooks.js';
export type { RoomcastHooks } from './typed-hooks.js';
export { DEFAULT_MAX_MESSAGES, MAX_GAPS } from './room-store.js';
export type { RoomSnapshot, RoomState } from './room-store.js';
export type { PresenceSnapshot } from './presence-store.js';
export { DEFAULT_SIGNAL_THROTTLE_MS } from './signal-store.js';
export type { SignalSnapshot } from './signal-store.js';
export type { RoomStatus } from './room-memberships.js';
