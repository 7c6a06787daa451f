/**
 * The client the hooks use: the app creates one RoomcastClient (outside React,
 * or once at start-up) and hands it to <RoomcastProvider client={client}>; the
 * hooks below find it there. The provider neither connects nor closes it: its
 * life is the app's, so StrictMode's double mount, a remounted provider or hot
 * reload never open a second connection or leak one.
 */
import { createContext, createElement, useCallback, useContext, useMemo, type ReactElement, type ReactNode } from 'react';
import type { ConnectionState, DefaultEvents, RoomcastClient } from '../index.js';
import { useExternalStore } from './external-store.js';
import type { AnyRoomcastClient } from './hook-client.js';

const RoomcastContext = createContext<AnyRoomcastClient | null>(null);
RoomcastContext.displayName = 'RoomcastContext';

export interface RoomcastProviderProps {
  /** The app's client; the provider does not close it. */
  client: AnyRoomcastClient;
  children?: ReactNode;
}

/** Makes `client` the one every hook below uses. */
export function RoomcastProvider({ client, children }: RoomcastProviderProps): ReactElement {
  return createElement(RoomcastContext.Provider, { value: client }, children);
}

/**
 * The client a hook uses: `override` (a hook's `client` option) if given, else
 * the provider's. Throws when there is neither: a hook outside <RoomcastProvider>.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the maps are the caller's promise (see hook-client.ts)
export function useRoomcastClient<Events extends object = DefaultEvents, Signals extends object = DefaultEvents>(override?: RoomcastClient<any, any>): RoomcastClient<Events, Signals> {
  const fromContext = useContext(RoomcastContext);
  const client = override ?? fromContext;
  if (client === null) throw new Error('Roomcast hooks need a client: render them inside <RoomcastProvider client={client}> or pass { client }');
  return client as RoomcastClient<Events, Signals>;
}

export interface RoomcastValue<Events extends object = DefaultEvents, Signals extends object = DefaultEvents> {
  client: RoomcastClient<Events, Signals>;
  /** The client's connection state, re-rendering on its `state` event. */
  state: ConnectionState;
}

/** The provider's client and its connection state (connecting | connected | reconnecting | disconnected | closed). */
export function useRoomcast<Events extends object = DefaultEvents, Signals extends object = DefaultEvents>(): RoomcastValue<Events, Signals> {
  const client = useRoomcastClient<Events, Signals>();
  const subscribe = useCallback((listener: () => void) => client.on('state', () => listener()), [client]);
  const getSnapshot = useCallback(() => client.state, [client]);
  const state = useExternalStore({ subscribe, getSnapshot });
  return useMemo(() => ({ client, state }), [client, state]);
}
