/**
 * The one way an edge (an HTTP route, a socket handler, a stream) turns a
 * thrown value into the error it answers: ours keep their code and are the
 * client's business (not logged here); anything else is a bug or an outage
 * nobody typed, logged with its stack and answered INTERNAL with no detail.
 */
import type { ErrorPayload } from '../../shared/index.js';
import { RoomcastError, toErrorPayload } from '../errors.js';
import type { Logger } from './logger.js';

export function reportError(logger: Logger, error: unknown, context: Record<string, unknown>, message: string): ErrorPayload {
  const payload = toErrorPayload(error);
  if (!(error instanceof RoomcastError)) logger.error({ err: error, code: payload.code, ...context }, message);
  return payload;
}
