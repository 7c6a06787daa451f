/**
 * What the gateway POSTs to WEBHOOK_URL (see DESIGN "Backend integration"):
 * a delivery of one or more events, signed with Roomcast-Signature
 * (shared/signature.ts). Receivers dedupe by event `id`; a retried delivery
 * keeps its `id` and its events' ids.
 */
import type { JsonValue } from './wire-types.js';

export const WEBHOOK_EVENT_TYPES = ['room.occupied', 'room.vacated', 'member.joined', 'member.left', 'publication'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

interface WebhookEventBase {
  /** Unique per event, kept across retries: receivers dedupe by it. */
  id: string;
  /** When it happened, ms since the epoch (the producing node's clock). */
  ts: number;
  namespace: string;
  room: string;
}

export interface RoomOccupiedEvent extends WebhookEventBase {
  type: 'room.occupied';
}

export interface RoomVacatedEvent extends WebhookEventBase {
  type: 'room.vacated';
}

export interface MemberJoinedEvent extends WebhookEventBase {
  type: 'member.joined';
  user: string;
  connectionId: string;
  nodeId: string;
}

export interface MemberLeftEvent extends WebhookEventBase {
  type: 'member.left';
  user: string;
  connectionId: string;
  nodeId: string;
  reason: 'leave' | 'disconnect' | 'node-lost';
}

export interface PublicationEvent extends WebhookEventBase {
  type: 'publication';
  user: string;
  connectionId?: string;
  offset: number;
  epoch: string;
  event: string;
  data: JsonValue;
}

export type WebhookEvent = RoomOccupiedEvent | RoomVacatedEvent | MemberJoinedEvent | MemberLeftEvent | PublicationEvent;

/** The body of one POST to WEBHOOK_URL. */
export interface WebhookDelivery {
  /** Unique per delivery, kept across its retries (also in the Roomcast-Webhook-Id header). */
  id: string;
  /** When the delivery was first made up, ms since the epoch. */
  createdAt: number;
  events: WebhookEvent[];
}
