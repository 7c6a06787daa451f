/**
 * @roomcast/client/react in Chromium with a real React render (the development
 * build, every root in <StrictMode>, so each component mounts twice) against a
 * real gateway: the test app (react-app/app.ts) shows what the hooks return, and
 * the test publishes over HTTP and reads the DOM. Checked: messages render once
 * and in order, also those published while the socket was cut off by the
 * gateway; a gap shows when history (HISTORY_SIZE 5) no longer covers the time
 * away; presence lists two users and drops one whose component unmounts (the
 * gateway's presence too: unmount leaves the room); a typing signal goes from one
 * component to another; a refused join shows its error once; and StrictMode's
 * double mount sends one room:join.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';
import { httpPublish, startGateway, TEST_PARSER, type TestGateway } from '../support/gateway.js';
import { startReactApp, type ReactAppServer } from '../support/react-app.js';
import { api, eventuallyMembers } from '../support/rest-api.js';
import { TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import type { PanelProps } from './react-app/app.js';

interface UserRecord {
  sent: string[];
  states: string[];
  roomMounts: number;
}

async function publish(url: string, room: string, texts: string[]): Promise<void> {
  for (const text of texts) {
    const { status, body } = await httpPublish(url, { room, event: 'chat', data: { text } });
    expect(status, JSON.stringify(body)).to.equal(200);
  }
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}-${from + i}`);

function mount(page: Page, user: string, props: PanelProps): Promise<void> {
  return page.evaluate(([name, panel]) => (window as unknown as { reactTest: { mount(u: string, p: PanelProps): void } }).reactTest.mount(name, panel), [user, props] as const);
}

function show(page: Page, user: string, props: PanelProps): Promise<void> {
  return page.evaluate(([name, panel]) => (window as unknown as { reactTest: { show(u: string, p: PanelProps): void } }).reactTest.show(name, panel), [user, props] as const);
}

function record(page: Page, user: string): Promise<UserRecord> {
  return page.evaluate((name) => (window as unknown as { reactTest: { record(u: string): UserRecord } }).reactTest.record(name), user);
}

/** The texts of a user's message list, in DOM order. */
function shownTexts(page: Page, user: string): Promise<string[]> {
  return page.$$eval(`#${user} .messages li`, (items) => items.map((item) => item.textContent ?? ''));
}

/** Waits until the user's message list is exactly `texts` (nothing missing, nothing twice, in order). */
async function expectMessages(page: Page, user: string, texts: string[]): Promise<void> {
  try {
    await page.waitForFunction(
      ([name, wanted]) => {
        const shown = Array.from(document.querySelectorAll(`#${name} .messages li`), (item) => item.textContent ?? '');
        return shown.length >= wanted.length;
      },
      [user, texts] as const,
      { timeout: 15_000 },
    );
  } catch {
    // Fall through to the comparison, which says what is missing.
  }
  // A duplicate or a late one would show up now.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await shownTexts(page, user)).to.deep.equal(texts);
}

/** Cuts every connection of `user` at the gateway; its client reconnects (its token is held meanwhile, if the test holds it). */
async function disconnectUser(gateway: TestGateway, page: Page, user: string): Promise<void> {
  const answer = await api(gateway.url, `/api/v1/users/${user}/disconnect`, { method: 'POST', body: { code: 'UNAVAILABLE' } });
  expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
  await page.waitForSelector(`#${user} .conn:text-is("reconnecting")`, { state: 'attached', timeout: 10_000 });
}

