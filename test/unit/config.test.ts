import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../server/config/config-error.js';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../server/config/load.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('applies the documented defaults and freezes the result', () => {
    const config = loadConfig({});
    // No JWT_* setting: development mode, which listens on loopback only.
    expect(config).to.deep.include({ port: 3000, host: '127.0.0.1', redisUrl: null, parser: 'json', drainTimeoutMs: 30_000, logLevel: 'info', production: false });
    expect(config.jwt.maxTtlSeconds).to.equal(86_400);
    expect(config.history).to.deep.equal({ size: 1000, ttlSeconds: 3600, maxBytes: 256 * 1024 * 1024 });
    expect(config.trustedProxies).to.deep.equal(['loopback']);
    expect(config.http).to.deep.equal({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, listenBacklog: 4096 });
    expect(config.heartbeat).to.deep.equal({ pingIntervalMs: 25_000, pingTimeoutMs: 20_000 });
    expect(config.limits).to.deep.equal({
      maxPayloadBytes: 65_536,
      maxRoomsPerSocket: 128,
      maxRoomMembers: 50_000,
      rateLimitPerSecond: 50,
      rateLimitBurst: 100,
      maxConnections: 0,
      maxConnectionsPerUser: 100,
      acceptRatePerSecond: 1000,
      memoryLimitBytes: 0,
      maxClientBufferBytes: 1_048_576,
      handshakeTimeoutMs: 5000,
      maxConnectionsPerIp: 1000,
      acceptRatePerIpPerSecond: 50,
      publishBytesPerUserPerSecond: 262_144,
    });
    expect(config.largeRooms).to.deep.equal({ presenceEventsMaxMembers: 100, slicedFanoutAbove: 10_000, fanoutSliceSize: 1000 });
    expect(config.nodeTtlMs).to.equal(15_000);
    expect(config.redisDurability).to.equal('lossy');
    expect(config.subscriptionReconcileMs).to.equal(5000);
    expect(config.adminToken).to.equal(null);
    expect(config.namespaces.map((ns) => [ns.name, ns.clientPublish])).to.deep.equal([
      ['/', true],
      ['/live', false],
    ]);
    expect(config.jwt.key).to.deep.include({ kind: 'secret', development: true });
    expect(new TextDecoder().decode((config.jwt.key as { secret: Uint8Array }).secret)).to.equal(DEVELOPMENT_JWT_SECRET);
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.limits)).to.equal(true);
    expect(Object.isFrozen(config.namespaces[0])).to.equal(true);
  });

  it('reads every setting', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      NODE_ID: 'n1',
      REDIS_URL: 'redis://127.0.0.1:6379',
      JWT_SECRET: 'x'.repeat(32),
      JWT_ISSUER: 'iss',
      JWT_AUDIENCE: 'aud',
      TOKEN_MAX_TTL_S: '900',
      API_KEYS: 'key-one-0123456789, key-two-0123456789',
      ADMIN_TOKEN: 'admin-token-0123456789',
      CORS_ORIGINS: 'https://a.example,http://localhost:5173',
      PARSER: 'msgpack',
      HISTORY_SIZE: '10',
      HISTORY_TTL_S: '20',
      HISTORY_MAX_BYTES: '1000000',
      HANDSHAKE_TIMEOUT_MS: '1500',
      MAX_CONNECTIONS_PER_IP: '21',
      ACCEPT_RATE_PER_IP_PER_S: '22',
      PUBLISH_BYTES_PER_USER_PER_S: '23000',
      TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7, ::1',
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_KEEPALIVE_TIMEOUT_MS: '4000',
      LISTEN_BACKLOG: '1024',
      MAX_PAYLOAD_BYTES: '1000',
      MAX_ROOMS_PER_SOCKET: '5',
      MAX_ROOM_MEMBERS: '6',
      RATE_LIMIT_PER_S: '7',
      RATE_LIMIT_BURST: '8',
      MAX_CONNECTIONS: '9',
      MAX_CONNECTIONS_PER_USER: '10',
      ACCEPT_RATE_PER_S: '11',
      MEMORY_LIMIT_MB: '12',
      MAX_CLIENT_BUFFER_BYTES: '13000',
      NODE_TTL_MS: '14000',
      PRESENCE_EVENTS_MAX_MEMBERS: '15',
      LARGE_ROOM_MEMBERS: '16',
      FANOUT_SLICE_SIZE: '17',
      PING_INTERVAL_MS: '9000',
      PING_TIMEOUT_MS: '10000',
      DRAIN_TIMEOUT_MS: '11000',
      LOG_LEVEL: 'debug',
    });
    expect(config).to.deep.include({ port: 8080, host: '127.0.0.1', nodeId: 'n1', parser: 'msgpack', drainTimeoutMs: 11_000, logLevel: 'debug' });
    expect(config.redisUrl).to.equal('redis://127.0.0.1:6379');
    expect(config.jwt).to.deep.include({ issuer: 'iss', audience: 'aud', maxTtlSeconds: 900 });
    expect(config.apiKeys).to.deep.equal(['key-one-0123456789', 'key-two-0123456789']);
    expect(config.adminToken).to.equal('admin-token-0123456789');
    expect(config.corsOrigins).to.deep.equal(['https://a.example', 'http://localhost:5173']);
    expect(config.history).to.deep.equal({ size: 10, ttlSeconds: 20, maxBytes: 1_000_000 });
    expect(config.trustedProxies).to.deep.equal(['10.0.0.0/8', '192.168.1.7', '::1']);
    expect(config.http).to.deep.equal({ headersTimeoutMs: 2000, requestTimeoutMs: 3000, keepAliveTimeoutMs: 4000, listenBacklog: 1024 });
    expect(config.limits).to.deep.equal({
      maxPayloadBytes: 1000,
      maxRoomsPerSocket: 5,
      maxRoomMembers: 6,
      rateLimitPerSecond: 7,
      rateLimitBurst: 8,
      maxConnections: 9,
      maxConnectionsPerUser: 10,
      acceptRatePerSecond: 11,
      memoryLimitBytes: 12 * 1024 * 1024,
      maxClientBufferBytes: 13_000,
      handshakeTimeoutMs: 1500,
      maxConnectionsPerIp: 21,
      acceptRatePerIpPerSecond: 22,
      publishBytesPerUserPerSecond: 23_000,
    });
    expect(config.largeRooms).to.deep.equal({ presenceEventsMaxMembers: 15, slicedFanoutAbove: 16, fanoutSliceSize: 17 });
    expect(config.nodeTtlMs).to.equal(14_000);
    expect(config.heartbeat).to.deep.equal({ pingIntervalMs: 9000, pingTimeoutMs: 10_000 });
  });

  it('accepts PRESENCE_EVENTS_MAX_MEMBERS=0 (no join/leave events) and refuses a zero slice or threshold', () => {
    expect(loadConfig({ PRESENCE_EVENTS_MAX_MEMBERS: '0' }).largeRooms.presenceEventsMaxMembers).to.equal(0);
    expect(configError({ PRESENCE_EVENTS_MAX_MEMBERS: '-1' }).variable).to.equal('PRESENCE_EVENTS_MAX_MEMBERS');
    expect(configError({ LARGE_ROOM_MEMBERS: '0' }).message).to.equal('LARGE_ROOM_MEMBERS: expected an integer from 1 to 10000000, got "0"');
    expect(configError({ FANOUT_SLICE_SIZE: '0' }).variable).to.equal('FANOUT_SLICE_SIZE');
    expect(configError({ FANOUT_SLICE_SIZE: 'many' }).variable).to.equal('FANOUT_SLICE_SIZE');
  });

  it('reads REDIS_DURABILITY (lossy or lossless) and SUBSCRIPTION_RECONCILE_MS, and refuses anything else', () => {
    expect(loadConfig({ REDIS_DURABILITY: 'lossless' }).redisDurability).to.equal('lossless');
    expect(configError({ REDIS_DURABILITY: 'always' }).message).to.equal('REDIS_DURABILITY: expected one of lossy, lossless, got "always"');
    expect(loadConfig({ SUBSCRIPTION_RECONCILE_MS: '250' }).subscriptionReconcileMs).to.equal(250);
    expect(configError({ SUBSCRIPTION_RECONCILE_MS: '99' }).variable).to.equal('SUBSCRIPTION_RECONCILE_MS');
  });

  it('reads TRUSTED_PROXIES as loopback, none, or addresses and CIDR ranges, and refuses anything else', () => {
    expect(loadConfig({ TRUSTED_PROXIES: 'none' }).trustedProxies).to.deep.equal([]);
    expect(loadConfig({ TRUSTED_PROXIES: 'loopback,10.1.0.0/16' }).trustedProxies).to.deep.equal(['loopback', '10.1.0.0/16']);
    for (const bad of ['nginx', '10.0.0.0/33', '10.0.0.1/8/1', '::1/129']) expect(configError({ TRUSTED_PROXIES: bad }).variable, bad).to.equal('TRUSTED_PROXIES');
  });

  it('parses REDIS_CLUSTER_NODES as host:port pairs', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).redisClusterNodes).to.deep.equal([
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
    ]);
  });

  it('reads REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS for REDIS_CLUSTER_NODES, refuses them beside REDIS_URL, and never echoes them', () => {
    expect(loadConfig({}).redisClusterAuth).to.deep.equal({ username: null, password: null, tls: false });
    const cluster = { REDIS_CLUSTER_NODES: 'a:7000' };
    expect(loadConfig({ ...cluster, REDIS_USERNAME: 'gw', REDIS_PASSWORD: 'pw-0123456789', REDIS_TLS: 'true' }).redisClusterAuth).to.deep.equal({ username: 'gw', password: 'pw-0123456789', tls: true });
    expect(loadConfig({ ...cluster, REDIS_PASSWORD: 'pw-0123456789' }).redisClusterAuth).to.deep.equal({ username: null, password: 'pw-0123456789', tls: false });
    expect(configError({ ...cluster, REDIS_TLS: 'yes' }).message).to.equal('REDIS_TLS: expected true or false, got "yes"');
    expect(configError({ ...cluster, REDIS_USERNAME: 'gw' }).variable).to.equal('REDIS_PASSWORD');
    // REDIS_URL carries its own credentials and TLS (rediss://); a second source would disagree silently.
    const beside = configError({ REDIS_URL: 'redis://a:1', REDIS_PASSWORD: 'pw-0123456789' });
    expect(beside.variable).to.equal('REDIS_PASSWORD');
    expect(beside.message).not.to.include('pw-0123456789');
    expect(configError({ REDIS_TLS: 'true' }).variable).to.equal('REDIS_TLS');
    expect(loadConfig({ REDIS_URL: 'rediss://gw:pw-0123456789@redis.example:6380' }).redisUrl).to.equal('rediss://gw:pw-0123456789@redis.example:6380');
    expect(configError({ REDIS_URL: 'redis://gw:pw-0123456789@bad host:1' }).message).not.to.include('pw-0123456789');
  });

  it('names the variable and what it accepts', () => {
    const error = configError({ PORT: 'eighty' });
    expect(error.variable).to.equal('PORT');
    expect(error.message).to.equal('PORT: expected an integer from 0 to 65535, got "eighty"');
    expect(configError({ PARSER: 'xml' }).message).to.contain('one of json, msgpack');
  });

  it('reads LISTEN_BACKLOG from 1 to 65535 (the kernel caps it at net.core.somaxconn)', () => {
    expect(loadConfig({ LISTEN_BACKLOG: '1' }).http.listenBacklog).to.equal(1);
    expect(loadConfig({ LISTEN_BACKLOG: '65535' }).http.listenBacklog).to.equal(65_535);
    expect(configError({ LISTEN_BACKLOG: '0' }).message).to.equal('LISTEN_BACKLOG: expected an integer from 1 to 65535, got "0"');
    expect(configError({ LISTEN_BACKLOG: '65536' }).variable).to.equal('LISTEN_BACKLOG');
  });

  it('keeps NODE_ID to characters that are safe in session ids and keys', () => {
    expect(loadConfig({ NODE_ID: 'node_1-a' }).nodeId).to.equal('node_1-a');
    expect(configError({ NODE_ID: 'node.1' }).variable).to.equal('NODE_ID');
    expect(loadConfig({}).nodeId).to.match(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it('refuses contradictory settings', () => {
    expect(configError({ JWT_SECRET: 'x'.repeat(32), JWKS_URL: 'https://keys.example/jwks.json' }).variable).to.equal('JWT_SECRET');
    expect(configError({ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:1' }).variable).to.equal('REDIS_URL');
  });

  it('refuses an ADMIN_TOKEN under 16 characters without echoing it, and a declared /admin namespace beside it', () => {
    const error = configError({ ADMIN_TOKEN: 'short-secret' });
    expect(error.message).to.equal('ADMIN_TOKEN: expected at least 16 characters');
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-config-'));
    const file = join(dir, 'admin.json');
    writeFileSync(file, JSON.stringify({ namespaces: [{ name: '/' }, { name: '/admin' }] }));
    expect(loadConfig({ NAMESPACES_FILE: file }).namespaces.map((rules) => rules.name)).to.deep.equal(['/', '/admin']);
    expect(configError({ NAMESPACES_FILE: file, ADMIN_TOKEN: 'x'.repeat(16) }).variable).to.equal('NAMESPACES_FILE');
  });

  it('refuses the development secret in production', () => {
    expect(configError({ NODE_ENV: 'production' }).variable).to.equal('JWT_SECRET');
  });

  describe('modes and token policy (issue 12)', () => {
    const secret = 'x'.repeat(32);
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

    it('reads NODE_ENV trimmed and case-insensitive: no spelling of production falls back to the development secret', () => {
      for (const value of ['production', 'Production', 'PRODUCTION', ' production', 'production ', '\tProduction\n']) {
        expect(configError({ NODE_ENV: value }).variable, JSON.stringify(value)).to.equal('JWT_SECRET');
        expect(loadConfig({ NODE_ENV: value, JWT_SECRET: secret }).production, JSON.stringify(value)).to.equal(true);
      }
      for (const value of ['development', 'test', 'productions', 'prod']) {
        expect(loadConfig({ NODE_ENV: value }).production, value).to.equal(false);
      }
    });

    it('runs development mode only without any JWT_* setting, and binds it to 127.0.0.1 unless HOST is set', () => {
      expect(loadConfig({}).host).to.equal('127.0.0.1');
      expect(loadConfig({ HOST: '0.0.0.0' }).host).to.equal('0.0.0.0');
      expect(loadConfig({ HOST: '::' }).host).to.equal('::');
      expect(loadConfig({ JWT_SECRET: secret }).host).to.equal('0.0.0.0');
      expect(loadConfig({ JWT_SECRET: secret }).jwt.key).to.deep.include({ kind: 'secret', development: false });
      // An issuer or audience without a key is a mistake, not a request for the public development secret.
      for (const env of [{ JWT_ISSUER: 'https://auth.example' }, { JWT_AUDIENCE: 'roomcast' }] as Array<Record<string, string>>) {
        const error = configError(env);
        expect(error.variable).to.equal('JWT_SECRET');
        expect(error.message).to.contain('without a key');
      }
    });

    it('takes JWKS_URL over https; http only to a loopback host outside production', () => {
      expect(loadConfig({ JWKS_URL: 'https://keys.example/jwks.json' }).jwt.key).to.deep.include({ kind: 'jwks' });
      expect(configError({ JWKS_URL: 'http://keys.example/jwks.json' }).variable).to.equal('JWKS_URL');
      expect(configError({ JWKS_URL: 'http://10.0.0.7/jwks.json' }).message).to.contain('https://');
      for (const local of ['http://127.0.0.1:9000/jwks.json', 'http://localhost/jwks.json', 'http://[::1]:9000/jwks.json']) {
        expect(loadConfig({ JWKS_URL: local }).jwt.key, local).to.deep.include({ kind: 'jwks' });
        expect(configError({ NODE_ENV: 'production', JWT_AUDIENCE: 'roomcast', JWKS_URL: local }).variable, local).to.equal('JWKS_URL');
      }
      expect(configError({ JWKS_URL: 'ftp://keys.example/jwks.json' }).variable).to.equal('JWKS_URL');
    });

    it('requires JWT_AUDIENCE with JWT_PUBLIC_KEY or JWKS_URL in production', () => {
      const jwks = { JWKS_URL: 'https://keys.example/jwks.json' };
      const pem = { JWT_PUBLIC_KEY: publicKey };
      for (const key of [jwks, pem]) {
        const error = configError({ NODE_ENV: 'production', ...key });
        expect(error.variable).to.equal('JWT_AUDIENCE');
        expect(loadConfig({ NODE_ENV: 'production', JWT_AUDIENCE: 'roomcast', ...key }).jwt.audience).to.equal('roomcast');
        // Outside production it stays optional (local tools, tests).
        expect(loadConfig(key).jwt.audience).to.equal(null);
      }
      // A shared secret is this gateway's own: no audience needed.
      expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret }).jwt.audience).to.equal(null);
    });

    it('reads TOKEN_MAX_TTL_S from 60 s to 30 days', () => {
      expect(loadConfig({ TOKEN_MAX_TTL_S: '60' }).jwt.maxTtlSeconds).to.equal(60);
      expect(loadConfig({ TOKEN_MAX_TTL_S: '2592000' }).jwt.maxTtlSeconds).to.equal(2_592_000);
      for (const value of ['59', '2592001', '0', 'forever']) {
        expect(configError({ TOKEN_MAX_TTL_S: value }).variable, value).to.equal('TOKEN_MAX_TTL_S');
      }
    });
  });

  it('refuses a public key that is not a PEM RSA/EC key', () => {
    expect(configError({ JWT_PUBLIC_KEY: 'not a key' }).variable).to.equal('JWT_PUBLIC_KEY');
  });

  it('reads NAMESPACES_FILE and reports where it is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-config-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ namespaces: [{ name: '/chat', publicRooms: ['lobby'] }] }));
    expect(loadConfig({ NAMESPACES_FILE: good }).namespaces).to.deep.equal([{ name: '/chat', clientPublish: true, presence: true, publicRooms: ['lobby'], webhookPublications: false }]);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ namespaces: [{ name: 'chat' }] }));
    const error = configError({ NAMESPACES_FILE: bad });
    expect(error.variable).to.equal('NAMESPACES_FILE');
    expect(error.message).to.contain('namespaces.0.name');
    const duplicate = join(dir, 'dup.json');
    writeFileSync(duplicate, JSON.stringify({ namespaces: [{ name: '/a' }, { name: '/a' }] }));
    expect(configError({ NAMESPACES_FILE: duplicate }).message).to.contain('unique');
  });

  describe('backend integration (issue 14)', () => {
    const secret = 's'.repeat(32);

    it('is off by default: no webhook, no proxy, no secret, the user room auto-joined', () => {
      const config = loadConfig({});
      expect(config.webhook).to.equal(null);
      expect(config.backendSecret).to.equal(null);
      expect(config.proxies).to.deep.equal({ connectUrl: null, joinUrl: null, publishUrl: null, timeoutMs: 3000 });
      expect(config.autoJoinUserRoom).to.equal(true);
    });

    it('reads WEBHOOK_URL, WEBHOOK_EVENTS, WEBHOOK_MAX_AGE_S, the proxy URLs, PROXY_TIMEOUT_MS and AUTO_JOIN_USER_ROOM', () => {
      const config = loadConfig({
        WEBHOOK_URL: 'https://backend.example/hooks',
        WEBHOOK_SECRET: secret,
        WEBHOOK_EVENTS: 'room.occupied,room.vacated',
        WEBHOOK_MAX_AGE_S: '600',
        CONNECT_PROXY_URL: 'http://127.0.0.1:9000/connect',
        JOIN_PROXY_URL: 'http://127.0.0.1:9000/join',
        PUBLISH_PROXY_URL: 'http://127.0.0.1:9000/publish',
        PROXY_TIMEOUT_MS: '500',
        AUTO_JOIN_USER_ROOM: 'false',
      });
      expect(config.webhook?.url.href).to.equal('https://backend.example/hooks');
      expect(config.webhook?.events).to.deep.equal(['room.occupied', 'room.vacated']);
      expect(config.webhook?.maxAgeSeconds).to.equal(600);
      expect(config.backendSecret).to.equal(secret);
      expect(config.proxies.publishUrl?.pathname).to.equal('/publish');
      expect(config.proxies.timeoutMs).to.equal(500);
      expect(config.autoJoinUserRoom).to.equal(false);
    });

    it('needs WEBHOOK_SECRET of 32+ characters with a webhook or a proxy, without echoing it', () => {
      expect(configError({ WEBHOOK_URL: 'http://127.0.0.1:1/h' }).variable).to.equal('WEBHOOK_SECRET');
      expect(configError({ JOIN_PROXY_URL: 'http://127.0.0.1:1/j' }).variable).to.equal('WEBHOOK_SECRET');
      const short = configError({ WEBHOOK_URL: 'http://127.0.0.1:1/h', WEBHOOK_SECRET: 'short-secret-value' });
      expect(short.variable).to.equal('WEBHOOK_SECRET');
      expect(short.message).not.to.contain('short-secret-value');
    });

    it('refuses an unknown event type, a non-http URL, and limits out of range', () => {
      expect(configError({ WEBHOOK_URL: 'http://127.0.0.1:1/h', WEBHOOK_SECRET: secret, WEBHOOK_EVENTS: 'room.occupied,room.burnt' }).message).to.contain('room.burnt');
      expect(configError({ WEBHOOK_URL: 'ftp://127.0.0.1/h', WEBHOOK_SECRET: secret }).variable).to.equal('WEBHOOK_URL');
      expect(configError({ PUBLISH_PROXY_URL: 'http://127.0.0.1:1/p', WEBHOOK_SECRET: secret, PROXY_TIMEOUT_MS: '9' }).variable).to.equal('PROXY_TIMEOUT_MS');
      expect(configError({ PUBLISH_PROXY_URL: 'http://127.0.0.1:1/p', WEBHOOK_SECRET: secret, PROXY_TIMEOUT_MS: '60001' }).variable).to.equal('PROXY_TIMEOUT_MS');
      expect(configError({ WEBHOOK_URL: 'http://127.0.0.1:1/h', WEBHOOK_SECRET: secret, WEBHOOK_MAX_AGE_S: '0' }).variable).to.equal('WEBHOOK_MAX_AGE_S');
    });

    it('reads the namespace rules webhookPublications and publishProxy (a URL or false), and a publishProxy URL needs the secret', () => {
      const dir = mkdtempSync(join(tmpdir(), 'roomcast-config-'));
      const file = join(dir, 'ns.json');
      writeFileSync(file, JSON.stringify({ namespaces: [{ name: '/chat', webhookPublications: true, publishProxy: 'http://127.0.0.1:9000/moderate' }, { name: '/feed', publishProxy: false }] }));
      const [chat, feed] = loadConfig({ NAMESPACES_FILE: file, WEBHOOK_SECRET: secret }).namespaces;
      expect(chat?.webhookPublications).to.equal(true);
      expect(chat?.publishProxy).to.equal('http://127.0.0.1:9000/moderate');
      expect(feed?.publishProxy).to.equal(false);
      expect(configError({ NAMESPACES_FILE: file }).variable).to.equal('WEBHOOK_SECRET');
      writeFileSync(file, JSON.stringify({ namespaces: [{ name: '/chat', publishProxy: 'ftp://x' }] }));
      expect(configError({ NAMESPACES_FILE: file, WEBHOOK_SECRET: secret }).message).to.contain('publishProxy');
    });
  });
});
