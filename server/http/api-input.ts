/**
 * Reading a route's input (path parameters, query, body) with its zod schema
 * from shared/api.ts: a value, or the 400 INVALID_PAYLOAD already answered
 * with a message naming what is wrong (and the first issues). Also the
 * namespace rule every room route shares: `?namespace=` defaults to `/` and
 * must be declared.
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { DEFAULT_NAMESPACE, errorPayload } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { describeIssues } from '../errors.js';
import { sendError } from '../ops/http-errors.js';
import { errorAnswer, type RouteAnswer } from './route-answer.js';

/** The parsed value, or undefined once the 400 is sent. */
export function parseInput<S extends z.ZodType>(res: Response, schema: S, value: unknown, what: 'path' | 'query' | 'body'): z.output<S> | undefined {
  const checked = checkInput(schema, value, what);
  if ('data' in checked) return checked.data;
  if (checked.answer.kind === 'error') sendError(res, checked.answer.error, checked.answer.status, checked.answer.extra ?? {});
  return undefined;
}

/** The parsed value, or the 400 INVALID_PAYLOAD answer naming what is wrong (for routes that answer as data: route-answer.ts). */
export function checkInput<S extends z.ZodType>(schema: S, value: unknown, what: 'path' | 'query' | 'body'): { data: z.output<S> } | { answer: RouteAnswer } {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { data: parsed.data };
  const issues = parsed.error.issues;
  return { answer: errorAnswer(errorPayload('INVALID_PAYLOAD', `${what}: ${describeIssues(issues)}`), 400, { issues: issues.slice(0, 20) }) };
}

/** Express's parsed query as a plain object (it has a null prototype, which zod objects accept). */
export const queryOf = (req: Request): Record<string, unknown> => ({ ...(req.query as Record<string, unknown>) });

/** The declared namespace's rules, or undefined once the 400 is sent. */
export function declaredNamespace(res: Response, namespaces: readonly NamespaceRules[], namespace: string | undefined): NamespaceRules | undefined {
  const name = namespace ?? DEFAULT_NAMESPACE;
  const rules = namespaces.find((candidate) => candidate.name === name);
  if (rules === undefined) sendError(res, errorPayload('INVALID_PAYLOAD', `namespace ${name} is not declared`));
  return rules;
}
