/**
 * GET /api/v1/rooms/:room/history?namespace=&since=<epoch>:<offset>&limit= :
 * a page of a room's history for a backend, by the rules of the socket
 * `room:history` (see HistoryRead in core/history-store.ts): `limit` 1 to
 * HISTORY_PAGE_MAX (default HISTORY_PAGE_DEFAULT), the page cut at
 * HISTORY_PAGE_MAX_BYTES of data (at least one message), `recovered: false`
 * when history no longer holds what follows `since` (or `since` is of another
 * epoch), and what it still holds then. The API key reads any room of a
 * declared namespace.
 */
import type { Request, Response } from 'express';
import { HISTORY_PAGE_DEFAULT, historyQuerySchema, roomParamsSchema, type HistoryResponse } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { capPage } from '../core/history-page.js';
import type { HistoryStore } from '../core/history-store.js';
import { sendError } from '../ops/http-errors.js';
import type { Logger } from '../ops/logger.js';
import { reportError } from '../ops/report-error.js';
import { declaredNamespace, parseInput, queryOf } from './api-input.js';

export function historyRoute(history: HistoryStore, namespaces: readonly NamespaceRules[], logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const params = parseInput(res, roomParamsSchema, req.params, 'path');
    if (params === undefined) return;
    const query = parseInput(res, historyQuerySchema, queryOf(req), 'query');
    if (query === undefined) return;
    const rules = declaredNamespace(res, namespaces, query.namespace);
    if (rules === undefined) return;
    try {
      const read = await history.read(rules.name, params.room, query.since, query.limit ?? HISTORY_PAGE_DEFAULT);
      res.json({
        ok: true,
        room: params.room,
        epoch: read.epoch,
        offset: read.offset,
        recovered: read.recovered,
        messages: capPage(read.messages),
      } satisfies HistoryResponse);
    } catch (error) {
      sendError(res, reportError(logger, error, { room: params.room }, 'history read failed'));
    }
  };
}
