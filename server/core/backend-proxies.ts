/**
 * The backend's say in what clients do (DESIGN "Backend integration", proxies):
 * admit a connection that has no token (a cookie session), allow a join its
 * grant does not cover, allow (or rewrite) a client publication before it is
 * stored. The core only sees this interface; server/integration/proxies.ts
 * implements it over signed HTTP POSTs.
 *
 * Every call either resolves with the backend's "allow" or throws a
 * RoomcastError: the backend's refusal (its code, or the proxy's default), or
 * UNAVAILABLE (retryable) when the backend is slow, down, answers non-2xx or
 * answers something that is not a valid answer. Callers act only after an
 * allow, so a failure leaves nothing behind.
 */
import type { ConnectProxyAllow, ConnectProxyRequest, JoinProxyRequest, JsonValue, PublishProxyRequest } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';

export interface BackendProxies {
  /** CONNECT_PROXY_URL: who a handshake without a token is; null when unset (such a handshake is refused). */
  readonly connect: ((request: ConnectProxyRequest) => Promise<ConnectProxyAllow>) | null;
  /** JOIN_PROXY_URL: whether a join the session's grant does not cover is allowed; null when unset (refused). */
  readonly join: ((request: JoinProxyRequest) => Promise<void>) | null;
  /**
   * The publish proxy of a namespace (its `publishProxy` rule, else PUBLISH_PROXY_URL), or null: publications
   * there are stored as sent. Resolves with the data to store (the backend's replacement, or the request's).
   */
  publishFor(rules: NamespaceRules): ((request: PublishProxyRequest) => Promise<{ data: JsonValue; replaced: boolean }>) | null;
}

/** No proxy configured: the gateway decides alone. */
export const NO_PROXIES: BackendProxies = { connect: null, join: null, publishFor: () => null };
