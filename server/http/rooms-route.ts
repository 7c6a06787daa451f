/**
 * GET /api/v1/rooms?namespace=&prefix=&cursor=&limit= : the occupied rooms of
 * a namespace across every node, with their member counts (connections:
 * sockets and SSE streams), in name order, a page at a time. Read from the
 * presence store alone (PresenceStore.listRooms), never from the other nodes,
 * so no node can hold the request.
 *
 * The cursor is opaque to callers: base64url of the name the next page starts
 * after. Paging until `cursor` is null lists every room occupied throughout
 * exactly once; a page may hold fewer than `limit` rooms before the end.
 */
import type { Request, Response } from 'express';
import { errorPayload, isValidRoomName, ROOMS_PAGE_DEFAULT, roomsQuerySchema, type RoomsResponse } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import type { PresenceStore } from '../core/presence-store.js';
import { sendError } from '../ops/http-errors.js';
import type { Logger } from '../ops/logger.js';
import { reportError } from '../ops/report-error.js';
import { declaredNamespace, parseInput, queryOf } from './api-input.js';

export const encodeRoomsCursor = (after: string): string => Buffer.from(after, 'utf8').toString('base64url');

/** The room name a cursor stands for, or null when it is not one this route gave. */
export function decodeRoomsCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const after = Buffer.from(cursor, 'base64url').toString('utf8');
  return isValidRoomName(after) && encodeRoomsCursor(after) === cursor ? after : null;
}

export function roomsRoute(presence: PresenceStore, namespaces: readonly NamespaceRules[], logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const query = parseInput(res, roomsQuerySchema, queryOf(req), 'query');
    if (query === undefined) return;
    const rules = declaredNamespace(res, namespaces, query.namespace);
    if (rules === undefined) return;
    let after: string | null = null;
    if (query.cursor !== undefined) {
      after = decodeRoomsCursor(query.cursor);
      if (after === null) {
        sendError(res, errorPayload('INVALID_PAYLOAD', 'query: cursor is not one this API gave (pass the last page\'s cursor as it is)'));
        return;
      }
    }
    try {
      const page = await presence.listRooms(rules.name, { prefix: query.prefix ?? '', after, limit: query.limit ?? ROOMS_PAGE_DEFAULT });
      res.json({ ok: true, rooms: page.rooms, cursor: page.next === null ? null : encodeRoomsCursor(page.next) } satisfies RoomsResponse);
    } catch (error) {
      sendError(res, reportError(logger, error, {}, 'room listing failed'));
    }
  };
}
