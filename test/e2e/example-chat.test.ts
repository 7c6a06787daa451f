/**
 * The examples as a user runs them, through NGINX and two nodes: Redis, two
 * gateway nodes whose publish proxy and webhooks point at the example backend
 * (examples/backend/server.mjs, a real process), the chat app (examples/chat,
 * built here) served by that backend, and two Chromium windows. It checks what
 * the example promises: messages of both users once and in order, presence and
 * typing from the hooks, the moderation proxy's rewrite and refusal, the
 * backend's webhook-fed online list and its REST announcements, and, after the
 * node both windows are on is killed, every message still shown once.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { freePort, isPortFree } from '../../tools/processes/free-port.js';
import { startNode, type Child } from '../../tools/processes/processes.js';
import { TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { artifactPath, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { assertOk, connect, request, waitFor } from '../support/sockets.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHAT_DIR = join(ROOT, 'examples', 'chat');
const WEBHOOK_SECRET = 'example-test-webhook-secret-0123456789abcdef';
const ROOM = 'chat:lobby';

async function enter(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.fill('.login input[name=name]', name);
  await page.click('.login button');
  await page.waitForSelector('.chat[data-connection=connected][data-room-state=joined]', { timeout: 15_000 });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('.send input[name=text]', text);
  await page.click('.send button');
}

/** The chat lines a window shows: `name: text`, in the order shown, with offsets. */
function linesOf(page: Page): Promise<Array<{ offset: number; text: string }>> {
  return page.$$eval('.messages li.message', (items) => items.map((item) => ({ offset: Number(item.getAttribute('data-offset')), text: item.textContent ?? '' })));
}

async function waitForLine(page: Page, text: string): Promise<void> {
  await page.waitForFunction((wanted) => Array.from(document.querySelectorAll('.messages li')).some((item) => item.textContent === wanted), text, { timeout: 15_000 });
}

