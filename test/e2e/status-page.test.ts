/**
 * The status page as an operator sees it (issue 6): two Redis-backed nodes
 * behind NGINX, Chromium opens /status, enters the admin token, sees both
 * nodes with figures, and the connection count follows clients connecting.
 * The screenshot is kept in test-artifacts/status-page.png.
 * Issue 14: it lists the cluster's rooms and users, and its Disconnect action
 * closes every connection of a user, on whichever node (status-page-rooms.png).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { httpPublish } from '../support/gateway.js';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';
import { assertOk, connect, nextEvent, request, type TestSocket } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const ADMIN_TOKEN = 'e2e-status-admin-token-0123456789';

/** The connections shown for each node row, by node id. */
async function shownConnections(page: Page): Promise<Record<string, number>> {
  return page.$$eval('#rows tr[data-node]', (rows) =>
    Object.fromEntries(
      rows.map((row) => [
        (row as HTMLElement).dataset.node ?? '',
        Number((row.querySelector('[data-field=connections] .number')?.textContent ?? '').replace(/,/g, '')),
      ]),
    ),
  );
}

describe('status page through NGINX and two nodes (browser)', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let browser: TestBrowser;
  const clients: TestSocket[] = [];
  before(async () => {
    cluster = await startCluster({ nodes: 2, redis: 'single', nginx: true, env: { ADMIN_TOKEN } });
    browser = await launchBrowser();
  });
  after(async () => {
    for (const client of clients) client.close();
    await browser?.close();
    await cluster?.stop();
  });

  it('asks for the token, shows both nodes live, and follows new connections', async () => {
    const page = await (await browser.browser.newContext({ viewport: { width: 1280, height: 560 } })).newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });

    await page.goto(`${cluster.url}/status`);
    await page.waitForSelector('#login-form');
    expect(await page.isHidden('#status')).to.equal(true);

    // A wrong token is refused on the socket and the form says so.
    await page.fill('#token', 'not-the-admin-token-0123');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => (document.querySelector('#login-error')?.textContent ?? '').includes('refused'), undefined, { timeout: 10_000 });

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#state.connected', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-node]').length === 2, undefined, { timeout: 10_000 });
    // The page's own connection is on one of them (shown from the next figures on).
    await page.waitForFunction(
      () => Array.from(document.querySelectorAll('#rows [data-field=connections] .number')).reduce((sum, cell) => sum + Number(cell.textContent), 0) >= 1,
      undefined,
      { timeout: 10_000 },
    );
    const before = await shownConnections(page);
    expect(Object.keys(before).sort()).to.deep.equal(['node1', 'node2']);
    for (const nodeId of ['node1', 'node2']) {
      const row = `#rows tr[data-node=${nodeId}]`;
      expect(await page.textContent(`${row} [data-field=state]`)).to.equal('ready');
      expect(await page.textContent(`${row} [data-field=heap] .number`)).to.match(/^\d+\.\d$/);
      expect(await page.textContent(`${row} [data-field=lag] .number`)).to.match(/^[\d.]+$|^–$/);
    }
    // The token stays in this tab (sessionStorage) for reloads.
    expect(await page.evaluate(() => sessionStorage.getItem('roomcast.adminToken'))).to.equal(ADMIN_TOKEN);

    // Clients connect through NGINX (spread over the nodes) and join a room that the backend publishes to.
    for (let i = 0; i < 8; i += 1) {
      const client = await connect(cluster.url, await signToken(TEST_JWT_SECRET, { sub: `user${i}`, rooms: ['feed:*'] }));
      clients.push(client);
      assertOk(await request(client, 'room:join', { room: 'feed:prices' }));
    }
    const total = (shown: Record<string, number>): number => Object.values(shown).reduce((a, b) => a + b, 0);
    const expected = total(before) + 8;
    await page.waitForFunction(
      (want) => Array.from(document.querySelectorAll('#rows [data-field=connections] .number')).reduce((sum, cell) => sum + Number(cell.textContent), 0) === want,
      expected,
      { timeout: 10_000 },
    );
    expect(total(await shownConnections(page))).to.equal(expected);
    expect(await page.textContent('#summary')).to.contain(`${expected} connections`);

    // A few seconds of traffic so the charts have something to show.
    for (let i = 0; i < 30; i += 1) {
      expect((await httpPublish(cluster.url, { room: 'feed:prices', event: 'tick', data: { i } })).status).to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await page.waitForFunction(
      () => Array.from(document.querySelectorAll('#rows [data-field=out] .number')).some((cell) => Number(cell.textContent) > 0),
      undefined,
      { timeout: 10_000 },
    );
    expect(await page.$$eval('#rows svg.spark polyline', (lines) => lines.filter((line) => (line.getAttribute('points') ?? '').split(' ').length > 2).length)).to.be.at.least(4);
    await page.screenshot({ path: artifactPath('status-page.png'), fullPage: true });
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('lists the rooms and users of the cluster, and disconnects a user on every node', async () => {
    const page = await (await browser.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    // Users as their connections are seen: each joins its personal room (AUTO_JOIN_USER_ROOM does it at connect) and a chat room.
    const joined = async (user: string, url = cluster.url): Promise<TestSocket> => {
      const client = await connect(url, await signToken(TEST_JWT_SECRET, { sub: user, rooms: ['chat:*'] }));
      clients.push(client);
      assertOk(await request(client, 'room:join', { room: `user:${user}` }));
      assertOk(await request(client, 'room:join', { room: 'chat:main' }));
      return client;
    };
    const ann = await joined('ann');
    // Ben has three connections, on both nodes (straight to each, so the page's action must cross nodes).
    const [node1, node2] = cluster.nodes.map((node) => node.url) as [string, string];
    const ben = [await joined('ben', node1), await joined('ben', node2), await joined('ben', node2)];

    await page.goto(`${cluster.url}/status`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#state.connected', { timeout: 10_000 });
    await page.waitForSelector('#room-rows tr[data-room="chat:main"]', { timeout: 10_000 });
    expect(await page.textContent('#room-rows tr[data-room="chat:main"] [data-field=members]')).to.equal('4');
    // Personal rooms are shown as users, not as rooms.
    expect(await page.$$eval('#room-rows tr[data-room]', (rows) => rows.map((row) => (row as HTMLElement).dataset.room))).to.not.include('user:ben');
    expect(await page.textContent('#user-rows tr[data-user=ann] [data-field=connections]')).to.equal('1');
    expect(await page.textContent('#user-rows tr[data-user=ben] [data-field=connections]')).to.equal('3');

    const errors = ben.map((client) => nextEvent(client, 'protocol:error', 10_000));
    await page.click('#user-rows tr[data-user=ben] button[data-action=disconnect]');
    for (const error of await Promise.all(errors)) expect(error.code).to.equal('UNAUTHENTICATED');
    await page.waitForFunction(() => (document.querySelector('#action-result')?.textContent ?? '').includes('Disconnected ben'), undefined, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('#user-rows tr[data-user=ben]') === null, undefined, { timeout: 10_000 });
    await page.waitForFunction(
      () => document.querySelector('#room-rows tr[data-room="chat:main"] [data-field=members]')?.textContent === '1',
      undefined,
      { timeout: 10_000 },
    );
    expect(ann.connected).to.equal(true);
    expect(ben.every((client) => !client.connected)).to.equal(true);
    await page.screenshot({ path: artifactPath('status-page-rooms.png'), fullPage: true });
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
