/**
 * A backend's proxy endpoint for Node's http server or Express:
 *
 *   app.post('/roomcast/proxy', roomcastProxy({ secret, publish: async (request) => ({ result: 'allow' }) }));
 *
 * One handler serves the connect, join and publish proxies (point CONNECT_PROXY_URL,
 * JOIN_PROXY_URL and PUBLISH_PROXY_URL at the same URL, or at separate ones): it
 * verifies the signature (401 otherwise), tells the kind of request from its
 * fields, and answers what the matching function returns. When that function
 * throws, or is not given, the answer is an error status: the gateway then refuses
 * the client with UNAVAILABLE (retryable) and nothing is joined or stored.
 */
import type {
  ConnectProxyAnswer,
  ConnectProxyRequest,
  JoinProxyAnswer,
  JoinProxyRequest,
  ProxyKind,
  PublishProxyAnswer,
  PublishProxyRequest,
} from './proxy-types.js';
import { assertSecret, DEFAULT_MAX_BODY_BYTES, errorBody, readSignedRequest, sendJson, type RoomcastHandler, type RoomcastRequest } from './node-http.js';
import { verifySignedBody } from './verify.js';

type Answer<T> = T | Promise<T>;

export interface RoomcastProxyOptions {
  /** WEBHOOK_SECRET (proxies are signed with it too); several while rotating it. */
  secret: string | readonly string[];
  /** A handshake without a token (a cookie session): allow with the user and its grant, or deny. */
  connect?: (request: ConnectProxyRequest, req: RoomcastRequest) => Answer<ConnectProxyAnswer>;
  /** A join the token does not cover. */
  join?: (request: JoinProxyRequest, req: RoomcastRequest) => Answer<JoinProxyAnswer>;
  /** A client publication before it is stored: allow (optionally with replaced `data`) or deny. */
  publish?: (request: PublishProxyRequest, req: RoomcastRequest) => Answer<PublishProxyAnswer>;
  /** Default 1 MiB: a larger body is answered 413. */
  maxBodyBytes?: number;
  /** Default 300 s. */
  toleranceSeconds?: number;
  /** Called with what a proxy function threw. */
  onError?: (error: unknown, kind: ProxyKind) => void;
}

/** Which proxy sent `body`: each request kind has fields the others lack. */
export function proxyKindOf(body: unknown): ProxyKind | null {
  if (typeof body !== 'object' || body === null) return null;
  const fields = body as Record<string, unknown>;
  if (typeof fields.transport === 'string' && typeof fields.headers === 'object') return 'connect';
  if (typeof fields.room !== 'string' || typeof fields.user !== 'string') return null;
  return typeof fields.event === 'string' ? 'publish' : 'join';
}

export function roomcastProxy(options: RoomcastProxyOptions): RoomcastHandler {
  assertSecret(options?.secret, 'roomcastProxy');
  if (options.connect === undefined && options.join === undefined && options.publish === undefined) {
    throw new TypeError('roomcastProxy: give at least one of connect, join, publish');
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (req, res) => {
    const signed = await readSignedRequest(req, res, {
      what: 'proxy requests',
      maxBodyBytes,
      verify: (raw, signature) => verifySignedBody({ secret: options.secret, body: raw, signature, ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }) }),
    });
    if (signed === null) return;
    const body = signed.value;
    const kind = proxyKindOf(body);
    if (kind === null) {
      sendJson(res, 400, errorBody('INVALID_PAYLOAD', 'not a connect, join or publish proxy request', false));
      return;
    }
    const handle = options[kind] as ((request: unknown, req: RoomcastRequest) => Answer<unknown>) | undefined;
    if (handle === undefined) {
      sendJson(res, 404, errorBody('NOT_FOUND', `this endpoint does not answer ${kind} proxy requests`, false));
      return;
    }
    let answer: unknown;
    try {
      answer = await handle(body, req);
    } catch (error) {
      options.onError?.(error, kind);
      sendJson(res, 500, errorBody('INTERNAL', `the ${kind} proxy failed`, true));
      return;
    }
    const result = (answer as { result?: unknown } | null)?.result;
    if (result !== 'allow' && result !== 'deny') {
      options.onError?.(new TypeError(`the ${kind} proxy returned neither { result: 'allow' } nor { result: 'deny' }`), kind);
      sendJson(res, 500, errorBody('INTERNAL', `the ${kind} proxy gave no answer`, true));
      return;
    }
    sendJson(res, 200, answer);
  };
}
