/**
 * The helpers that start real redis-server and gateway processes: proven here,
 * so a failure elsewhere is about the code under test, not about its harness.
 */
import { expect } from 'chai';
import { freePort, freePortWithCompanion, isPortFree } from '../../tools/processes/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { isAlive } from '../../tools/processes/processes.js';
import { redisCommand } from '../../tools/processes/redis-command.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';

describe('test process helpers', function () {
  this.timeout(30_000);

  describe('free ports', () => {
    it('freePort() gives a port nothing listens on', async () => {
      const port = await freePort();
      expect(port).to.be.within(1, 65_535);
      expect(await isPortFree(port)).to.equal(true);
    });

    it('freePortWithCompanion() frees port and port + offset, below the ephemeral range', async () => {
      const port = await freePortWithCompanion(10_000);
      expect(port + 10_000).to.be.below(32_768);
      expect(await isPortFree(port + 10_000)).to.equal(true);
    });
  });

  describe('startRedis', () => {
    let redis: RedisProcess | undefined;
    afterEach(async () => {
      await redis?.stop();
      redis = undefined;
    });

    it('answers PING on its own port, and stop() ends the process', async () => {
      redis = await startRedis();
      expect(redis.url).to.equal(`redis://127.0.0.1:${redis.port}`);
      expect(await redisCommand(redis.host, redis.port, ['PING'])).to.equal('PONG');
      const { pid } = redis;
      await redis.stop();
      redis = undefined;
      expect(isAlive(pid)).to.equal(false);
    });

    it('restart() comes back on the same port with no data; kill() is a crash', async () => {
      redis = await startRedis();
      const { port, pid } = redis;
      expect(await redisCommand(redis.host, port, ['SET', 'k', 'v'])).to.equal('OK');
      await redis.restart();
      expect(redis.port).to.equal(port);
      expect(redis.pid).not.to.equal(pid);
      expect(isAlive(pid)).to.equal(false);
      expect(await redisCommand(redis.host, port, ['GET', 'k'])).to.equal('');
      expect(await redisCommand(redis.host, port, ['DBSIZE'])).to.equal('0');

      const current = redis.pid;
      await redis.kill();
      expect((await redis.exited).signal).to.equal('SIGKILL');
      expect(isAlive(current)).to.equal(false);
      await redis.restart();
      expect(await redisCommand(redis.host, port, ['PING'])).to.equal('PONG');
    });
  });

  describe('startRedisCluster', () => {
    let cluster: RedisCluster | undefined;
    after(async () => cluster?.stop());

    it('joins three masters that all report cluster_state:ok, with free bus ports', async () => {
      cluster = await startRedisCluster({ masters: 3 });
      expect(cluster.nodes).to.have.length(3);
      expect(cluster.envValue).to.equal(cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(','));
      for (const node of cluster.nodes) {
        const info = await redisCommand(node.host, node.port, ['CLUSTER', 'INFO']);
        expect(info).to.contain('cluster_state:ok');
        expect(info).to.contain('cluster_known_nodes:3');
        expect(info).to.contain('cluster_slots_assigned:16384');
      }
      const pids = cluster.nodes.map((node) => node.pid);
      await cluster.stop();
      cluster = undefined;
      expect(pids.filter(isAlive)).to.deep.equal([]);
    });
  });

  describe('startGatewayProcess', () => {
    let gateway: GatewayProcess | undefined;
    afterEach(async () => {
      await gateway?.kill();
      gateway = undefined;
    });

    it('starts node dist/server/main.js on a fixed free port with the given NODE_ID; stop() is SIGTERM and a clean exit', async () => {
      gateway = await startGatewayProcess({ NODE_ID: 'helper-node' });
      const health = (await (await fetch(`${gateway.url}/healthz`)).json()) as { node: string };
      expect(health.node).to.equal('helper-node');
      expect(gateway.nodeId).to.equal('helper-node');
      const finished = await gateway.stop();
      expect(finished.code).to.equal(0);
    });

    it('kill() is a crash, and a new process can take the same port', async () => {
      gateway = await startGatewayProcess();
      const { port } = gateway;
      const finished = await gateway.kill();
      expect(finished.signal).to.equal('SIGKILL');
      gateway = await startGatewayProcess({ PORT: String(port) });
      expect(gateway.port).to.equal(port);
    });

    it('fails with the reason when the gateway cannot start', async () => {
      const error = await startGatewayProcess({ PARSER: 'xml' }).then(
        () => null,
        (caught: unknown) => caught as Error,
      );
      expect(error?.message).to.match(/exited \(code 1/);
      expect(error?.message).to.contain('PARSER');
    });
  });
});
