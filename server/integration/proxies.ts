/**
 * The proxies of server/core/backend-proxies.ts over HTTP: each request is a
 * signed JSON POST (signed-post.ts: Roomcast-Signature keyed with
 * WEBHOOK_SECRET, pooled keep-alive connections, PROXY_TIMEOUT_MS), each answer
 * is checked against the schemas of shared/proxies.ts. Only a valid 2xx answer
 * decides; anything else (a timeout, a refused connection, a non-2xx, an answer
 * that does not match) is UNAVAILABLE, retryable, so the caller does nothing.
 */
import type { z } from 'zod';
import {
  connectProxyAnswerSchema,
  isErrorCode,
  joinProxyAnswerSchema,
  publishProxyAnswerSchema,
  type ConnectProxyAllow,
  type ErrorCode,
  type JsonValue,
  type ProxyDeny,
  type ProxyKind,
  type PublishProxyRequest,
} from '../../shared/index.js';
import type { Config } from '../config/config.js';
import type { NamespaceRules } from '../config/namespaces.js';
import type { BackendProxies } from '../core/backend-proxies.js';
import { RoomcastError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { signedPost } from './signed-post.js';

/** What each proxy answers when the backend refuses without a (known) code. */
const DEFAULT_DENY: Record<ProxyKind, ErrorCode> = { connect: 'UNAUTHENTICATED', join: 'FORBIDDEN_ROOM', publish: 'PUBLISH_FORBIDDEN' };

type Answer<S extends z.ZodType> = Exclude<z.infer<S>, ProxyDeny>;

export interface HttpProxiesDeps {
  proxies: Config['proxies'];
  /** WEBHOOK_SECRET (config.backendSecret): load.ts requires it whenever a proxy URL is set. */
  secret: string | null;
  metrics: GatewayMetrics;
  logger: Logger;
}

export function httpProxies({ proxies, secret, metrics, logger }: HttpProxiesDeps): BackendProxies {
  /** One question to one proxy: the allow answer, or a RoomcastError (the refusal, or UNAVAILABLE). */
  async function ask<S extends z.ZodType>(kind: ProxyKind, url: URL, body: unknown, schema: S): Promise<Answer<S>> {
    const started = process.hrtime.bigint();
    const done = (result: 'allow' | 'deny' | 'unavailable'): void => metrics.proxyRequest(kind, result, Number(process.hrtime.bigint() - started) / 1e9);
    const outcome = await signedPost({ url, secret: secret ?? '', body, timeoutMs: proxies.timeoutMs });
    let problem: string;
    if (outcome.kind === 'failed') {
      problem = outcome.reason;
    } else if (outcome.status < 200 || outcome.status > 299) {
      problem = `the backend answered ${outcome.status}`;
    } else {
      const parsed = schema.safeParse(outcome.body);
      if (parsed.success) {
        const answer = parsed.data as { result: string };
        if (answer.result === 'deny') {
          done('deny');
          const deny = answer as ProxyDeny;
          throw new RoomcastError(isErrorCode(deny.code) ? deny.code : DEFAULT_DENY[kind], deny.message);
        }
        done('allow');
        return answer as Answer<S>;
      }
      problem = `the answer does not match the ${kind} proxy's schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
    }
    done('unavailable');
    logger.warn({ proxy: kind, code: 'UNAVAILABLE', reason: problem }, 'proxy request failed');
    throw new RoomcastError('UNAVAILABLE', `the ${kind} proxy cannot decide now; retry later`);
  }

  const publishers = new Map<string, ((request: PublishProxyRequest) => Promise<{ data: JsonValue; replaced: boolean }>) | null>();
  function publishUrl(rules: NamespaceRules): URL | null {
    if (rules.publishProxy === false) return null;
    if (typeof rules.publishProxy === 'string') return new URL(rules.publishProxy);
    return proxies.publishUrl;
  }

  const { connectUrl, joinUrl } = proxies;
  return {
    connect: connectUrl === null ? null : (request): Promise<ConnectProxyAllow> => ask('connect', connectUrl, request, connectProxyAnswerSchema),
    join:
      joinUrl === null
        ? null
        : async (request): Promise<void> => {
            await ask('join', joinUrl, request, joinProxyAnswerSchema);
          },
    publishFor(rules) {
      // One function per namespace, built on first use (the URL parsed once).
      if (!publishers.has(rules.name)) {
        const url = publishUrl(rules);
        publishers.set(
          rules.name,
          url === null
            ? null
            : async (request) => {
                const answer = await ask('publish', url, request, publishProxyAnswerSchema);
                return answer.data === undefined ? { data: request.data, replaced: false } : { data: answer.data, replaced: true };
              },
        );
      }
      return publishers.get(rules.name) ?? null;
    },
  };
}
