/** Calls of the backend HTTP API (/api/v1) for tests: JSON in, status and JSON out, with the test API key by default. */
import { expect } from 'chai';
import { TEST_API_KEY } from '../../tools/processes/tokens.js';

export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field by the tests
  body: any;
}

export interface ApiCall {
  method?: 'GET' | 'POST';
  body?: unknown;
  /** Authorization header value; null: none. Default: the test API key. */
  auth?: string | null;
}

export async function api(baseUrl: string, path: string, { method = 'GET', body, auth = `Bearer ${TEST_API_KEY}` }: ApiCall = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers.authorization = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

/** Every page of GET /api/v1/rooms from the start (`query` without cursor), following `cursor` until null. */
export async function allRoomPages(baseUrl: string, query: string): Promise<Array<Array<{ room: string; members: number }>>> {
  const pages: Array<Array<{ room: string; members: number }>> = [];
  let cursor: string | null = null;
  do {
    const answer: ApiAnswer = await api(baseUrl, `/api/v1/rooms?${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
    if (answer.status !== 200) throw new Error(`GET /api/v1/rooms answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    pages.push(answer.body.rooms);
    cursor = answer.body.cursor;
    if (pages.length > 1000) throw new Error('the room listing does not end');
  } while (cursor !== null);
  return pages;
}

/** Waits until the room's members (user ids, sorted) are `expected`: a closed connection leaves presence just after it closed. */
export async function eventuallyMembers(url: string, room: string, expected: string[], namespace = '/'): Promise<void> {
  let last: unknown = null;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const answer = await api(url, `/api/v1/rooms/${room}/presence?namespace=${namespace}`);
    last = answer.body.members?.map((member: { userId: string }) => member.userId).sort();
    if (JSON.stringify(last) === JSON.stringify([...expected].sort())) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(last, `members of ${room}`).to.deep.equal([...expected].sort());
}

