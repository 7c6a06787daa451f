/**
 * The hooks under the app's event maps, declared once:
 *
 *   export const { useRoom, useSignal, usePresence, useRoomcast } = createRoomcastHooks<ChatEvents, ChatSignals>();
 *
 * Nothing happens at run time (the same functions come back); the point is that
 * `useSignal(room, 'typing')` then infers the event and its data, which TypeScript
 * cannot do when one of two type parameters is written out by hand.
 */
import type { DefaultEvents, EventName } from '../index.js';
import { useRoomcast, type RoomcastValue } from './client-context.js';
import { usePresence } from './use-presence.js';
import { useRoom, type UseRoomOptions, type UseRoomResult } from './use-room.js';
import { useSignal, type UseSignalOptions, type UseSignalResult, type UseSignalsResult } from './use-signal.js';

export interface RoomcastHooks<Events extends object = DefaultEvents, Signals extends object = DefaultEvents> {
  useRoomcast(): RoomcastValue<Events, Signals>;
  useRoom(room: string | null | undefined, options?: UseRoomOptions<Events>): UseRoomResult<Events>;
  usePresence: typeof usePresence;
  useSignal: {
    <K extends EventName<Signals>>(room: string | null | undefined, event: K, options?: UseSignalOptions<Signals>): UseSignalResult<Signals, K>;
    (room: string | null | undefined, event?: undefined, options?: UseSignalOptions<Signals>): UseSignalsResult<Signals>;
  };
}

export function createRoomcastHooks<Events extends object = DefaultEvents, Signals extends object = DefaultEvents>(): RoomcastHooks<Events, Signals> {
  return { useRoomcast, useRoom, usePresence, useSignal } as RoomcastHooks<Events, Signals>;
}
