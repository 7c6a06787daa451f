/**
 * The internals Roomcast hooks, pinned. server/transports/socketio/adapter-taps.ts and
 * sliced-fanout.ts wrap socket.io-adapter's broadcast path and take over the
 * sharded Redis adapter's room subscriptions; server/backends/redis/sharded-pubsub.ts
 * reads node-redis's pub/sub bookkeeping. An upgrade that moves any of these
 * must fail here, with the name of what moved, before it silently breaks
 * delivery. Real Redis (single and Cluster), no mocks.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { expect } from 'chai';
import calculateSlot from 'cluster-key-slot';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import { Server, type Namespace } from 'socket.io';
import { MessageType } from 'socket.io-adapter';
import type { ChannelListener } from '../../server/core/room-channels.js';
import { shardedPubSubDriver, type ClusterInternals } from '../../server/backends/redis/sharded-pubsub.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from '../../tools/processes/redis-server.js';

const require = createRequire(import.meta.url);
const versionOf = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;

interface InMemoryInternals {
  rooms: Map<string, Set<string>>;
  sids: Map<string, Set<string>>;
  _encode(packet: unknown, packetOpts: unknown): unknown;
  apply(opts: unknown, callback: (socket: unknown) => void): void;
  addAll(id: string, rooms: Set<string>): void;
  del(id: string, room: string): void;
  delAll(id: string): void;
  broadcast(packet: unknown, opts: unknown): void;
  on(event: string, listener: (room: string) => void): unknown;
  listenerCount(event: string): number;
}

interface ShardedInternals extends InMemoryInternals {
  opts: { subscriptionMode: string };
  dynamicChannel(room: string): string;
  shouldUseASeparateNamespace(room: string): boolean;
  onRawMessage(message: Buffer, channel: Buffer): void;
  computeChannel(message: unknown): string;
  close(): Promise<void>;
}

describe('the adapter and client internals Roomcast hooks', function () {
  this.timeout(60_000);

  it('runs on the versions these internals were checked against (an upgrade must come with a look at this file)', () => {
    expect(versionOf('socket.io-adapter'), 'socket.io-adapter').to.match(/^2\.5\./);
    expect(versionOf('@socket.io/redis-adapter'), '@socket.io/redis-adapter').to.match(/^8\.3\./);
    expect(versionOf('@redis/client'), '@redis/client').to.match(/^5\./);
  });

  describe('socket.io-adapter (in memory)', () => {
    let io: Server;
    let adapter: InMemoryInternals;
    before(() => {
      io = new Server(createServer());
      adapter = io.of('/').adapter as unknown as InMemoryInternals;
    });
    after(() => io.close());

    it('broadcast() encodes once through _encode, then writes through apply (sliced fan-out and the SSE tap wrap both)', () => {
      const calls: string[] = [];
      const encode = adapter._encode.bind(adapter);
      const apply = adapter.apply.bind(adapter);
      adapter._encode = (packet, packetOpts) => {
        calls.push('_encode');
        return encode(packet, packetOpts);
      };
      adapter.apply = (opts, callback) => {
        calls.push('apply');
        apply(opts, callback);
      };
      adapter.broadcast({ type: 2, data: ['message', { room: 'r' }] }, { rooms: new Set(['r']), except: new Set(), flags: {} });
      expect(calls).to.deep.equal(['_encode', 'apply']);
    });

    it('create-room comes after the room is in `rooms` and the socket in `sids`; delete-room after the room left `rooms`', () => {
      const seen: string[] = [];
      adapter.on('create-room', (room) => seen.push(`create ${room} rooms=${adapter.rooms.has(room)} sids=${adapter.sids.has('sid-1')}`));
      adapter.on('delete-room', (room) => seen.push(`delete ${room} rooms=${adapter.rooms.has(room)} sids=${adapter.sids.has('sid-1')}`));
      adapter.addAll('sid-1', new Set(['sid-1', 'lobby']));
      adapter.del('sid-1', 'lobby');
      adapter.delAll('sid-1');
      expect(seen).to.deep.equal([
        'create sid-1 rooms=true sids=true',
        'create lobby rooms=true sids=true',
        'delete lobby rooms=false sids=true',
        // A socket's own room goes while the socket is still in `sids` (shouldUseASeparateNamespace tells it apart).
        'delete sid-1 rooms=false sids=true',
      ]);
    });
  });

  describe('@socket.io/redis-adapter on one Redis (classic)', () => {
    let redis: RedisProcess;
    let pub: RedisClientType;
    let sub: RedisClientType;
    let io: Server;
    before(async () => {
      redis = await startRedis();
      pub = createClient({ url: redis.url }) as RedisClientType;
      sub = pub.duplicate() as RedisClientType;
      await Promise.all([pub.connect(), sub.connect()]);
      io = new Server(createServer(), { adapter: createAdapter(pub, sub) });
    });
    after(async () => {
      await io.close();
      await Promise.all([pub.close(), sub.close()]).catch(() => undefined);
      await redis.stop();
    });

    it('has hasRoom(), which its onmessage consults before delivering a room broadcast (the SSE tap widens it)', () => {
      const adapter = io.of('/').adapter as unknown as { hasRoom?: (room: string) => boolean; onmessage: (...args: unknown[]) => unknown };
      expect(adapter.hasRoom, 'hasRoom').to.be.a('function');
      expect(adapter.onmessage.toString(), 'onmessage checks hasRoom').to.include('this.hasRoom(');
    });
  });

  describe('@socket.io/redis-adapter sharded, and node-redis on a Redis Cluster', () => {
    let cluster: RedisCluster;
    let pub: RedisClusterType;
    let sub: RedisClusterType;
    let io: Server;
    let adapter: ShardedInternals;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3 });
      pub = createCluster({ rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) }) as unknown as RedisClusterType;
      sub = pub.duplicate() as unknown as RedisClusterType;
      await pub.connect();
      await sub.connect();
      io = new Server(createServer(), { adapter: createShardedAdapter(pub, sub, { channelPrefix: 'pin', subscriptionMode: 'dynamic' }) });
      adapter = io.of('/').adapter as unknown as ShardedInternals;
    });
    after(async () => {
      await io.close();
      await Promise.all([pub.close(), sub.close()]).catch(() => undefined);
      await cluster.stop();
    });

    it('subscribes rooms through exactly one create-room and one delete-room listener of its own (RoomTaps removes them)', () => {
      const fresh = new (createShardedAdapter(pub, sub, { channelPrefix: 'pin2', subscriptionMode: 'dynamic' }) as unknown as new (nsp: Namespace) => ShardedInternals)(io.of('/other'));
      expect(fresh.listenerCount('create-room')).to.equal(1);
      expect(fresh.listenerCount('delete-room')).to.equal(1);
      void fresh.close();
    });

    it('names a room channel with dynamicChannel(), publishes a one-room broadcast there, and tells socket rooms apart', () => {
      expect(adapter.opts.subscriptionMode).to.equal('dynamic');
      expect(adapter.dynamicChannel('lobby')).to.equal('pin#/#lobby#');
      const broadcast = { type: MessageType.BROADCAST, data: { opts: { rooms: ['lobby'], except: [], flags: {} }, packet: {} } };
      expect(adapter.computeChannel(broadcast)).to.equal(adapter.dynamicChannel('lobby'));
      adapter.addAll('sid-2', new Set(['sid-2', 'lobby']));
      expect(adapter.shouldUseASeparateNamespace('lobby')).to.equal(true);
      expect(adapter.shouldUseASeparateNamespace('sid-2')).to.equal(false);
      adapter.delAll('sid-2');
    });

    it('onRawMessage(raw, channel) delivers a broadcast received on a room channel to the local members', async () => {
      expect(adapter.onRawMessage).to.be.a('function');
      const encoded: unknown[] = [];
      const encode = adapter._encode.bind(adapter);
      adapter._encode = (packet, packetOpts) => {
        encoded.push(packet);
        return encode(packet, packetOpts);
      };
      const message = { uid: 'another-node', nsp: '/', type: MessageType.BROADCAST, data: { opts: { rooms: ['lobby'], except: [], flags: {} }, packet: { type: 2, data: ['message', { room: 'lobby' }] } } };
      adapter.onRawMessage(Buffer.from(JSON.stringify(message)), Buffer.from(adapter.dynamicChannel('lobby')));
      expect(encoded).to.have.length(1);
    });

    it("node-redis keeps a sharded channel's listeners per master pub/sub client, added on the SSUBSCRIBE reply and removed on the SUNSUBSCRIBE reply", async () => {
      const internals = sub as unknown as ClusterInternals;
      const channel = 'pin#/#pinned-room#';
      const listener: ChannelListener = () => undefined;
      await sub.sSubscribe(channel, listener as never, true);
      const shard = internals.slots[calculateSlot(channel)]?.master.pubSub?.client;
      expect(shard, 'slots[slot].master.pubSub.client').to.not.equal(undefined);
      expect(shard?.isReady).to.equal(true);
      expect(shard?.getPubSubListeners('SHARDED').get(channel)?.buffers.has(listener)).to.equal(true);
      expect(internals.masters.some((master) => master.pubSub?.client === shard), 'masters[].pubSub').to.equal(true);
      const driver = shardedPubSubDriver(sub);
      expect(driver.isLive(channel, listener)).to.equal(true);
      expect(driver.subscribedChannels().get(channel)?.has(listener)).to.equal(true);
      await sub.sUnsubscribe(channel, listener as never, true);
      expect(driver.hasListener(channel, listener)).to.equal(false);
    });
  });
});
