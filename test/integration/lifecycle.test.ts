/** The process lifecycle: close() leaves nothing open, signals stop the gateway cleanly, bad config exits 1. */
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { io } from 'socket.io-client';
import { startNode } from '../support/processes.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';

const MAIN = fileURLToPath(new URL('../../server/main.js', import.meta.url));
const CLOSE_FIXTURE = fileURLToPath(new URL('../fixtures/close-leaves-no-handle.js', import.meta.url));

describe('lifecycle', () => {
  it('close() leaves no open handle: a process that used the gateway exits by itself', async () => {
    const child = startNode(CLOSE_FIXTURE);
    const finished = await child.exited(15_000);
    expect(finished.stdout).to.contain('closed');
    expect(finished.code, finished.stderr).to.equal(0);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} disconnects clients, closes the server and exits 0`, async () => {
      const child = startNode(MAIN, { PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info' });
      try {
        const line = await child.waitForLine(/gateway listening/);
        const { port } = JSON.parse(line) as { port: number };
        const socket = io(`http://127.0.0.1:${port}`, { auth: { token: await signToken(TEST_JWT_SECRET, { sub: 'sig' }) }, transports: ['websocket'], reconnection: false });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        const disconnected = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
        child.kill(signal);
        await disconnected;
        const finished = await child.exited(10_000);
        expect(finished.code).to.equal(0);
        expect(finished.stdout).to.contain('gateway closed');
        socket.close();
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  const badSettings: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['HISTORY_SIZE', '-1'],
    ['PARSER', 'xml'],
    ['LOG_LEVEL', 'loud'],
    ['JWT_SECRET', 'short'],
    ['API_KEYS', 'tiny'],
    ['CORS_ORIGINS', 'not an origin'],
    ['REDIS_URL', 'http://wrong-scheme'],
    ['REDIS_CLUSTER_NODES', 'host-without-port'],
    ['NAMESPACES_FILE', '/nonexistent/namespaces.json'],
    ['RATE_LIMIT_PER_S', '0'],
  ];
  for (const [variable, value] of badSettings) {
    it(`exits 1 naming ${variable} when it is "${value}"`, async () => {
      const child = startNode(MAIN, { LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', [variable]: value });
      const finished = await child.exited(10_000);
      expect(finished.code).to.equal(1);
      expect(finished.stderr).to.contain(variable);
      expect(finished.stderr).to.match(/expected|set only one|cannot read/);
    });
  }
});
