/**
 * Runs before every event handler of a connection: the token-bucket rate
 * limit, UNKNOWN_EVENT for anything outside the protocol, and the shape of the
 * packet (one payload and an ack callback). A refused packet is answered on its
 * ack when it has one, else with a `protocol:error` event; it never reaches a
 * handler and never goes unanswered.
 *
 * Rejoins are exempt from the bucket: a reconnecting client sends `room:join`
 * with `since` for every room it was in, at once, and refusing some of them
 * would leave those rooms unrecovered. The exemption is bounded per connection
 * by MAX_ROOMS_PER_SOCKET (ConnectionState.rejoinAllowance), so it cannot be
 * used to flood: past it, rejoins take from the bucket like any request.
 */
import { CLIENT_EVENT_NAMES, errorPayload, type ErrorPayload } from '../../../shared/index.js';
import type { GatewayMetrics } from '../../ops/metrics.js';
import type { ConnectionState } from './connection-state.js';
import type { RoomcastSocket } from './types.js';

const KNOWN_EVENTS = new Set<string>(CLIENT_EVENT_NAMES);

function isRejoin(packet: unknown[]): boolean {
  const payload = packet[1];
  return packet[0] === 'room:join' && typeof payload === 'object' && payload !== null && (payload as { since?: unknown }).since !== undefined;
}

function takeRejoinAllowance(state: ConnectionState): boolean {
  if (state.rejoinAllowance <= 0) return false;
  state.rejoinAllowance -= 1;
  return true;
}

function refuse(socket: RoomcastSocket, packet: unknown[], error: ErrorPayload, metrics: GatewayMetrics): void {
  metrics.error(error.code);
  const last = packet[packet.length - 1];
  if (typeof last === 'function') (last as (response: unknown) => void)({ ok: false, error });
  else socket.emit('protocol:error', { ...error, event: typeof packet[0] === 'string' ? packet[0].slice(0, 100) : '' });
}

/**
 * Whether a packet may reach its handler; answers the refusal itself otherwise. Counts every packet by event
 * (the namespace's pre-bound counters), refused ones included. Called by the connection's dispatcher
 * (register-handlers.ts) with the connection's state: nothing here is per connection.
 */
export function admitPacket(socket: RoomcastSocket, state: ConnectionState, packet: unknown[]): boolean {
  const { counters, metrics } = state.ctx;
  const event = packet[0];
  counters.clientMessage(event);
  if (!(isRejoin(packet) && takeRejoinAllowance(state)) && !state.bucket.take()) {
    counters.rateLimited();
    refuse(socket, packet, errorPayload('RATE_LIMITED'), metrics);
    return false;
  }
  if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) {
    refuse(socket, packet, errorPayload('UNKNOWN_EVENT', `unknown event "${String(event).slice(0, 100)}"`), metrics);
    return false;
  }
  if (packet.length !== 3 || typeof packet[2] !== 'function') {
    refuse(socket, packet, errorPayload('INVALID_PAYLOAD', `${event} takes one payload object and an acknowledgement callback`), metrics);
    return false;
  }
  return true;
}
