/** The process lifecycle: close() leaves nothing open, signals stop the gateway cleanly, bad config exits 1. */
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { io } from 'socket.io-client';
import { startNode } from '../../tools/processes/processes.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

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
  describe('modes (issue 12): production is never mistaken for development, development stays on loopback', () => {
    for (const nodeEnv of ['Production', ' production', 'PRODUCTION ']) {
      it(`NODE_ENV=${JSON.stringify(nodeEnv)} without a key exits 1 naming JWT_SECRET, instead of running on the public development secret`, async () => {
        const child = startNode(MAIN, { LOG_LEVEL: 'info', PORT: '0', NODE_ENV: nodeEnv });
        const finished = await child.exited(10_000);
        expect(finished.code, finished.stdout).to.equal(1);
        expect(finished.stderr).to.contain('JWT_SECRET');
        expect(finished.stdout).not.to.contain('DEVELOPMENT MODE');
      });
    }

    const refusedInProduction: Array<[string, Record<string, string>]> = [
      ['JWKS_URL', { JWKS_URL: 'http://keys.example/jwks.json', JWT_AUDIENCE: 'roomcast' }],
      ['JWKS_URL', { JWKS_URL: 'http://127.0.0.1:9/jwks.json', JWT_AUDIENCE: 'roomcast' }],
      ['JWT_AUDIENCE', { JWKS_URL: 'https://keys.example/jwks.json' }],
    ];
    for (const [variable, env] of refusedInProduction) {
      it(`production with ${JSON.stringify(env)} exits 1 naming ${variable}`, async () => {
        const child = startNode(MAIN, { LOG_LEVEL: 'silent', PORT: '0', NODE_ENV: 'production', ...env });
        const finished = await child.exited(10_000);
        expect(finished.code).to.equal(1);
        expect(finished.stderr).to.contain(`invalid configuration: ${variable}`);
      });
    }

    async function reachable(url: string): Promise<boolean> {
      try {
        await fetch(url, { signal: AbortSignal.timeout(3000) });
        return true;
      } catch {
        return false;
      }
    }

    it('development mode without HOST listens on 127.0.0.1 only (127.0.0.2 is refused); HOST=0.0.0.0 opens it on purpose', async () => {
      for (const [env, open] of [[{}, false], [{ HOST: '0.0.0.0' }, true]] as const) {
        const child = startNode(MAIN, { LOG_LEVEL: 'info', PORT: '0', ...env });
        try {
          const line = await child.waitForLine(/gateway listening/);
          const { port, host } = JSON.parse(line) as { port: number; host: string };
          expect(host).to.equal(open ? '0.0.0.0' : '127.0.0.1');
          expect(child.output().stdout).to.contain('DEVELOPMENT MODE');
          expect(await reachable(`http://127.0.0.1:${port}/healthz`)).to.equal(true);
          // Any address but 127.0.0.1 stands for "another machine": Linux routes all of 127/8 to lo, and only a wildcard bind accepts 127.0.0.2.
          expect(await reachable(`http://127.0.0.2:${port}/healthz`)).to.equal(open);
        } finally {
          child.kill('SIGKILL');
          await child.exited(10_000);
        }
      }
    });
  });
});
