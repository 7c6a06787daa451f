/**
 * GET /sse with nothing but the browser's own EventSource, through NGINX in
 * front of two Redis-backed nodes: every publication arrives once and in order
 * even when the node serving the stream is killed (the browser reconnects by
 * itself and sends Last-Event-ID), and the demo page's live counter follows it.
 */
import { expect } from 'chai';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { enterDemo } from '../support/demo-page.js';
import { httpPublish } from '../support/gateway.js';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';

const ROOM = 'demo:sse';

async function publish(url: string, room: string, n: number): Promise<void> {
  // Through NGINX: while a node is down, a publish may land on it and fail; it is retried until stored.
  for (let attempt = 0; attempt < 30; attempt += 1) {
    const { status } = await httpPublish(url, { room, event: 'chat', data: { text: `sse-${n}`, name: 'backend' } }).catch(() => ({ status: 0 }));
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`publish ${n} never succeeded`);
}

describe('EventSource on GET /sse (browser, NGINX + two nodes)', function () {
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

  it('an EventSource resumes after its node is killed: every publication once, in order', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${cluster.url}/`);
    await page.evaluate(async (room) => {
      const response = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'erin' }) });
      const { token } = (await response.json()) as { token: string };
      const seen = { offsets: [] as number[], errors: 0 };
      (window as unknown as { seen: typeof seen }).seen = seen;
      const source = new EventSource(`/sse?room=${encodeURIComponent(room)}&token=${encodeURIComponent(token)}`);
      source.addEventListener('chat', (event) => seen.offsets.push((JSON.parse((event as MessageEvent<string>).data) as { offset: number }).offset));
      source.addEventListener('error', () => (seen.errors += 1));
      await new Promise<void>((resolve) => source.addEventListener('position', () => resolve(), { once: true }));
    }, ROOM);
    const seen = (): Promise<{ offsets: number[]; errors: number }> => page.evaluate(() => (window as unknown as { seen: { offsets: number[]; errors: number } }).seen);
    const waitForCount = (count: number): Promise<unknown> =>
      page.waitForFunction((n) => (window as unknown as { seen: { offsets: number[] } }).seen.offsets.length >= n, count, { timeout: 30_000 });

    for (let n = 1; n <= 3; n += 1) await publish(cluster.url, ROOM, n);
    await waitForCount(3);
    // NGINX may have sent the stream to either node: kill each in turn, so the stream surely drops at least once.
    let n = 4;
    for (const index of [0, 1]) {
      const restarting = cluster.restartNode(index, { signal: 'SIGKILL' });
      for (const end = n + 3; n < end; n += 1) await publish(cluster.url, ROOM, n);
      await restarting;
    }
    await waitForCount(9);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would arrive now
    const { offsets, errors } = await seen();
    expect(errors, 'the stream dropped and the browser reconnected').to.be.at.least(1);
    expect(offsets).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("the demo page's live counter, fed by SSE, counts the room's chat messages", async () => {
    const page = await (await browser.newContext()).newPage();
    await enterDemo(page, cluster.url, 'frank');
    await page.waitForSelector('#sse-state:text("live")', { timeout: 15_000 });
    for (let n = 1; n <= 2; n += 1) await publish(cluster.url, 'demo:lobby', 100 + n);
    await page.waitForFunction(() => document.querySelector('#sse-count')?.textContent === '2', undefined, { timeout: 15_000 });
    await page.screenshot({ path: artifactPath('demo-sse-counter.png') });
  });
});
