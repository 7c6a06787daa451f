/**
 * useRoom's external store (for useSyncExternalStore): one room's delivered
 * messages (the latest `maxMessages`), its gaps and where its join stands, as an
 * immutable snapshot replaced on every change.
 *
 * The store does nothing until its first subscriber (React subscribes after
 * commit, so a render React throws away leaves nothing behind); the first one
 * holds the room (room-memberships.ts) and listens to the client's `message` and
 * `gap` events, the last one lets go of both. The snapshot outlives that: when
 * StrictMode unsubscribes and subscribes again, the messages are kept and none
 * is delivered twice (the client delivers each offset once; the store simply
 * was not listening for the instant in between, and nothing arrives then).
 */
import type { DefaultEvents, EventName, GapEvent, PublishOptions, PublishResult, RoomcastError, TypedMessage } from '../index.js';
import type { HookClient } from './hook-client.js';
import { HeldRoomStore, type RoomState } from './held-room-store.js';
import type { RoomMemberships } from './room-memberships.js';

export type { RoomState } from './held-room-store.js';

export interface RoomSnapshot<Events extends object = DefaultEvents> {
  /** The room's publications delivered since the hook first subscribed, once each and in offset order: the latest `maxMessages`. */
  readonly messages: readonly TypedMessage<Events>[];
  /** Offsets that will never be delivered (history no longer had them), oldest first: the latest MAX_GAPS. */
  readonly gaps: readonly GapEvent[];
  readonly state: RoomState;
  /** Why the room is `error` (a refused join: FORBIDDEN_ROOM, ROOM_FULL...) or `left`. */
  readonly error: RoomcastError | undefined;
}

export const DEFAULT_MAX_MESSAGES = 200;
/** Gap events kept per room (each names a range of offsets, so a few say a lot). */
export const MAX_GAPS = 100;

export interface RoomStoreOptions {
  /** How many of the latest messages the snapshot keeps. Default 200; Infinity keeps all. */
  maxMessages?: number;
}

export const IDLE_ROOM: RoomSnapshot<never> = Object.freeze({ messages: [], gaps: [], state: 'idle', error: undefined });

/** Appends to an immutable list, keeping its last `max` items. */
export function appendCapped<T>(list: readonly T[], item: T, max: number): readonly T[] {
  const keep = Math.max(0, Math.min(list.length, max - 1));
  return [...list.slice(list.length - keep), item];
}

export class RoomStore<Events extends object = DefaultEvents> extends HeldRoomStore<RoomSnapshot<Events>> {
  private readonly client: HookClient<Events>;
  private readonly maxMessages: number;

  constructor(client: HookClient<Events>, room: string, memberships: RoomMemberships, options: RoomStoreOptions = {}) {
    super(room, memberships, (held) => ({ messages: [], gaps: [], ...held }));
    this.client = client;
    const max = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
    if (!(max >= 1)) throw new RangeError(`maxMessages must be at least 1, got ${String(options.maxMessages)}`);
    this.maxMessages = max;
  }

  /** Publishes into the room (see RoomcastClient.publish: queued in the outbox while offline). */
  readonly publish = <K extends EventName<Events>>(event: K, data: Events[K], options?: PublishOptions): Promise<PublishResult> =>
    this.client.publish(this.room, event, data, options);

  protected listen(): Array<() => void> {
    const room = this.room;
    return [
      this.client.on('message', (message) => {
        if (message.room === room) this.update({ messages: appendCapped(this.snapshot.messages, message, this.maxMessages) });
      }),
      this.client.on('gap', (gap) => {
        if (gap.room === room) this.update({ gaps: appendCapped(this.snapshot.gaps, gap, MAX_GAPS) });
      }),
    ];
  }
}
