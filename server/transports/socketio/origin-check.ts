/**
 * Which browser origins may connect. CORS headers alone do not protect
 * WebSockets (browsers do not apply CORS to them), so the Origin header of
 * every handshake request is checked here too. Requests without an Origin come
 * from non-browser clients and are allowed; tokens still apply.
 *
 * An origin is a scheme, a host and a port: `http://app.example.com` is not
 * `https://app.example.com`. A page served over plain http can be rewritten by
 * anyone on its network path, so letting it in because its host matches would
 * hand that attacker the user's connection (and, with CONNECT_PROXY_URL, the
 * user's cookie session). Hence:
 * - a listed origin matches on all three (compared in their canonical form:
 *   lower case, default port left out);
 * - a host listed with https in CORS_ORIGINS is never allowed over http, even
 *   when it is also the gateway's own host (its Host header);
 * - the same-origin rule (the Origin's host is the request's Host) refuses an
 *   http page when the request itself came over https (TLS on this socket, or
 *   `X-Forwarded-Proto: https` from the proxy in front).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export type RequestScheme = 'http' | 'https';

/** `scheme://host[:port]` in canonical form, or null when `text` is not an http(s) origin. */
function canonicalOrigin(text: string): URL | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url;
}

/**
 * `scheme`: how the handshake request reached the gateway's edge (see
 * {@link requestScheme}); undefined: not known, only the host is compared.
 */
export function isOriginAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[], scheme?: RequestScheme): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*')) return true;
  const url = canonicalOrigin(origin);
  if (url === null) return false;
  const listed = allowed.map(canonicalOrigin).filter((entry): entry is URL => entry !== null);
  if (listed.some((entry) => entry.origin === url.origin)) return true;
  // A host the operator listed with https is never let in over http, whatever the Host header says.
  if (url.protocol === 'http:' && listed.some((entry) => entry.protocol === 'https:' && entry.hostname === url.hostname)) return false;
  if (host === undefined || url.host !== host.toLowerCase()) return false;
  return !(scheme === 'https' && url.protocol === 'http:');
}

/**
 * https when this socket is TLS or any X-Forwarded-Proto says https (NGINX
 * sets it from the scheme the client used). Believed from any peer: it can
 * only make the check stricter, never let an origin in.
 */
export function requestScheme(request: IncomingMessage): RequestScheme {
  if ((request.socket as TLSSocket).encrypted === true) return 'https';
  const forwarded = request.headers['x-forwarded-proto'];
  const values = (Array.isArray(forwarded) ? forwarded : [forwarded ?? '']).flatMap((value) => value.split(','));
  return values.some((value) => value.trim().toLowerCase() === 'https') ? 'https' : 'http';
}

/** `onRefused` counts a refusal (Engine.IO answers it with its own 403 "Forbidden"). */
export function originGuard(allowed: readonly string[], onRefused: () => void = () => undefined) {
  return (request: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void): void => {
    if (isOriginAllowed(request.headers.origin, request.headers.host, allowed, requestScheme(request))) callback(null, true);
    else {
      onRefused();
      callback('origin not allowed', false);
    }
  };
}
