/**
 * Which browser origins may connect. CORS headers alone do not protect
 * WebSockets (browsers do not apply CORS to them), so the Origin header of
 * every handshake request is checked here too. Requests without an Origin come
 * from non-browser clients and are allowed; tokens still apply.
 */
import type { IncomingMessage } from 'node:http';

export function isOriginAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** `onRefused` counts a refusal (Engine.IO answers it with its own 403 "Forbidden"). */
export function originGuard(allowed: readonly string[], onRefused: () => void = () => undefined) {
  return (request: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void): void => {
    if (isOriginAllowed(request.headers.origin, request.headers.host, allowed)) callback(null, true);
    else {
      onRefused();
      callback('origin not allowed', false);
    }
  };
}