describe('@roomcast/client/react in Chromium (StrictMode, real gateway)', function () {
  this.timeout(60_000);
  let gateway: TestGateway;
  let app: ReactAppServer;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    app = await startReactApp(TEST_JWT_SECRET);
    gateway = await startGateway({ HISTORY_SIZE: '5', CORS_ORIGINS: app.origin });
    browser = await launchBrowser();
    page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(app.pageUrl(gateway.url, TEST_PARSER));
    await page.waitForFunction(() => 'reactTest' in window, undefined, { timeout: 10_000 });
    expect(problems).to.deep.equal([]);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') await page?.screenshot({ path: artifactPath('react-hooks-failure.png'), fullPage: true }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    await app?.close();
  });

  it('renders published messages once and in order; StrictMode sends one join', async () => {
    await mount(page, 'alice', { room: 'react:chat' });
    await page.waitForSelector('#alice .room[data-state=joined]', { state: 'attached', timeout: 10_000 });
    await publish(gateway.url, 'react:chat', range('m', 1, 3));
    await expectMessages(page, 'alice', range('m', 1, 3));
    const { sent, roomMounts } = await record(page, 'alice');
    expect(roomMounts, 'StrictMode mounted the view twice').to.equal(2);
    expect(sent.filter((packet) => packet === 'room:join react:chat')).to.have.length(1);
    expect(sent.filter((packet) => packet.startsWith('room:leave'))).to.deep.equal([]);
  });

  it('after the gateway cuts the socket, what was published meanwhile renders after the reconnect, without duplicates', async () => {
    const release = app.holdTokens('alice');
    await disconnectUser(gateway, page, 'alice');
    await page.waitForSelector('#alice .room[data-state=rejoining]', { state: 'attached', timeout: 5_000 });
    // Within HISTORY_SIZE (5): everything is recovered.
    await publish(gateway.url, 'react:chat', range('m', 4, 7));
    release();
    await page.waitForSelector('#alice .room[data-state=joined]', { state: 'attached', timeout: 10_000 });
    await publish(gateway.url, 'react:chat', range('m', 8, 9));
    await expectMessages(page, 'alice', range('m', 1, 9));
    expect(await page.$$eval('#alice .gaps li', (items) => items.length)).to.equal(0);
    const { sent, states } = await record(page, 'alice');
    // The first join and one rejoin (with `since`).
    expect(sent.filter((packet) => packet === 'room:join react:chat')).to.have.length(2);
    expect(states).to.deep.equal(['joining', 'joined', 'rejoining', 'joined']);
  });

  it('shows a gap when history no longer covers the time away, then what it still holds', async () => {
    await mount(page, 'bob', { room: 'react:gappy' });
    await page.waitForSelector('#bob .room[data-state=joined]', { state: 'attached', timeout: 10_000 });
    await publish(gateway.url, 'react:gappy', ['g-1']);
    await expectMessages(page, 'bob', ['g-1']);
    const release = app.holdTokens('bob');
    await disconnectUser(gateway, page, 'bob');
    // Twelve while away: history keeps the last five (9..13).
    await publish(gateway.url, 'react:gappy', range('g', 2, 13));
    release();
    await page.waitForSelector('#bob .gaps li', { state: 'attached', timeout: 10_000 });
    expect(await page.$$eval('#bob .gaps li', (items) => items.map((item) => item.textContent))).to.deep.equal(['2-8 expired']);
    await expectMessages(page, 'bob', ['g-1', ...range('g', 9, 13)]);
    expect(await page.$$eval('#bob li[data-offset]', (items) => items.map((item) => Number((item as HTMLElement).dataset.offset)))).to.deep.equal([1, 9, 10, 11, 12, 13]);
  });

  it('a refused join (FORBIDDEN_ROOM) shows the error state once', async () => {
    await mount(page, 'carol', { room: 'secret:plans' });
    await page.waitForSelector('#carol .room[data-state=error]', { state: 'attached', timeout: 10_000 });
    // Time for a retry loop or a second join to show, if there were one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await page.$$eval('#carol .error', (items) => items.map((item) => item.textContent))).to.deep.equal(['FORBIDDEN_ROOM']);
    const { sent, states } = await record(page, 'carol');
    expect(states).to.deep.equal(['joining', 'error']);
    expect(sent.filter((packet) => packet === 'room:join secret:plans')).to.have.length(1);
  });

  it('usePresence shows two users and drops one whose component unmounts (which leaves the room)', async () => {
    const room = 'react:people';
    await mount(page, 'dave', { presence: room });
    await mount(page, 'erin', { presence: room });
    const presence = (user: string): Promise<string[]> => page.$$eval(`#${user} .presence li`, (items) => items.map((item) => item.textContent ?? '').sort());
    await page.waitForFunction(() => ['dave', 'erin'].every((user) => document.querySelectorAll(`#${user} .presence li`).length === 2), undefined, { timeout: 10_000 });
    expect(await presence('dave')).to.deep.equal(['dave', 'erin']);
    expect(await presence('erin')).to.deep.equal(['dave', 'erin']);
    await eventuallyMembers(gateway.url, room, ['dave', 'erin']);

    // Erin's component goes; her client stays connected.
    await show(page, 'erin', {});
    await page.waitForFunction(() => document.querySelectorAll('#dave .presence li').length === 1, undefined, { timeout: 10_000 });
    expect(await presence('dave')).to.deep.equal(['dave']);
    await eventuallyMembers(gateway.url, room, ['dave']);
    expect(await page.textContent('#erin .conn')).to.equal('connected');
    const { sent } = await record(page, 'erin');
    expect(sent.filter((packet) => packet.endsWith(` ${room}`) && packet.startsWith('room:'))).to.deep.equal([`room:join ${room}`, `room:leave ${room}`]);
  });

  it('useSignal delivers a typing signal from one component to another', async () => {
    const room = 'react:typing';
    await mount(page, 'frank', { signal: room });
    await mount(page, 'grace', { signal: room });
    await page.waitForSelector('#frank .signal[data-state=joined]', { state: 'attached', timeout: 10_000 });
    await page.waitForSelector('#grace .signal[data-state=joined]', { state: 'attached', timeout: 10_000 });
    await page.fill('#frank .typing', 'hel');
    await page.waitForSelector('#grace .typing-now span', { state: 'attached', timeout: 10_000 });
    expect(await page.textContent('#grace .typing-now')).to.equal('frank is typing');
    // Signals go to the others only.
    expect(await page.$$eval('#frank .typing-now span', (items) => items.length)).to.equal(0);
    await page.screenshot({ path: artifactPath('react-hooks.png'), fullPage: true });
  });

  it('unmounting the room view leaves the room at the gateway', async () => {
    await eventuallyMembers(gateway.url, 'react:chat', ['alice']);
    await show(page, 'alice', {});
    await eventuallyMembers(gateway.url, 'react:chat', []);
    const { sent } = await record(page, 'alice');
    expect(sent.filter((packet) => packet === 'room:leave react:chat')).to.have.length(1);
  });
});
