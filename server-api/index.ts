/**
 * @roomcast/server-api: what a backend installs to work with a Roomcast gateway.
 * See README.md for every function and the `roomcast` CLI.
 */
export { RoomcastApi, type RoomcastApiOptions } from './roomcast-api.js';
export { RoomcastApiError, type RoomcastApiErrorDetails } from './errors.js';
export type * from './api-types.js';
export { mintToken, type MintTokenOptions } from './token.js';
export { verifySignedBody, verifyWebhook, RoomcastSignatureError, type VerifyOptions, type VerificationProblem } from './verify.js';
export { roomcastWebhook, type RoomcastWebhookOptions } from './webhook-handler.js';
export { roomcastProxy, proxyKindOf, type RoomcastProxyOptions } from './proxy-handler.js';
export type * from './proxy-types.js';
export { createEventDeduper, type EventDeduper, type DeduperOptions } from './dedupe.js';
export type { RoomcastHandler, RoomcastRequest } from './node-http.js';
export { SIGNATURE_HEADER, WEBHOOK_ID_HEADER, SIGNATURE_TOLERANCE_S, signBody } from '../shared/signature.js';
export type { WebhookDelivery, WebhookEvent, WebhookEventType, RoomOccupiedEvent, RoomVacatedEvent, MemberJoinedEvent, MemberLeftEvent, PublicationEvent } from '../shared/webhooks.js';
export type { ErrorCode, ErrorPayload } from '../shared/errors.js';
