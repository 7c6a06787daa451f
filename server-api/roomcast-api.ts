/**
 * The typed client of a gateway's REST API (DESIGN "HTTP", "Backend integration"):
 *
 *   const api = new RoomcastApi({ url: 'https://rt.example.com', apiKey: process.env.ROOMCAST_API_KEY });
 *   await api.publish({ room: 'project:1', event: 'task.created', data: { id: 7 } });
 *
 * Every call retries what may succeed later (see retry-policy.ts) with backoff and
 * jitter; a publication carries one idempotency key, made once before its first
 * attempt and sent unchanged by every retry, so a publication whose answer was
 * lost is stored once. Failures throw RoomcastApiError.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BatchOutcome,
  BatchPublication,
  DisconnectUserInput,
  HistoryPage,
  HistoryQuery,
  LeaveRoomInput,
  PresenceCounts,
  PresenceList,
  PublishInput,
  PublishItemResult,
  PublishOutcome,
  RoomEntry,
  RoomQuery,
  RoomsPage,
  RoomsQuery,
} from './api-types.js';
import { apiErrorPayload, RoomcastApiError } from './errors.js';
import { attempt, type HttpAttempt, type HttpRequest } from './http-call.js';
import { DEFAULT_RETRY, isRetriedAnswer, parseRetryAfter, retryDelayMs, type RetryOptions } from './retry-policy.js';

export interface RoomcastApiOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** One of the gateway's API_KEYS. */
  apiKey: string;
  /** Per attempt (default 10000 ms): an attempt without an answer by then counts as no answer and is retried. */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** The first retry's delay (default 200 ms), doubling up to `retryMaxDelayMs` (default 5000 ms), with jitter. */
  retryDelayMs?: number;
  retryMaxDelayMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class RoomcastApi {
  readonly url: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryOptions;

  constructor(options: RoomcastApiOptions) {
    if (typeof options?.url !== 'string' || !/^https?:\/\//.test(options.url)) throw new TypeError('RoomcastApi: url must be an http(s) URL');
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('RoomcastApi: apiKey is required');
    this.url = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.apiKey = options.apiKey;
    this.timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.retry = {
      retries: nonNegativeInteger(options.retries, DEFAULT_RETRY.retries, 'retries'),
      baseDelayMs: positive(options.retryDelayMs, DEFAULT_RETRY.baseDelayMs, 'retryDelayMs'),
      maxDelayMs: positive(options.retryMaxDelayMs, DEFAULT_RETRY.maxDelayMs, 'retryMaxDelayMs'),
    };
  }

  /** Publishes into one room (`room`) or several (`rooms`: one result per room, as given). */
  async publish(input: PublishInput): Promise<PublishOutcome> {
    const idempotencyKey = input.idempotencyKey ?? randomUUID();
    const body = await this.call({ method: 'POST', path: 'api/v1/publish', body: { ...input, idempotencyKey } }, [idempotencyKey]);
    return { results: body.results as PublishItemResult[], idempotencyKey };
  }

  /** Publishes up to 1000 publications, each into its room, each stored or refused on its own. */
  async batch(publications: readonly BatchPublication[]): Promise<BatchOutcome> {
    const keyed = publications.map((publication) => ({ ...publication, idempotencyKey: publication.idempotencyKey ?? randomUUID() }));
    const keys = keyed.map((publication) => publication.idempotencyKey);
    const body = await this.call({ method: 'POST', path: 'api/v1/batch', body: { publications: keyed } }, keys);
    return { results: body.results as PublishItemResult[], publications: keyed };
  }

  /** A room's stored publications after `since` (exclusive), oldest first. */
  async history(query: HistoryQuery): Promise<HistoryPage> {
    const since = typeof query.since === 'object' ? `${query.since.epoch}:${query.since.offset}` : query.since;
    const body = await this.call({ method: 'GET', path: `api/v1/rooms/${encodeURIComponent(query.room)}/history${search({ namespace: query.namespace, since, limit: query.limit })}` });
    return { room: body.room as string, epoch: body.epoch as string, offset: body.offset as number, recovered: body.recovered as boolean, messages: body.messages as HistoryPage['messages'] };
  }

  /** One page of the occupied rooms across the cluster. */
  async rooms(query: RoomsQuery = {}): Promise<RoomsPage> {
    const body = await this.call({ method: 'GET', path: `api/v1/rooms${search({ namespace: query.namespace, prefix: query.prefix, cursor: query.cursor, limit: query.limit })}` });
    return { rooms: body.rooms as RoomEntry[], cursor: (body.cursor as string | null | undefined) ?? null };
  }

  /** Every page of the occupied rooms, requested one after the other as you iterate. */
  async *roomPages(query: Omit<RoomsQuery, 'cursor'> = {}): AsyncGenerator<RoomsPage> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.rooms({ ...query, ...(cursor === undefined ? {} : { cursor }) });
      yield page;
      const next = page.cursor ?? undefined;
      // A gateway that hands back the cursor it was given would otherwise loop forever.
      if (next === undefined || next === '' || next === cursor) return;
      cursor = next;
    }
  }

  /** Every occupied room, across all pages. */
  async *allRooms(query: Omit<RoomsQuery, 'cursor'> = {}): AsyncGenerator<RoomEntry> {
    for await (const page of this.roomPages(query)) yield* page.rooms;
  }

  /** The members of a room (connections, each with its user), across all nodes. */
  async presence(query: RoomQuery): Promise<PresenceList> {
    const body = await this.call({ method: 'GET', path: `api/v1/rooms/${encodeURIComponent(query.room)}/presence${search({ namespace: query.namespace })}` });
    return { room: body.room as string, namespace: body.namespace as string, members: body.members as PresenceList['members'] };
  }

  /** How many connections and distinct users a room has, without the list. */
  async presenceCounts(query: RoomQuery): Promise<PresenceCounts> {
    const body = await this.call({ method: 'GET', path: `api/v1/rooms/${encodeURIComponent(query.room)}/presence${search({ namespace: query.namespace, counts: 1 })}` });
    return { members: body.members as number, users: body.users as number };
  }

  /** Closes every connection and SSE stream of a user on every node. */
  async disconnectUser(input: DisconnectUserInput): Promise<void> {
    await this.call({ method: 'POST', path: `api/v1/users/${encodeURIComponent(input.user)}/disconnect`, body: input.code === undefined ? {} : { code: input.code } });
  }

  /** Makes a user leave a room on every node (its clients get `room:left`). */
  async leaveRoom(input: LeaveRoomInput): Promise<void> {
    const path = `api/v1/users/${encodeURIComponent(input.user)}/rooms/${encodeURIComponent(input.room)}/leave`;
    // The namespace is a query parameter (the route's body is empty), like every other room route's.
    await this.call({ method: 'POST', path: `${path}${search({ namespace: input.namespace })}`, body: {} });
  }

  /** Runs a request with the retry policy; the answer's body on success. */
  private async call(request: HttpRequest, idempotencyKeys?: string[]): Promise<Record<string, unknown>> {
    for (let attempts = 1; ; attempts += 1) {
      const outcome: HttpAttempt = await attempt(this.url, this.apiKey, this.timeoutMs, request);
      if (outcome.kind === 'ok') return outcome.body;
      const retried = outcome.kind === 'no-answer' || isRetriedAnswer(outcome.status, outcome.error);
      if (!retried || attempts > this.retry.retries) throw finalError(outcome, attempts, idempotencyKeys);
      const retryAfter = outcome.kind === 'refused' ? parseRetryAfter(outcome.retryAfter, this.retry.maxDelayMs) : undefined;
      await sleep(retryDelayMs(attempts, this.retry, retryAfter));
    }
  }
}

function finalError(outcome: Exclude<HttpAttempt, { kind: 'ok' }>, attempts: number, idempotencyKeys?: string[]): RoomcastApiError {
  const keys = idempotencyKeys === undefined ? {} : { idempotencyKeys };
  if (outcome.kind === 'refused') return new RoomcastApiError(outcome.error, { status: outcome.status, attempts, ...keys });
  return new RoomcastApiError(apiErrorPayload('UNAVAILABLE', `the gateway did not answer: ${outcome.reason}`), {
    status: 0,
    attempts,
    unknown: true,
    ...keys,
    cause: outcome.cause,
  });
}

/** `?a=1&b=2` of the defined values, or ''. */
function search(params: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, String(value));
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`RoomcastApi: ${name} must be a positive number`);
  return value;
}

function nonNegativeInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`RoomcastApi: ${name} must be an integer >= 0`);
  return value;
}
