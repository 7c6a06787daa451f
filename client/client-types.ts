/**
 * The public types of RoomcastClient: its connection states and events, the
 * application's typed event maps, and the options of its calls.
 */
import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, DrainingEvent, JoinResult, RoomLeftEvent, ServerToClientEvents, SessionEvent } from '../shared/events.js';
import type { JsonValue, Message, PresenceMember, Signal, StreamPosition } from '../shared/wire-types.js';
import type { RoomcastError } from './errors.js';
import type { OutboxDrop } from './outbox-sender.js';
import type { GapEvent, RecoveredEvent } from './room-stream-types.js';

export type { OutboxDrop } from './outbox-sender.js';

export type RoomcastSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export interface PresenceChange {
  type: 'join' | 'leave';
  room: string;
  member: PresenceMember;
}

/**
 * The application's own events: publication event name -> type of its `data`, e.g.
 * `{ chat: { text: string }; typing: { typing: boolean } }`. The default allows any
 * event name with any JSON data. The types are the application's promise, not checked
 * at runtime: validate data from untrusted publishers yourself.
 */
export type DefaultEvents = Record<string, JsonValue>;
export type EventName<Events extends object> = keyof Events & string;

/** A delivered publication, discriminated by `event`: `switch (message.event)` narrows `data`. */
export type TypedMessage<Events extends object = DefaultEvents> = {
  [K in EventName<Events>]: Omit<Message, 'event' | 'data'> & { event: K; data: Events[K] };
}[EventName<Events>];

/** A volatile signal of another member (typing, cursor), discriminated by `event`. */
export type TypedSignal<Signals extends object = DefaultEvents> = {
  [K in EventName<Signals>]: Omit<Signal, 'event' | 'data'> & { event: K; data: Signals[K] };
}[EventName<Signals>];

export type ClientEvents<Events extends object = DefaultEvents, Signals extends object = DefaultEvents> = {
  state: (state: ConnectionState) => void;
  /** Every publication delivered to a room's onMessage (once, in offset order), from every room. */
  message: (message: TypedMessage<Events>) => void;
  /** A volatile signal of another member of a joined room. */
  signal: (signal: TypedSignal<Signals>) => void;
  /** A room's join (or rejoin after a reconnect) was acknowledged. */
  joined: (result: JoinResult) => void;
  /** An outbox entry was given up (its publish() promise rejects with the same error). */
  'outbox:dropped': (drop: OutboxDrop) => void;
  error: (error: RoomcastError) => void;
  /** Offsets of a room that will never be delivered (history no longer has them). */
  gap: (gap: GapEvent) => void;
  /** A room was rejoined after a reconnect and everything missed is (being) delivered. */
  recovered: (event: RecoveredEvent) => void;
  presence: (change: PresenceChange) => void;
  /** The gateway node is shutting down; the client reconnects after `reconnectInMs`. */
  draining: (event: DrainingEvent) => void;
  /**
   * After each connect: the user, and the rooms the gateway joined this connection to itself (the token's
   * `subscribe` claim, `user:<sub>`), each with its position. The client tracks them like rooms it joined
   * (`joinedRooms`, `message`, rejoined with `since` after a reconnect); `join(room, onMessage)` attaches a handler.
   */
  session: (event: SessionEvent) => void;
  /** The gateway took this connection out of a room (the backend asked): the room is no longer joined nor rejoined. */
  'room:left': (event: RoomLeftEvent) => void;
};

export type MessageHandler<Events extends object = DefaultEvents> = (message: TypedMessage<Events>) => void;

export interface JoinOptions<Signals extends object = DefaultEvents> {
  onPresence?: (change: PresenceChange) => void;
  onGap?: (gap: GapEvent) => void;
  /** Volatile signals of the room's other members (room:signal): no offset, no history, may be dropped. */
  onSignal?: (signal: TypedSignal<Signals>) => void;
}

export interface PublishOptions {
  /** Makes a retried publication safe: the gateway stores it once and answers with the original offset. */
  idempotencyKey?: string;
}

export interface HistoryOptions {
  /** Read after this position (exclusive); without it, the oldest retained messages. */
  since?: StreamPosition;
  limit?: number;
}
