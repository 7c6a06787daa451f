/**
 * One protocol request over the client's socket: sent with an acknowledgement
 * and unwrapped, every failure a RoomcastError; `unknown: true` when no answer
 * came (ack timeout, connection lost), since the request may still have taken
 * effect (retry a publication with the same idempotency key).
 */
import type { Ack, AckCallback, ClientEventName, ClientToServerEvents } from '../shared/events.js';
import type { RoomcastSocket } from './client-types.js';
import { RoomcastError } from './errors.js';

export type RequestOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
export type ResultOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[1] extends AckCallback<infer R> ? R : never;

export async function sendRequest<E extends ClientEventName>(
  socket: RoomcastSocket,
  event: E,
  payload: RequestOf<E>,
  room?: string,
  options: { volatile?: boolean; idempotencyKey?: string | undefined } = {},
): Promise<ResultOf<E>> {
  const context = { room, event, ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }) };
  let ack: Ack<ResultOf<E>>;
  try {
    // socket.io-client's emitWithAck cannot infer through a generic event name; RequestOf/ResultOf
    // still tie each call to ClientToServerEvents. The socket's ackTimeout bounds the wait.
    const target = options.volatile === true ? socket.volatile : socket;
    const emitWithAck = target.emitWithAck as (event: E, payload: RequestOf<E>) => Promise<Ack<ResultOf<E>>>;
    ack = await emitWithAck.call(target, event, payload);
  } catch (error) {
    // Ack timeout or connection lost: sent or not, it may be (or be about to be) processed.
    throw RoomcastError.from(error, { ...context, unknown: true });
  }
  if (!ack.ok) throw new RoomcastError(ack.error, context);
  // The application gets the result alone; `ok` only made sense on the wire.
  const result: Record<string, unknown> = { ...ack };
  delete result.ok;
  return result as ResultOf<E>;
}
