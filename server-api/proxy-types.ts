/**
 * What the gateway asks a backend's proxies and what it accepts as an answer
 * (DESIGN "Backend integration", Proxies): CONNECT_PROXY_URL for a handshake
 * without a token, JOIN_PROXY_URL for a join the token does not cover,
 * PUBLISH_PROXY_URL (or a namespace's `publishProxy`) for a client publication
 * before it is stored. Typed after the design until shared/ carries the schemas.
 */
import type { ErrorCode } from '../shared/errors.js';
import type { JsonValue } from '../shared/schemas.js';

export interface ConnectProxyRequest {
  /** The handshake's headers a cookie session needs (absent ones omitted). */
  headers: { cookie?: string; 'user-agent'?: string; origin?: string };
  /** The client address. */
  ip: string;
  transport: 'socketio' | 'sse';
}

export interface JoinProxyRequest {
  namespace: string;
  room: string;
  user: string;
  connectionId: string;
}

export interface PublishProxyRequest {
  namespace: string;
  room: string;
  event: string;
  data: JsonValue;
  user: string;
  connectionId: string;
}

/** A refusal: `code` from the catalog (absent: the proxy's default), `message` shown to the client. */
export interface ProxyDeny {
  result: 'deny';
  code?: ErrorCode;
  message?: string;
}

export type ConnectProxyAnswer =
  | {
      result: 'allow';
      user: string;
      /** Room patterns the session may join (as a token's `rooms`). */
      rooms?: string[];
      /** Rooms the server joins at connect (as a token's `subscribe`). */
      subscribe?: string[];
      /** When the session ends, ms since the epoch. */
      expiresAt?: number;
    }
  | ProxyDeny;

export type JoinProxyAnswer = { result: 'allow' } | ProxyDeny;

/** `data`, when present, replaces the payload. */
export type PublishProxyAnswer = { result: 'allow'; data?: JsonValue } | ProxyDeny;

export type ProxyKind = 'connect' | 'join' | 'publish';
