/**
 * Bearer API keys for the backend-facing routes. Keys are compared in constant
 * time over their SHA-256 digests, so neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { errorPayload, type ErrorPayload } from '../../shared/index.js';
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

/** Why a request's Authorization header is refused (code and status), or null when it carries a valid key. */
export function apiKeyRefusal(header: string | undefined, keyDigests: readonly Buffer[]): { error: ErrorPayload; status: number } | null {
  if (keyDigests.length === 0) return { error: errorPayload('PUBLISH_FORBIDDEN', 'the HTTP API is off: set API_KEYS to enable it'), status: 403 };
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return { error: errorPayload('UNAUTHENTICATED', 'Authorization: Bearer <API key> is required'), status: 401 };
  if (!matchesApiKey(match[1] as string, keyDigests)) return { error: errorPayload('PUBLISH_FORBIDDEN', 'the API key is not valid'), status: 403 };
  return null;
}

export function requireApiKey(apiKeys: readonly string[]): RequestHandler {
  const keyDigests = apiKeys.map(digest);
  return (req, res, next) => {
    const refusal = apiKeyRefusal(req.headers.authorization, keyDigests);
    if (refusal === null) next();
    else sendError(res, refusal.error, refusal.status);
  };
}
