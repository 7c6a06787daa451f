/** The React hooks of @roomcast/client, typed with this app's events once. */
import { createRoomcastHooks } from '@roomcast/client/react';
import type { ChatEvents, ChatSignals } from './events.js';

export const { useRoomcast, useRoom, usePresence, useSignal } = createRoomcastHooks<ChatEvents, ChatSignals>();
