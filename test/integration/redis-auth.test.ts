/**
 * Redis with a password (`--requirepass`), with an ACL user and no anonymous
 * access, and a password-protected Redis Cluster: the gateway uses the
 * credentials it is given (REDIS_URL's own; REDIS_USERNAME / REDIS_PASSWORD for
 * REDIS_CLUSTER_NODES), refuses to start with a clear message (exit 1) when they
 * are missing or wrong instead of retrying for ever, and never logs them.
 * Anyone without them can no longer PUBLISH into the adapter's channels.
 */
import { expect } from 'chai';
import { freePort } from '../../tools/processes/free-port.js';
import { GATEWAY_MAIN, startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { httpPublish } from '../support/gateway.js';
import { startNode, type Finished } from '../../tools/processes/processes.js';
import { redisCommand } from '../../tools/processes/redis-command.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { assertOk, collectMessages, connect, request, waitFor } from '../support/sockets.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const PASSWORD = 'redis-pass-7d1f0c93b2a54e8f';
const WRONG = 'not-the-password-19a4c2e7';

/** The environment of a test gateway, at the most talkative log level so that a leak would show. */
function gatewayEnv(redis: Record<string, string>): Record<string, string> {
  return { JWT_SECRET: TEST_JWT_SECRET, API_KEYS: TEST_API_KEY, DRAIN_TIMEOUT_MS: '500', LOG_LEVEL: 'trace', ...redis };
}

/** A gateway that must not start: resolves with how it ended (it is killed after `timeoutMs`, which fails the test). */
async function failedStart(redis: Record<string, string>, timeoutMs = 15_000): Promise<Finished> {
  const port = await freePort();
  const child = startNode(GATEWAY_MAIN, { ...gatewayEnv(redis), HOST: '127.0.0.1', PORT: String(port), NODE_ID: `refused-${port}` });
  return child.exited(timeoutMs);
}

/** A publication over HTTP reaches a socket member, and history has it: commands and pub/sub both work. */
async function roundTrip(node: GatewayProcess, room: string): Promise<void> {
  const socket = await connect(node.url, await signToken(TEST_JWT_SECRET, { sub: 'auth-user', rooms: ['auth:*'] }), { transports: ['websocket'] });
  try {
    const messages = collectMessages(socket);
    assertOk(await request(socket, 'room:join', { room }));
    const published = await httpPublish(node.url, { room, event: 'e', data: { n: 1 } });
    expect(published.status, JSON.stringify(published.body)).to.equal(200);
    await waitFor(() => messages.length === 1, 5_000, 'the publication');
    const history = assertOk(await request(socket, 'room:history', { room, limit: 10 }));
    expect(history.messages.map((message) => message.data)).to.deep.equal([{ n: 1 }]);
  } finally {
    socket.close();
  }
}

function expectNoSecret(output: { stdout: string; stderr: string }, ...secrets: string[]): void {
  for (const secret of secrets) {
    expect(output.stdout, 'stdout').not.to.include(secret);
    expect(output.stderr, 'stderr').not.to.include(secret);
  }
}

describe('Redis credentials', function () {
  this.timeout(60_000);

  describe('a Redis with requirepass', () => {
    let redis: RedisProcess;
    before(async () => {
      redis = await startRedis({ extraArgs: ['--requirepass', PASSWORD], auth: { password: PASSWORD } });
    });
    after(async () => redis?.stop());

    it('refuses anonymous commands: nobody without the password can PUBLISH into the adapter channels', async () => {
      const error = await redisCommand(redis.host, redis.port, ['PUBLISH', 'socket.io#/#', 'forged']).then(
        () => null,
        (e: Error) => e,
      );
      expect(error?.message).to.match(/NOAUTH/);
    });

    it('the gateway works with the password in REDIS_URL, and never logs it', async () => {
      const node = await startGatewayProcess(gatewayEnv({ REDIS_URL: `redis://:${PASSWORD}@${redis.host}:${redis.port}` }));
      try {
        await roundTrip(node, 'auth:single');
      } finally {
        const finished = await node.stop();
        expect(finished.code, finished.stderr).to.equal(0);
        expectNoSecret(finished, PASSWORD);
      }
    });

    it('without the password it refuses to start, naming REDIS_URL', async () => {
      const finished = await failedStart({ REDIS_URL: redis.url });
      expect(finished.code).to.equal(1);
      const output = finished.stdout + finished.stderr;
      expect(output).to.match(/Redis refused the command connection's credentials \(NOAUTH/);
      expect(output).to.include('REDIS_URL');
    });

    it('with a wrong password it refuses to start (instead of retrying for ever), and does not log it', async () => {
      const finished = await failedStart({ REDIS_URL: `redis://:${WRONG}@${redis.host}:${redis.port}` });
      expect(finished.code).to.equal(1);
      expect(finished.stdout + finished.stderr).to.match(/WRONGPASS/);
      expectNoSecret(finished, WRONG);
    });
  });

  describe('a Redis with an ACL user and the default user off', () => {
    let redis: RedisProcess;
    before(async () => {
      redis = await startRedis({
        // One argument per ACL word: redis-server quotes an argument with spaces as one word.
        extraArgs: ['--user', 'default', 'off', '--user', 'roomcast', 'on', `>${PASSWORD}`, '~*', '&*', '+@all'],
        auth: { username: 'roomcast', password: PASSWORD },
      });
    });
    after(async () => redis?.stop());

    it('the gateway works as that user (redis://user:password@host), and anonymous clients get nothing', async () => {
      const anonymous = await redisCommand(redis.host, redis.port, ['XRANGE', 'any', '-', '+']).then(
        () => null,
        (e: Error) => e,
      );
      expect(anonymous?.message).to.match(/NOAUTH/);
      const node = await startGatewayProcess(gatewayEnv({ REDIS_URL: `redis://roomcast:${PASSWORD}@${redis.host}:${redis.port}` }));
      try {
        await roundTrip(node, 'auth:acl');
      } finally {
        expectNoSecret(await node.stop(), PASSWORD);
      }
    });

    it('the wrong user refuses to start', async () => {
      const finished = await failedStart({ REDIS_URL: `redis://someone:${PASSWORD}@${redis.host}:${redis.port}` });
      expect(finished.code).to.equal(1);
      expect(finished.stdout + finished.stderr).to.match(/WRONGPASS/);
      expectNoSecret(finished, PASSWORD);
    });
  });

  describe('a password-protected Redis Cluster (REDIS_CLUSTER_NODES + REDIS_PASSWORD)', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3, password: PASSWORD });
    });
    after(async () => cluster?.stop());

    it('the gateway works with REDIS_PASSWORD (and REDIS_USERNAME), and never logs it', async () => {
      const variants: Array<Record<string, string>> = [{ REDIS_PASSWORD: PASSWORD }, { REDIS_USERNAME: 'default', REDIS_PASSWORD: PASSWORD }];
      for (const credentials of variants) {
        const node = await startGatewayProcess(gatewayEnv({ REDIS_CLUSTER_NODES: cluster.envValue, ...credentials }));
        try {
          await roundTrip(node, `auth:cluster-${Object.keys(credentials).length}`);
        } finally {
          const finished = await node.stop();
          expect(finished.code, finished.stderr).to.equal(0);
          expectNoSecret(finished, PASSWORD);
        }
      }
    });

    it('without REDIS_PASSWORD it refuses to start, naming REDIS_PASSWORD', async () => {
      const finished = await failedStart({ REDIS_CLUSTER_NODES: cluster.envValue });
      expect(finished.code).to.equal(1);
      const output = finished.stdout + finished.stderr;
      expect(output).to.match(/Redis refused the command connection's credentials \(NOAUTH/);
      expect(output).to.include('REDIS_PASSWORD');
    });

    it('with a wrong REDIS_PASSWORD it refuses to start, and does not log it', async () => {
      const finished = await failedStart({ REDIS_CLUSTER_NODES: cluster.envValue, REDIS_PASSWORD: WRONG });
      expect(finished.code).to.equal(1);
      expect(finished.stdout + finished.stderr).to.match(/WRONGPASS/);
      expectNoSecret(finished, WRONG);
    });
  });
});
