/**
 * The lean route for the hot path: POST /api/v1/publish and POST /api/v1/batch
 * answered on the http.Server's request event, before Express. Express's router,
 * helmet and body-parser cost about as much server CPU per small publication as
 * the publication itself (docs/performance.md, "Where the time goes").
 *
 * It takes only the common shape, decided from the headers before a byte of the
 * body is read: `Content-Type: application/json` (charset utf-8 or none), no
 * Content-Encoding (or identity), a Content-Length within the route's limit, no
 * query string. Anything else (gzip, another charset, a chunked or too large
 * body, a typo in the path) goes to Express, which answers it as before. What it
 * takes gets Express's answer: the same API-key check first, the body read as
 * body-parser reads it (a leading BOM dropped, empty is `{}`), then the very
 * answer functions the Express routes use (publish-route.ts, batch-route.ts).
 * JSON API answers carry no HTML-page headers (helmet's CSP and the like) beyond `nosniff`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorPayload, type ErrorCode } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import type { Publisher } from '../core/publisher.js';
import type { Logger } from '../ops/logger.js';
import { apiKeyRefusal, digestKey } from '../auth/api-key.js';
import { batchAnswerer } from './batch-route.js';
import { batchBodyLimit, publishBodyLimit, UNREADABLE_BODY } from './body-limits.js';
import { publishAnswerer } from './publish-route.js';
import { answerJson, errorAnswer, type RouteAnswer } from './route-answer.js';

export interface PublishFastPathDeps {
  apiKeys: readonly string[];
  maxPayloadBytes: number;
  namespaces: readonly NamespaceRules[];
  publisher: Publisher;
  logger: Logger;
  /** Counts each error answered (roomcast_errors_total), as the Express app's sendError does. */
  countError: (code: ErrorCode) => void;
}

/** A request listener that answers the requests it takes and returns false for every other one (for Express). */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** application/json, with no parameter or only `charset=utf-8` (what body-parser decodes as UTF-8 too). */
const PLAIN_JSON = /^application\/json[ \t]*(?:;[ \t]*charset[ \t]*=[ \t]*(?:utf-8|"utf-8")[ \t]*)?$/i;
const DIGITS = /^[0-9]{1,10}$/;

export function publishFastPath({ apiKeys, maxPayloadBytes, namespaces, publisher, logger, countError }: PublishFastPathDeps): FastPath {
  const keyDigests = apiKeys.map(digestKey);
  const routes = new Map<string, { limit: number; answer: (body: unknown) => Promise<RouteAnswer> }>([
    ['/api/v1/publish', { limit: publishBodyLimit(maxPayloadBytes), answer: publishAnswerer(publisher, namespaces, logger) }],
    ['/api/v1/batch', { limit: batchBodyLimit(maxPayloadBytes), answer: batchAnswerer(publisher, namespaces, logger) }],
  ]);

  const send = (req: IncomingMessage, res: ServerResponse, answer: RouteAnswer): void => {
    if (answer.kind === 'noAnswer') {
      req.socket.destroy();
      return;
    }
    if (answer.kind === 'error') countError(answer.error.code);
    const text = answerJson(answer);
    res.writeHead(answer.kind === 'ok' ? 200 : answer.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-content-type-options': 'nosniff',
    });
    res.end(text);
  };

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const route = routes.get(req.url ?? '');
    if (route === undefined) return false;
    const { headers } = req;
    const length = headers['content-length'];
    if (
      length === undefined ||
      !DIGITS.test(length) ||
      Number(length) > route.limit ||
      headers['transfer-encoding'] !== undefined ||
      (headers['content-encoding'] !== undefined && headers['content-encoding'].toLowerCase() !== 'identity') ||
      !PLAIN_JSON.test(headers['content-type'] ?? '')
    ) {
      return false;
    }
    // As Express's chain: the key is checked before the body is read.
    const refusal = apiKeyRefusal(headers.authorization, keyDigests);
    if (refusal !== null) {
      send(req, res, errorAnswer(refusal.error, refusal.status));
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The client went away while sending its body: nobody to answer (as body-parser's request.aborted).
    req.on('error', () => undefined);
    req.on('end', () => {
      let body: unknown;
      try {
        const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8');
        // body-parser decodes through iconv-lite, which drops a byte order mark; an empty body is {}.
        const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
        body = json.length === 0 ? {} : JSON.parse(json);
      } catch {
        send(req, res, errorAnswer(errorPayload('INVALID_PAYLOAD', UNREADABLE_BODY), 400));
        return;
      }
      route.answer(body).then(
        (answer) => send(req, res, answer),
        (error: unknown) => {
          logger.error({ err: error, code: 'INTERNAL' }, 'http request failed');
          send(req, res, errorAnswer(errorPayload('INTERNAL')));
        },
      );
    });
    return true;
  };
}
