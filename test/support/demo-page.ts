/** Driving the demo page in a browser: sign in by name, send, and find which node holds whom. */
import type { Page } from 'playwright-core';
import { TEST_API_KEY } from '../../tools/processes/tokens.js';

export async function enterDemo(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.fill('#name', name);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#state.connected, #state:text("connected")', { timeout: 10_000 });
  await page.waitForSelector('#send:not([disabled])', { timeout: 10_000 });
}

export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

/** userId -> nodeId of the members of a room, from the HTTP presence route (any node answers for the cluster). */
export async function nodesOf(url: string, room = 'demo:lobby'): Promise<Map<string, string>> {
  const response = await fetch(`${url}/api/v1/rooms/${encodeURIComponent(room)}/presence`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
  const body = (await response.json()) as { members: Array<{ userId: string; nodeId: string }> };
  return new Map(body.members.map((member) => [member.userId, member.nodeId]));
}
