/**
 * Runs before every event handler of a connection: the token-bucket rate
 * limit, UNKNOWN_EVENT for anything outside the protocol, and the shape of the
 * packet (one payload and an ack callback). A refused packet is answered on its
 * ack when it has one, else with a `protocol:error` event; it never reaches a
 * handler and never goes unanswered.
 */
import { CLIENT_EVENT_NAMES, errorPayload, type ErrorPayload } from '../../shared/index.js';
import type { TrafficCounters } from '../ops/status-sampler.js';
import { connectionState } from './connection-state.js';
import type { RoomcastSocket } from './types.js';

const KNOWN_EVENTS = new Set<string>(CLIENT_EVENT_NAMES);

function refuse(socket: RoomcastSocket, packet: unknown[], error: ErrorPayload): void {
  const last = packet[packet.length - 1];
  if (typeof last === 'function') (last as (response: unknown) => void)({ ok: false, error });
  else socket.emit('protocol:error', { ...error, event: typeof packet[0] === 'string' ? packet[0].slice(0, 100) : '' });
}

export function requestGuard(socket: RoomcastSocket, traffic: TrafficCounters) {
  return (packet: unknown[], next: (error?: Error) => void): void => {
    traffic.in += 1;
    if (!connectionState(socket).bucket.take()) {
      refuse(socket, packet, errorPayload('RATE_LIMITED'));
      return;
    }
    const event = packet[0];
    if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) {
      refuse(socket, packet, errorPayload('UNKNOWN_EVENT', `unknown event "${String(event).slice(0, 100)}"`));
      return;
    }
    if (packet.length !== 3 || typeof packet[2] !== 'function') {
      refuse(socket, packet, errorPayload('INVALID_PAYLOAD', `${event} takes one payload object and an acknowledgement callback`));
      return;
    }
    next();
  };
}
