/**
 * The Roomcast client SDK: `new RoomcastClient(url, { token })`, then
 * `join(room, onMessage)`. In the browser bundle everything here is on the
 * global `Roomcast`.
 */
export { RoomcastClient } from './roomcast-client.js';
export type {
  ClientEvents,
  ConnectionState,
  DefaultEvents,
  EventName,
  HistoryOptions,
  JoinOptions,
  MessageHandler,
  OutboxDrop,
  PresenceChange,
  PublishOptions,
  RoomcastSocket,
  TypedMessage,
  TypedSignal,
} from './client-types.js';
export { CLIENT_ERROR_CATALOG, RoomcastError, isRetryableCode } from './errors.js';
export type { ClientErrorCode, RoomcastErrorCode, RoomcastErrorContext } from './errors.js';
export type { RoomcastClientOptions, RoomcastParser, TokenProvider } from './options.js';
export { DEFAULT_OUTBOX_MAX_ENTRIES, DEFAULT_OUTBOX_TTL_MS, Outbox, newIdempotencyKey } from './outbox.js';
export type { OutboxEntry, OutboxOptions } from './outbox.js';
export { debounce, throttle } from './timing.js';
export type { DebounceOptions, Shaped, ThrottleOptions } from './timing.js';
export { DEFAULT_PRESENCE_EVENTS_MAX_MEMBERS, DEFAULT_PRESENCE_POLL_MS, LivePresence, PresenceRoster } from './presence-list.js';
export type { LivePresenceEvents, LivePresenceOptions, PresenceSource } from './presence-list.js';
export { RoomStream } from './room-stream.js';
export type { GapEvent, GapReason, RecoveredEvent, RoomStreamOptions } from './room-stream-types.js';
export type { Scheduler } from './scheduler.js';
export { decodeJwtPayload } from './jwt.js';
export { DEFAULT_REORDER_WINDOW_MS } from '../shared/constants.js';
export { ERROR_CODES } from '../shared/errors.js';
export type { ErrorCode, ErrorPayload } from '../shared/errors.js';
export type { HistoryResult, JoinResult, PublishResult, RoomLeftEvent, SessionEvent } from '../shared/events.js';
export type { JsonValue, Message, PresenceMember, Signal, StreamPosition } from '../shared/wire-types.js';
