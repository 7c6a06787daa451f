/**
 * The two helper extensions the chaos suite relies on: startCluster's
 * `redisArgs` (a Redis with an append-only file keeps its data across
 * restart()) and TestCluster.restartNode (same id, same port, same env).
 */
import { expect } from 'chai';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { redisCommand } from '../support/redis-command.js';

describe('chaos support: persistent Redis and node restarts', function () {
  this.timeout(30_000);
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('a Redis started with --appendonly yes keeps its data across a kill and restart()', async () => {
    cluster = await startCluster({ nodes: 1, redis: 'single', redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const redis = cluster.redis;
    if (redis === null) throw new Error('no redis');
    expect(await redisCommand(redis.host, redis.port, ['SET', 'kept', 'yes'])).to.equal('OK');
    await redis.kill();
    await redis.restart();
    expect(await redisCommand(redis.host, redis.port, ['GET', 'kept'])).to.equal('yes');
  });

  it('restartNode() starts a node again under the same id and port, after a SIGKILL or a SIGTERM', async () => {
    cluster = await startCluster({ nodes: 2, redis: 'single', env: { DRAIN_TIMEOUT_MS: '500' } });
    const before = cluster.nodes[1];
    if (before === undefined) throw new Error('no node 2');
    await before.kill();
    const afterKill = await cluster.restartNode(1, { signal: 'none' });
    expect(afterKill).to.include({ nodeId: before.nodeId, port: before.port });
    expect(afterKill.pid).not.to.equal(before.pid);
    expect(cluster.nodes[1]).to.equal(afterKill);

    const afterTerm = await cluster.restartNode(1);
    expect((await afterKill.exited).code).to.equal(0);
    expect(afterTerm).to.include({ nodeId: before.nodeId, port: before.port });
    const health = (await (await fetch(`${afterTerm.url}/healthz`)).json()) as { node?: string };
    expect(health.node).to.equal(before.nodeId);
  });
});
