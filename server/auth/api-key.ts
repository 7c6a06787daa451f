/**
 * Bearer API keys for the backend-facing routes. Keys are compared in constant
 * time over their SHA-256 digests, so neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { errorPayload } from '../../shared/index.js';
import { sendError } from '../ops/http-errors.js';

/** The SHA-256 digest that matchesApiKey() compares (also used for ADMIN_TOKEN). */
export const digestKey = (value: string): Buffer => createHash('sha256').update(value).digest();
const digest = digestKey;

export function matchesApiKey(candidate: string, keyDigests: readonly Buffer[]): boolean {
  const candidateDigest = digest(candidate);
  let matched = false;
  // No early exit: every key is compared whatever the outcome.
  for (const keyDigest of keyDigests) matched = timingSafeEqual(candidateDigest, keyDigest) || matched;
  return matched;
}

export function requireApiKey(apiKeys: readonly string[]): RequestHandler {
  const keyDigests = apiKeys.map(digest);
  return (req, res, next) => {
    if (keyDigests.length === 0) {
      sendError(res, errorPayload('PUBLISH_FORBIDDEN', 'the HTTP API is off: set API_KEYS to enable it'));
      return;
    }
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      sendError(res, errorPayload('UNAUTHENTICATED', 'Authorization: Bearer <API key> is required'), 401);
      return;
    }
    if (!matchesApiKey(match[1] as string, keyDigests)) {
      sendError(res, errorPayload('PUBLISH_FORBIDDEN', 'the API key is not valid'), 403);
      return;
    }
    next();
  };
}
