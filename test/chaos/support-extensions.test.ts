/**
 * The helper extensions the chaos suite relies on: startCluster's `redisArgs`
 * (a Redis with an append-only file keeps its data across restart()),
 * TestCluster.restartNode (same id, same port, same env), a Redis restarted
 * from an older snapshot (the rollback fault), one Redis Cluster master killed
 * and restarted on its port and dir (the shard fault), and the reconnecting
 * SSE consumer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { connectTestRedisCluster } from '../../tools/processes/redis-client.js';
import { redisCommand } from '../../tools/processes/redis-command.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';
import { SseConsumer, type SseConsumerEvent } from '../support/sse-consumer.js';

const AOF_ALWAYS = ['--appendonly', 'yes', '--appendfsync', 'always'];

describe('chaos support: persistent Redis and node restarts', function () {
  this.timeout(40_000);
  let cluster: TestCluster | undefined;
  let redis: RedisProcess | undefined;
  let redisCluster: RedisCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    await redis?.stop();
    await redisCluster?.stop();
    cluster = undefined;
    redis = undefined;
    redisCluster = undefined;
  });

  it('a Redis started with --appendonly yes keeps its data across a kill and restart()', async () => {
    cluster = await startCluster({ nodes: 1, redis: 'single', redisArgs: AOF_ALWAYS });
    const single = cluster.redis;
    if (single === null) throw new Error('no redis');
    expect(await redisCommand(single.host, single.port, ['SET', 'kept', 'yes'])).to.equal('OK');
    await single.kill();
    await single.restart();
    expect(await redisCommand(single.host, single.port, ['GET', 'kept'])).to.equal('yes');
  });

  it('restart({ from: snapshot() }) brings Redis back as it was at the snapshot: later writes are gone', async () => {
    redis = await startRedis({ extraArgs: AOF_ALWAYS });
    await redisCommand(redis.host, redis.port, ['SET', 'before', '1']);
    const snapshot = await redis.snapshot();
    await redisCommand(redis.host, redis.port, ['SET', 'after', '2']);
    await redisCommand(redis.host, redis.port, ['INCR', 'before']);
    await redis.restart({ from: snapshot });
    expect(await redisCommand(redis.host, redis.port, ['GET', 'before'])).to.equal('1');
    expect(await redisCommand(redis.host, redis.port, ['EXISTS', 'after'])).to.equal('0');
    // A plain restart afterwards keeps what the restored server writes.
    await redisCommand(redis.host, redis.port, ['SET', 'after', '3']);
    await redis.restart();
    expect(await redisCommand(redis.host, redis.port, ['GET', 'after'])).to.equal('3');
  });

  it('a Redis Cluster master killed and restarted on its port and dir rejoins with its data (AOF), and a cluster client reads it again', async () => {
    redisCluster = await startRedisCluster({ extraArgs: AOF_ALWAYS });
    const client = await connectTestRedisCluster(redisCluster.nodes);
    const keys = Array.from({ length: 12 }, (_, index) => `k${index}`);
    try {
      for (const key of keys) await client.sendCommand(['SET', key, `v-${key}`]);
    } finally {
      await client.close();
    }
    const master = redisCluster.nodes[1];
    if (master === undefined) throw new Error('no master');
    const before = master.pid;
    await master.kill();
    await master.restart();
    expect(master.pid).not.to.equal(before);
    expect(await redisCommand(master.host, master.port, ['CLUSTER', 'INFO'])).to.include('cluster_state:ok');
    const again = await connectTestRedisCluster(redisCluster.nodes);
    try {
      for (const key of keys) expect(await again.sendCommand(['GET', key])).to.equal(`v-${key}`);
    } finally {
      await again.close();
    }
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

describe('chaos support: the reconnecting SSE consumer', function () {
  this.timeout(10_000);
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  it('parses events, follows retry:, and reconnects with Last-Event-ID after the stream ends, a refusal or a cut', async () => {
    const requests: Array<string | undefined> = [];
    server = createServer((req, res) => {
      requests.push(req.headers['last-event-id'] as string | undefined);
      const n = requests.length;
      if (n === 2) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"ok":false}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (n === 1) {
        // Split across writes, CRLF and a multi-line data field; a comment; then the server ends the stream.
        res.write('retry: 20\r\n\r\n: hello\n\nid: e:1\nevent: chat\ndata: {"a":');
        setTimeout(() => res.end('1}\ndata: x\n\nevent: position\ndata: {}\n\n'), 20);
      } else if (n === 3) {
        res.write('id: e:2\nevent: chat\ndata: two\n\n');
      } else res.write('id: e:3\nevent: chat\ndata: three\n\n');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const events: SseConsumerEvent[] = [];
    const ends: string[] = [];
    const consumer = new SseConsumer({
      url: `http://127.0.0.1:${port}/sse`,
      onEvent: (event) => events.push(event),
      onEnd: (end) => ends.push(end.kind === 'refused' ? `refused ${end.status}` : end.kind),
      failureDelayMs: 10,
    });
    consumer.start();
    const until = async (predicate: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify({ events, ends, requests })}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await until(() => events.some((event) => event.data === 'two'));
    expect(events.slice(0, 3)).to.deep.equal([
      { id: 'e:1', event: 'chat', data: '{"a":1}\nx' },
      { id: 'e:1', event: 'position', data: '{}' },
      { id: 'e:2', event: 'chat', data: 'two' },
    ]);
    expect(requests.slice(0, 3)).to.deep.equal([undefined, 'e:1', 'e:1']);
    expect(ends.slice(0, 2)).to.deep.equal(['ended', 'refused 503']);
    consumer.cut(0);
    await until(() => events.some((event) => event.data === 'three'));
    expect(requests[3]).to.equal('e:2');
    await consumer.close();
    expect(consumer.isOpen).to.equal(false);
    expect(ends.at(-1)).to.equal('error');
  });
});