async function presenceNodes(url: string): Promise<Map<string, string>> {
  const response = await fetch(`${url}/api/v1/rooms/${encodeURIComponent(ROOM)}/presence`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
  const body = (await response.json()) as { members: Array<{ userId: string; nodeId: string }> };
  return new Map(body.members.map((member) => [member.userId, member.nodeId]));
}

async function onlineOf(backendUrl: string): Promise<string[]> {
  const body = (await (await fetch(`${backendUrl}/api/online`)).json()) as { users: string[] };
  return body.users;
}

describe('examples: the chat app and its backend through NGINX and two nodes (browser)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let backend: Child;
  let backendUrl: string;
  let browser: TestBrowser;

  before(async () => {
    await promisify(execFile)(process.execPath, ['build.mjs'], { cwd: CHAT_DIR, timeout: 60_000 });
    const backendPort = await freePort();
    backendUrl = `http://127.0.0.1:${backendPort}`;
    cluster = await startCluster({
      nodes: 2,
      redis: 'single',
      nginx: true,
      env: {
        JWT_SECRET: TEST_JWT_SECRET,
        API_KEYS: TEST_API_KEY,
        WEBHOOK_URL: `${backendUrl}/roomcast/webhooks`,
        WEBHOOK_SECRET,
        PUBLISH_PROXY_URL: `${backendUrl}/roomcast/proxy`,
        CORS_ORIGINS: backendUrl,
      },
    });
    backend = startNode(join(ROOT, 'examples', 'backend', 'server.mjs'), {
      PORT: String(backendPort),
      ROOMCAST_URL: cluster.url,
      ROOMCAST_PUBLIC_URL: cluster.url,
      ROOMCAST_API_KEY: TEST_API_KEY,
      JWT_SECRET: TEST_JWT_SECRET,
      WEBHOOK_SECRET,
    });
    await backend.waitForLine(/example backend on/, 15_000);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    backend?.kill('SIGTERM');
    await backend?.exited().catch(() => undefined);
    await cluster?.stop();
  });

  it('the chat app type-checks against the packages\' types (tsc, strict, library types checked too)', async () => {
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    await promisify(execFile)(tsc, ['-p', join(CHAT_DIR, 'tsconfig.json')], { cwd: CHAT_DIR, timeout: 60_000 });
  });

  it('two users chat with moderation, presence, typing and webhook-fed announcements, and lose nothing when their node dies', async () => {
    const alice = await (await browser.newContext()).newPage();
    const bob = await (await browser.newContext()).newPage();
    await enter(alice, backendUrl, 'alice');
    await enter(bob, backendUrl, 'bob');

    // Presence from the hooks, and the backend's own list, fed by member.joined webhooks.
    await alice.waitForFunction(() => (document.querySelector('.online')?.textContent ?? '').includes('bob'), undefined, { timeout: 15_000 });
    await waitFor(async () => JSON.stringify(await onlineOf(backendUrl)) === JSON.stringify(['alice', 'bob']), 15_000, 'the backend to list alice and bob');
    // The backend announced each arrival over the REST API.
    await waitForLine(alice, 'bob joined');

    // The publish proxy rewrites: the masked word, and the name from the signed-in user (not what the page sent).
    await say(alice, 'hello darn world');
    await waitForLine(bob, 'alice: hello **** world');
    await waitForLine(alice, 'alice: hello **** world');
    // ... and refuses: a link is never stored, and only the sender sees why.
    await say(bob, 'see https://example.com');
    await bob.waitForSelector('.refusal', { timeout: 15_000 });
    expect(await bob.textContent('.refusal')).to.contain('links are not allowed');

    // Typing, a volatile signal through the hooks.
    await bob.fill('.send input[name=text]', 'typing');
    await bob.type('.send input[name=text]', '…', { delay: 20 });
    await alice.waitForFunction(() => (document.querySelector('.typing')?.textContent ?? '').includes('bob is typing'), undefined, { timeout: 15_000 });
    await bob.fill('.send input[name=text]', '');

    // Kill the node alice is on (-9): her window reconnects through NGINX to the other node and
    // rejoins with the last offset it showed; what bob says meanwhile shows once, in order.
    const nodes = await presenceNodes(cluster.url);
    const aliceNode = cluster.nodes.findIndex((node) => node.nodeId === nodes.get('alice'));
    expect(aliceNode, `alice's node ${nodes.get('alice')}`).to.be.at.least(0);
    await cluster.nodes[aliceNode]!.kill();
    for (let n = 1; n <= 5; n += 1) await say(bob, `after the crash ${n}`);
    await waitForLine(alice, 'bob: after the crash 5');
    await alice.waitForSelector('.chat[data-connection=connected][data-room-state=joined]', { timeout: 20_000 });

    for (const page of [alice, bob]) {
      await waitForLine(page, 'bob: after the crash 5');
      const lines = await linesOf(page);
      const offsets = lines.map((line) => line.offset);
      expect(offsets, 'offsets strictly increasing: once and in order').to.deep.equal([...new Set(offsets)].sort((a, b) => a - b));
      const texts = lines.map((line) => line.text);
      expect(texts.filter((text) => text.startsWith('bob: after the crash'))).to.deep.equal([1, 2, 3, 4, 5].map((n) => `bob: after the crash ${n}`));
      expect(texts).to.include('alice: hello **** world');
      expect(texts.some((text) => text.includes('https://'))).to.equal(false);
    }
    await alice.screenshot({ path: artifactPath('example-chat-alice.png') });
    await bob.screenshot({ path: artifactPath('example-chat-bob.png') });

    // Bob closes his window: the hooks' presence and the backend's list (member.left webhooks) drop him.
    await bob.context().close();
    await alice.waitForFunction(() => !(document.querySelector('.online')?.textContent ?? '').includes('bob'), undefined, { timeout: 30_000 });
    await waitFor(async () => JSON.stringify(await onlineOf(backendUrl)) === JSON.stringify(['alice']), 30_000, 'the backend to drop bob');
  });
});

describe('examples: `npm run example` starts the gateway and the backend with one command', function () {
  this.timeout(90_000);

  it('serves the app and its config, mints a token the gateway accepts, and stops both processes on Ctrl-C', async () => {
    const [gatewayPort, backendPort] = [await freePort(), await freePort()];
    const example = startNode(join(ROOT, 'examples', 'start.mjs'), { GATEWAY_PORT: String(gatewayPort), BACKEND_PORT: String(backendPort), LOG_LEVEL: 'warn' });
    try {
      await example.waitForLine(/chat example ready/, 60_000);
      const backendUrl = `http://127.0.0.1:${backendPort}`;
      expect(await (await fetch(`${backendUrl}/`)).text()).to.contain('<script type="module" src="app.js">');
      expect(await (await fetch(`${backendUrl}/config.json`)).json()).to.deep.equal({ gatewayUrl: `http://localhost:${gatewayPort}` });
      const login = (await (await fetch(`${backendUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"zed"}' })).json()) as { token: string };
      const refused = await fetch(`${backendUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"no spaces allowed"}' });
      expect(refused.status).to.equal(400);
      // The token works at the gateway the command started: a socket joins chat:lobby with it.
      const socket = await connect(`http://127.0.0.1:${gatewayPort}`, login.token);
      try {
        assertOk(await request(socket, 'room:join', { room: 'chat:lobby' }));
      } finally {
        socket.disconnect();
      }
    } finally {
      example.kill('SIGINT');
    }
    const finished = await example.exited(20_000);
    expect(finished.code, finished.stderr).to.equal(0);
    // Both children are gone: their ports are free again.
    expect(await isPortFree(gatewayPort)).to.equal(true);
    expect(await isPortFree(backendPort)).to.equal(true);
  });
});
