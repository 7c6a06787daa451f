/**
 * What the gateway asks a backend's proxies and what it accepts as an answer
 * (DESIGN "Backend integration", Proxies): CONNECT_PROXY_URL for a handshake
 * without a token, JOIN_PROXY_URL for a join the token does not cover,
 * PUBLISH_PROXY_URL (or a namespace's `publishProxy`) for a client publication
 * before it is stored. The gateway's own types (shared/proxies.ts, inferred from
 * the schemas it checks answers with), so a handler typed with them answers what
 * the gateway accepts.
 */
export type {
  ConnectProxyAllow,
  ConnectProxyAnswer,
  ConnectProxyRequest,
  JoinProxyAnswer,
  JoinProxyRequest,
  ProxyDeny,
  ProxyKind,
  PublishProxyAnswer,
  PublishProxyRequest,
} from '../shared/proxies.js';
