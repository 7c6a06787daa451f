/**
 * What the hooks use of a RoomcastClient, as a type: the stores below are written
 * against it (not the class), so they can be unit-tested with a stand-in. Any
 * `RoomcastClient<Events, Signals>` is one.
 */
import type { RoomcastClient } from '../index.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- a store that does not use a map takes a client of any map */
export type HookClient<Events extends object = any, Signals extends object = any> = Pick<
  RoomcastClient<Events, Signals>,
  'state' | 'joinedRooms' | 'position' | 'join' | 'leave' | 'publish' | 'signal' | 'presenceList' | 'on'
>;

/**
 * A client of any event maps, as the context holds it. The hooks give it back
 * under the maps the caller names (their type parameters, or createRoomcastHooks).
 */
export type AnyRoomcastClient = RoomcastClient<any, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */
