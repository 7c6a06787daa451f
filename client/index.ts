/**
 * The Roomcast client SDK: `new RoomcastClient(url, { token })`, then
 * `join(room, onMessage)`. In the browser bundle everything here is on the
 * global `Roomcast`.
 */
export { RoomcastClient } from './roomcast-client.js';
export type {
  ClientEvents,
  ConnectionState,
  HistoryOptions,
  JoinOptions,
  MessageHandler,
  PresenceChange,
  PublishOptions,
  RoomcastSocket,
} from './roomcast-client.js';
export { RoomcastError } from './errors.js';
export type { RoomcastErrorContext } from './errors.js';
export type { RoomcastClientOptions, TokenProvider } from './options.js';
export { RoomStream } from './room-stream.js';
export type { GapEvent, GapReason, RecoveredEvent, RoomStreamOptions } from './room-stream.js';
export type { Scheduler } from './scheduler.js';
export { decodeJwtPayload } from './jwt.js';
export { DEFAULT_REORDER_WINDOW_MS, ERROR_CODES } from '../shared/index.js';
export type {
  ErrorCode,
  ErrorPayload,
  HistoryResult,
  JoinResult,
  JsonValue,
  Message,
  PresenceMember,
  PublishResult,
  StreamPosition,
} from '../shared/index.js';
