/**
 * The delivery promise in a real browser: the demo page (the client SDK in
 * Chromium) behind NGINX in front of two Redis-backed nodes keeps every
 * message once and in order when its node is killed (-9) while a backend
 * keeps publishing, and a reloaded page shows what was said while it was gone.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { enterDemo, nodesOf } from '../support/demo-page.js';
import { httpPublish } from '../support/gateway.js';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';

/** The publication event the demo page shows as a chat line (web/demo/demo.ts). */
const CHAT_EVENT = 'chat';

/** The texts of the demo's message lines, in page order. */
function lines(page: Page): Promise<string[]> {
  return page.$$eval('#messages li', (items) => items.map((item) => item.textContent ?? ''));
}

/** Waits until every text is on the page, then checks each is there exactly once and in the order given. */
async function expectOnceInOrder(page: Page, texts: string[]): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const all = Array.from(document.querySelectorAll("#messages li"), (item) => item.textContent ?? "");
      // A line reads <who><text>#<offset> · <time>: the '#' ends the text, so 'x-1' does not match 'x-10'.
      return wanted.every((text) => all.some((line) => line.includes(`${text}#`)));
    },
    texts,
    { timeout: 30_000 },
  );
  const shown = await lines(page);
  const positions = texts.map((text) => {
    const at = shown.filter((line) => line.includes(`${text}#`));
    expect(at, `"${text}" shown once`).to.have.length(1);
    return shown.findIndex((line) => line.includes(`${text}#`));
  });
  expect(positions, 'in publication order').to.deep.equal([...positions].sort((a, b) => a - b));
}

async function publishAll(url: string, prefix: string, count: number): Promise<string[]> {
  const texts: string[] = [];
  for (let i = 1; i <= count; i += 1) {
    const text = `${prefix}-${i}`;
    // Through NGINX: a publish that lands on the dead node is retried by NGINX on the live one (or by us on a 502).
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt += 1) {
      status = (await httpPublish(url, { room: 'demo:lobby', event: CHAT_EVENT, data: { text, name: 'backend' } }).catch(() => ({ status: 0 }))).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status, `publish ${text}`).to.equal(200);
    texts.push(text);
  }
  return texts;
}

describe('demo page recovers every message (browser, NGINX + two nodes)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let browser: TestBrowser;
  before(async () => {
    cluster = await startCluster({ nodes: 2, redis: 'single', nginx: true, env: { JWT_SECRET: '' } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("a page whose node is killed (-9) gets every message published meanwhile, once and in order", async () => {
    const page = await (await browser.newContext()).newPage();
    await enterDemo(page, cluster.url, 'carol');
    const before = await publishAll(cluster.url, 'before-kill', 3);
    await expectOnceInOrder(page, before);

    const nodeId = (await nodesOf(cluster.url)).get('carol');
    const index = cluster.nodes.findIndex((node) => node.nodeId === nodeId);
    expect(index, `carol's node ${nodeId}`).to.be.at.least(0);
    // Every state the page shows from now on, to prove it really lost its connection.
    await page.evaluate(() => {
      const badge = document.querySelector('#state') as HTMLElement;
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      new MutationObserver(() => seen.push(badge.textContent ?? '')).observe(badge, { childList: true, characterData: true, subtree: true });
    });
    // Kill carol's node and publish at once, while her page is cut off; the node comes back under the same id.
    const restarting = cluster.restartNode(index, { signal: 'SIGKILL' });
    const during = await publishAll(cluster.url, 'during-outage', 10);
    await restarting;
    const after = await publishAll(cluster.url, 'after-restart', 3);

    await expectOnceInOrder(page, [...before, ...during, ...after]);
    await page.waitForSelector('#state.connected', { timeout: 15_000 });
    const states = await page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
    expect(states.some((state) => state.startsWith('reconnecting')), states.join(' | ')).to.equal(true);
    expect(states.some((state) => state.startsWith('recovered')), states.join(' | ')).to.equal(true);
    await page.screenshot({ path: artifactPath('demo-recovery-after-kill.png') });
  });

  it('a reloaded page shows what was published while it reloaded', async () => {
    const page = await (await browser.newContext()).newPage();
    await enterDemo(page, cluster.url, 'dave');
    const first = await publishAll(cluster.url, 'before-reload', 2);
    await expectOnceInOrder(page, first);
    const reloading = page.reload();
    const meanwhile = await publishAll(cluster.url, 'while-reloading', 3);
    await reloading;
    await page.fill('#name', 'dave');
    await page.click('#login-form button[type=submit]');
    await expectOnceInOrder(page, [...first, ...meanwhile]);
    await page.screenshot({ path: artifactPath('demo-recovery-after-reload.png') });
  });
});
