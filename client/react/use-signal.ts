/**
 * useSignal(room, event?): volatile signals of a room (typing indicators,
 * cursors): the latest one and the latest per member, and a throttled sender.
 */
import { useMemo } from 'react';
import type { DefaultEvents, EventName, RoomcastClient } from '../index.js';
import { useRoomcastClient } from './client-context.js';
import { idleStore, useExternalStore, type ExternalStore } from './external-store.js';
import { membershipsOf } from './room-memberships.js';
import { IDLE_SIGNALS, SignalStore, type SignalSnapshot, type SignalStoreOptions } from './signal-store.js';

export interface UseSignalOptions<Signals extends object = DefaultEvents> extends Pick<SignalStoreOptions, 'throttleMs' | 'expireMs'> {
  /** A client other than the provider's (its signal map types the result). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any event map: useSignal does not use publications
  client?: RoomcastClient<any, Signals>;
}

/** useSignal(room, event): signals of that event, and `send(data)`. */
export interface UseSignalResult<Signals extends object, K extends EventName<Signals>> extends SignalSnapshot<Pick<Signals, K>> {
  /** Sends `event` to the room's other members, at most one per `throttleMs` (the latest data wins; the first goes at once). Stable. */
  send(data: Signals[K]): void;
}

/** useSignal(room): signals of every event, and `send(event, data)`. */
export interface UseSignalsResult<Signals extends object> extends SignalSnapshot<Signals> {
  /** Sends a signal to the room's other members, throttled per event (see UseSignalResult.send). Stable. */
  send<K extends EventName<Signals>>(event: K, data: Signals[K]): void;
}

const IDLE_SIGNAL_STORE = idleStore<SignalSnapshot<never>>(IDLE_SIGNALS);
const sendNowhere = (): void => undefined;

/**
 * Listens to the signals of `room` (of `event` only, when given) while mounted,
 * holding the room like useRoom (one join per room and client). `last` is the
 * latest signal, `byMember` the latest of each user (`signal.from`); with
 * `expireMs` both forget a signal that old (a typing indicator of someone who
 * left). Signals are never stored nor replayed: what came while offline is gone,
 * and `send` drops what it is given while offline or before the room is joined.
 * A refused send (RATE_LIMITED, PAYLOAD_TOO_LARGE...) shows in `error`.
 */
export function useSignal<Signals extends object = DefaultEvents, K extends EventName<Signals> = EventName<Signals>>(
  room: string | null | undefined,
  event: K,
  options?: UseSignalOptions<Signals>,
): UseSignalResult<Signals, K>;
export function useSignal<Signals extends object = DefaultEvents>(room: string | null | undefined, event?: undefined, options?: UseSignalOptions<Signals>): UseSignalsResult<Signals>;
export function useSignal<Signals extends object = DefaultEvents>(
  room: string | null | undefined,
  event?: EventName<Signals>,
  options: UseSignalOptions<Signals> = {},
): UseSignalResult<Signals, EventName<Signals>> | UseSignalsResult<Signals> {
  const client = useRoomcastClient<object, Signals>(options.client);
  const { throttleMs, expireMs } = options;
  const store = useMemo(() => {
    if (room === null || room === undefined) return undefined;
    const settings: SignalStoreOptions = { event };
    if (throttleMs !== undefined) settings.throttleMs = throttleMs;
    if (expireMs !== undefined) settings.expireMs = expireMs;
    return new SignalStore<Signals>(client, room, membershipsOf(client), settings);
  }, [client, room, event, throttleMs, expireMs]);
  const snapshot = useExternalStore<SignalSnapshot<Signals>>(store ?? (IDLE_SIGNAL_STORE as unknown as ExternalStore<SignalSnapshot<Signals>>));
  const send = useMemo(() => {
    if (store === undefined) return sendNowhere;
    if (event === undefined) return store.send;
    return (data: Signals[EventName<Signals>]) => store.send(event, data);
  }, [store, event]);
  return useMemo(() => ({ ...snapshot, send }) as UseSignalsResult<Signals>, [snapshot, send]);
}
