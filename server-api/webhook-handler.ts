/**
 * A webhook receiver for Node's http server or Express:
 *
 *   app.post('/roomcast/webhooks', roomcastWebhook({ secret, onDelivery: async (delivery) => { ... } }));
 *
 * It reads the raw body itself, verifies the signature (401 when it does not pass),
 * hands the typed delivery to `onDelivery`, and answers 200 once that resolves. When
 * `onDelivery` throws it answers 500, so the gateway delivers again later with the
 * same ids: a receiver that lost its database for a moment loses nothing. With
 * `dedupe`, events handled before are left out of later deliveries.
 */
import type { WebhookDelivery } from '../shared/webhooks.js';
import type { EventDeduper } from './dedupe.js';
import { assertSecret, DEFAULT_MAX_BODY_BYTES, errorBody, readSignedRequest, sendJson, type RoomcastHandler, type RoomcastRequest } from './node-http.js';
import { verifyWebhook } from './verify.js';

export interface RoomcastWebhookOptions {
  /** WEBHOOK_SECRET; several while rotating it. */
  secret: string | readonly string[];
  /** Handles a verified delivery; resolve once it is safely kept (the gateway retries on a throw). */
  onDelivery: (delivery: WebhookDelivery, req: RoomcastRequest) => unknown;
  /**
   * Leaves out events whose id it holds, and adds the ids of a delivery that `onDelivery` handled
   * (createEventDeduper()). A delivery with only known events is answered 200 without calling `onDelivery`.
   */
  dedupe?: EventDeduper;
  /** Default 1 MiB: a larger body is answered 413. */
  maxBodyBytes?: number;
  /** Default 300 s (see verifyWebhook). */
  toleranceSeconds?: number;
  /** Called with what `onDelivery` threw (default: nothing is logged; the gateway logs the 500). */
  onError?: (error: unknown) => void;
}

export function roomcastWebhook(options: RoomcastWebhookOptions): RoomcastHandler {
  if (typeof options?.onDelivery !== 'function') throw new TypeError('roomcastWebhook: onDelivery is required');
  assertSecret(options.secret, 'roomcastWebhook');
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (req, res) => {
    const signed = await readSignedRequest(req, res, {
      what: 'webhooks',
      maxBodyBytes,
      verify: (body, signature) => verifyWebhook({ secret: options.secret, body, signature, ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }) }),
    });
    if (signed === null) return;
    const delivery = signed.value;
    const fresh = options.dedupe === undefined ? delivery : { ...delivery, events: delivery.events.filter((event) => !options.dedupe?.has(event.id)) };
    if (fresh.events.length > 0 || options.dedupe === undefined) {
      try {
        await options.onDelivery(fresh, req);
      } catch (error) {
        options.onError?.(error);
        sendJson(res, 500, errorBody('INTERNAL', 'the receiver could not handle the delivery; the gateway will retry', true));
        return;
      }
      for (const event of fresh.events) options.dedupe?.add(event.id);
    }
    sendJson(res, 200, { ok: true });
  };
}
