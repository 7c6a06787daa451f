/**
 * `npm run cluster` (dist/scripts/cluster.js) as a developer runs it: the
 * gateway settings in its environment reach every node. Started as a child
 * process of this test with ADMIN_TOKEN, API_KEYS, MAX_PAYLOAD_BYTES and
 * DRAIN_TIMEOUT_MS set; the status page is served through NGINX and its `/admin`
 * socket takes the admin token (and refuses any other) on every node; the API
 * key publishes, and MAX_PAYLOAD_BYTES refuses a larger payload, on every node.
 * Stopped with SIGTERM by its PID: it stops its nodes, NGINX and redis-server,
 * which are checked gone by the PIDs it printed.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { isAlive, startNode, type Child } from '../../tools/processes/processes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ADMIN_TOKEN = 'cluster-admin-token-0123456789';
const API_KEY = 'cluster-api-key-0123456789abcdef';
const MAX_PAYLOAD_BYTES = 1024;

/** Connects to a gateway's `/admin` namespace with `auth`; resolves 'connected' or the refusal's code. */
function admin(url: string, auth: Record<string, string>): Promise<string> {
  const socket = io(`${url}/admin`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.close();
      resolve('connected');
    });
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.close();
      resolve(error.data?.code ?? error.message);
    });
  });
}

function publish(url: string, data: unknown, apiKey = API_KEY): Promise<Response> {
  return fetch(`${url}/api/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ room: 'demo:cluster-script', event: 'e', data }),
  });
}

describe('npm run cluster passes the gateway settings on to every node', function () {
  this.timeout(120_000);
  let cluster: Child;
  let nginxUrl: string;
  let nodeUrls: string[];
  /** Every PID the script printed (redis-server, the nodes, NGINX's master). */
  let pids: number[] = [];

  before(async () => {
    cluster = startNode(join(ROOT, 'dist/scripts/cluster.js'), {
      HOME: process.env.HOME ?? '/tmp',
      ADMIN_TOKEN,
      API_KEYS: API_KEY,
      MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
      DRAIN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
    }, ['--nodes', '2']);
    await cluster.waitForLine(/ready \(Ctrl-C stops everything\)/, 90_000);
    const stdout = cluster.output().stdout;
    pids = [...stdout.matchAll(/^\[cluster\] .*\(pid (\d+)/gm)].map((match) => Number(match[1]));
    nginxUrl = /NGINX {2}(http:\/\/\S+?)\/? /.exec(stdout)?.[1] ?? '';
    nodeUrls = [...stdout.matchAll(/^ {2}node\d+\s+(http:\/\/\S+)/gm)].map((match) => match[1] as string);
    expect(nginxUrl, stdout).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(nodeUrls, stdout).to.have.length(2);
    expect(pids, stdout).to.have.length(4); // redis-server, node1, node2, nginx
  });

  after(async () => {
    if (cluster === undefined) return;
    cluster.kill('SIGTERM');
    await cluster.exited(30_000).catch(() => undefined);
    // Only if the script failed to: what it started must not outlive the test.
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('ADMIN_TOKEN: /status is served through NGINX, and /admin takes the token and refuses others on every node', async () => {
    const page = await fetch(`${nginxUrl}/status`);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.match(/<html/i);
    expect(await admin(nginxUrl, { adminToken: ADMIN_TOKEN })).to.equal('connected');
    expect(await admin(nginxUrl, {})).to.equal('UNAUTHENTICATED');
    for (const url of nodeUrls) {
      expect((await fetch(`${url}/status`)).status, url).to.equal(200);
      expect(await admin(url, { adminToken: ADMIN_TOKEN }), url).to.equal('connected');
      expect(await admin(url, { adminToken: 'wrong-admin-token-0123456789' }), url).to.equal('UNAUTHENTICATED');
    }
  });

  it('API_KEYS and MAX_PAYLOAD_BYTES: the key publishes on every node, a larger payload is refused', async () => {
    for (const url of [nginxUrl, ...nodeUrls]) {
      expect((await publish(url, { text: 'small' })).status, url).to.equal(200);
      expect((await publish(url, { text: 'small' }, 'another-key-0123456789abcdef')).status, url).to.equal(403);
      const large = await publish(url, { text: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) });
      expect(large.status, url).to.equal(413);
      expect(((await large.json()) as { error: { code: string } }).error.code).to.equal('PAYLOAD_TOO_LARGE');
    }
  });

  it('stops its nodes, NGINX and redis-server on SIGTERM, then exits 0', async () => {
    cluster.kill('SIGTERM');
    const finished = await cluster.exited(30_000);
    expect(finished.code, finished.stdout.slice(-2000)).to.equal(0);
    expect(finished.stdout).to.include('[cluster] stopped');
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).to.equal(false);
  });
});
