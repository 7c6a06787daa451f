/**
 * The Redis of deploy/ (compose and Kubernetes), run for real: a redis-server
 * started with the very arguments the deploy files give it (the password
 * substituted as compose and Kubernetes would), and a gateway connecting with
 * the REDIS_URL they give the gateways. Anonymous clients may PING (the
 * healthcheck and probe) and nothing else: no PUBLISH into the adapter's
 * channels (the forged `from: "admin"` message), no reading history. The ACL
 * user has every command the gateway sends and none of the dangerous others.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import { startGatewayProcess } from '../../tools/processes/gateway-process.js';
import { httpPublish } from '../support/gateway.js';
import { redisCommand } from '../../tools/processes/redis-command.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { assertOk, collectMessages, connect, request, waitFor } from '../support/sockets.js';
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { asArr, asObj, composeServices, DEPLOY, interpolate, read, workloads, type Obj } from './deploy-reader.js';

const PASSWORD = 'deploy-acl-password-5c0ffee1d2e3';
/** A user of this test only, to ask Redis about the others (ACL DRYRUN needs an admin). */
const ADMIN = ['--user', 'test-admin', 'on', '>test-admin-password-0123', '~*', '&*', '+@all'];

interface DeployedRedis {
  where: string;
  /** redis-server arguments, the password substituted. */
  args: string[];
  /** The gateways' REDIS_URL, the password substituted, host and port still the deploy's. */
  url: string;
  host: string;
}

function composeRedis(): DeployedRedis {
  const services = composeServices();
  const command = asArr((services.redis as Obj).command).map((word) => interpolate(String(word), 'REDIS_PASSWORD', PASSWORD));
  expect(command[0]).to.equal('redis-server');
  const env = asObj((services.node1 as Obj).environment, 'node1 environment');
  return { where: 'compose', args: command.slice(1), url: interpolate(String(env.REDIS_URL), 'REDIS_PASSWORD', PASSWORD), host: 'redis:6379' };
}

function kubernetesRedis(): DeployedRedis {
  const redis = workloads().find((w) => w.name === 'redis')?.podSpec as Obj;
  const container = asObj(asArr(redis.containers)[0], 'redis container');
  // Kubernetes expands $(VAR) in args from the container's env (REDIS_PASSWORD, from the Secret).
  const args = asArr(container.args).map((word) => String(word).replaceAll('$(REDIS_PASSWORD)', PASSWORD));
  // The REDIS_URL the operator puts in roomcast-secrets, as configmap.yaml tells them to.
  const documented = /REDIS_URL="([^"]+)"/.exec(read(join(DEPLOY, 'kubernetes', 'configmap.yaml')))?.[1] as string;
  expect(documented, 'configmap.yaml documents REDIS_URL').to.be.a('string');
  return { where: 'kubernetes', args, url: documented.replaceAll('$REDIS_PASSWORD', PASSWORD), host: 'redis.roomcast.svc.cluster.local:6379' };
}

async function refusal(redis: RedisProcess, args: string[]): Promise<string> {
  return redisCommand(redis.host, redis.port, args).then(
    (reply) => `accepted: ${reply}`,
    (error: Error) => error.message,
  );
}

async function dryRun(redis: RedisProcess, user: string, command: string[]): Promise<string> {
  return redisCommand(redis.host, redis.port, ['ACL', 'DRYRUN', user, ...command], 2_000, { username: 'test-admin', password: 'test-admin-password-0123' }).catch((error: Error) => error.message);
}

describe('deploy/ Redis ACL, run for real', function () {
  this.timeout(60_000);

  for (const deployed of [composeRedis, kubernetesRedis]) {
    describe(deployed.name === 'composeRedis' ? 'compose' : 'kubernetes', () => {
      let redis: RedisProcess;
      let config: DeployedRedis;
      before(async () => {
        config = deployed();
        redis = await startRedis({ extraArgs: [...config.args, ...ADMIN], auth: { username: 'test-admin', password: 'test-admin-password-0123' } });
      });
      after(async () => redis?.stop());

      it('anonymous clients may PING (the healthcheck) and nothing else: no PUBLISH into adapter channels, no history', async () => {
        expect(await redisCommand(redis.host, redis.port, ['PING'])).to.equal('PONG');
        expect(await refusal(redis, ['PUBLISH', 'socket.io#/#', '{"from":"admin"}'])).to.match(/NOPERM|NOAUTH/);
        expect(await refusal(redis, ['SPUBLISH', 'socket.io#/#room#', 'x'])).to.match(/NOPERM|NOAUTH/);
        expect(await refusal(redis, ['XRANGE', 'any-room-stream', '-', '+'])).to.match(/NOPERM|NOAUTH/);
        expect(await refusal(redis, ['KEYS', '*'])).to.match(/NOPERM|NOAUTH/);
      });

      it('the gateways\' user may run what the gateway sends, and none of the dangerous rest', async () => {
        const user = decodeURIComponent(new URL(config.url).username);
        for (const command of [
          ['PUBLISH', 'c', 'm'],
          ['SPUBLISH', 'c', 'm'],
          ['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', '1', 'k'],
          ['INFO', 'server'],
          ['CLIENT', 'LIST'],
          ['CLIENT', 'KILL', 'ID', '1'],
          ['CONFIG', 'GET', 'append*'],
          ['PUBSUB', 'NUMSUB', 'c'],
          ['XRANGE', 'k', '-', '+'],
        ]) {
          expect(await dryRun(redis, user, command), command.join(' ')).to.equal('OK');
        }
        for (const command of [['FLUSHALL'], ['CONFIG', 'SET', 'appendonly', 'no'], ['DEBUG', 'SLEEP', '0'], ['SHUTDOWN'], ['KEYS', '*'], ['ACL', 'LIST'], ['MONITOR'], ['REPLICAOF', 'NO', 'ONE']]) {
          expect(await dryRun(redis, user, command), command.join(' ')).not.to.equal('OK');
        }
      });

      it('a gateway with the REDIS_URL the deploy gives it works through that user: publish, deliver, history', async () => {
        const url = config.url.replace(`@${config.host}`, `@${redis.host}:${redis.port}`);
        expect(url, 'the deploy REDIS_URL points at the Redis service').not.to.equal(config.url);
        const node = await startGatewayProcess({ REDIS_URL: url, JWT_SECRET: TEST_JWT_SECRET, API_KEYS: TEST_API_KEY, DRAIN_TIMEOUT_MS: '500', LOG_LEVEL: 'debug' });
        try {
          const socket = await connect(node.url, await signToken(TEST_JWT_SECRET, { sub: 'acl', rooms: ['acl:*'] }), { transports: ['websocket'] });
          try {
            const messages = collectMessages(socket);
            assertOk(await request(socket, 'room:join', { room: 'acl:room' }));
            expect((await httpPublish(node.url, { room: 'acl:room', event: 'e', data: { n: 1 } })).status).to.equal(200);
            await waitFor(() => messages.length === 1, 5_000, 'the publication');
            const history = assertOk(await request(socket, 'room:history', { room: 'acl:room', limit: 10 }));
            expect(history.messages).to.have.length(1);
          } finally {
            socket.close();
          }
          expect((await fetch(`${node.url}/readyz`)).status).to.equal(200);
        } finally {
          const finished = await node.stop();
          expect(finished.code, finished.stderr).to.equal(0);
          expect(finished.stdout + finished.stderr, 'the password is never logged').not.to.include(PASSWORD);
          expect(finished.stdout + finished.stderr).not.to.match(/NOPERM/);
        }
      });
    });
  }
});
