/**
 * The multi-node promise, as a new user sees it: `npm run cluster`'s setup
 * (Redis, two nodes, NGINX in front, development tokens), the demo page opened
 * in two separate browsers that land on different nodes, each seeing the
 * other's messages, presence and typing indicator.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { enterDemo as enter, nodesOf, say } from '../support/demo-page.js';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';

describe('demo page through NGINX and two nodes (browser)', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let browser: TestBrowser;
  before(async () => {
    // No JWT setting: development mode, where the demo page gets its tokens from POST /dev/token.
    cluster = await startCluster({ nodes: 2, redis: 'single', nginx: true, env: { JWT_SECRET: '' } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('two browsers on different nodes chat, see each other present and typing', async () => {
    const alice = await (await browser.newContext()).newPage();
    await enter(alice, cluster.url, 'alice');
    // The first request of a session is balanced freely; open the second browser until it lands on the other node.
    let bob: Page | null = null;
    for (let attempt = 0; attempt < 10 && bob === null; attempt += 1) {
      const page = await (await browser.newContext()).newPage();
      await enter(page, cluster.url, `bob${attempt}`);
      const nodes = await nodesOf(cluster.url);
      if (nodes.get(`bob${attempt}`) !== nodes.get('alice')) bob = page;
      else await page.context().close();
    }
    if (bob === null) throw new Error('the second browser never landed on another node');
    const bobName = await bob.inputValue('#name');

    await say(alice, 'hello from alice');
    await say(bob, 'hello from bob');
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => {
        const text = document.querySelector('#messages')?.textContent ?? '';
        return text.includes('hello from alice') && text.includes('hello from bob');
      }, undefined, { timeout: 10_000 });
    }
    await alice.waitForFunction((name) => (document.querySelector('#presence')?.textContent ?? '').includes(name), bobName, { timeout: 10_000 });

    // Typing shows on the other node through a volatile room:signal (never stored), and goes away after sending.
    await bob.type('#text', 'typing…', { delay: 20 });
    await alice.waitForFunction((name) => (document.querySelector('#typing')?.textContent ?? '').includes(`${name} is typing`), bobName, { timeout: 10_000 });
    await bob.click('#send');
    await alice.waitForFunction(() => (document.querySelector('#typing')?.textContent ?? '') === '', undefined, { timeout: 10_000 });
    const nodes = await nodesOf(cluster.url);
    expect(nodes.get('alice')).to.not.equal(nodes.get(bobName));
    await alice.screenshot({ path: artifactPath('demo-cluster-alice.png') });
    await bob.screenshot({ path: artifactPath('demo-cluster-bob.png') });
  });
});
