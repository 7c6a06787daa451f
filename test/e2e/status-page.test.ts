/**
 * The status page as an operator sees it (issue 6): two Redis-backed nodes
 * behind NGINX, Chromium opens /status, enters the admin token, sees both
 * nodes with figures, and the connection count follows clients connecting.
 * The screenshot is kept in test-artifacts/status-page.png.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { httpPublish } from '../support/gateway.js';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';
import { assertOk, connect, request, type TestSocket } from '../support/sockets.js';
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
});
