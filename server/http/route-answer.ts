/**
 * A route's answer as data, apart from the framework that writes it: the hot
 * publish routes (publish-route.ts, batch-route.ts) decide it once and both the
 * Express app and the lean listener (publish-fast-path.ts) send it, so the two
 * cannot drift apart. `noAnswer` is the contract's "no answer": the outcome is
 * unknown, the connection is closed, the publisher retries with the same idempotencyKey.
 */
import type { Request, Response } from 'express';
import type { ErrorPayload } from '../../shared/index.js';
import { HTTP_STATUS, sendError } from '../ops/http-errors.js';

export type RouteAnswer =
  | { kind: 'ok'; body: object }
  | { kind: 'error'; error: ErrorPayload; status: number; extra?: object }
  | { kind: 'noAnswer' };

export const okAnswer = (body: object): RouteAnswer => ({ kind: 'ok', body });

export const errorAnswer = (error: ErrorPayload, status: number = HTTP_STATUS[error.code], extra?: object): RouteAnswer =>
  extra === undefined ? { kind: 'error', error, status } : { kind: 'error', error, status, extra };

/** The JSON an answer is sent as (sendError's shape for errors). */
export function answerJson(answer: Exclude<RouteAnswer, { kind: 'noAnswer' }>): string {
  return JSON.stringify(answer.kind === 'ok' ? answer.body : { ok: false, error: answer.error, ...answer.extra });
}

/** Sends an answer through Express (errors counted by sendError). */
export function sendAnswer(req: Request, res: Response, answer: RouteAnswer): void {
  if (answer.kind === 'noAnswer') req.socket.destroy();
  else if (answer.kind === 'error') sendError(res, answer.error, answer.status, answer.extra ?? {});
  else res.status(200).json(answer.body);
}
