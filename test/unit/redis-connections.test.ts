/** The node-redis options built from REDIS_CLUSTER_NODES + REDIS_USERNAME / REDIS_PASSWORD / REDIS_TLS. */
import { expect } from 'chai';
import { clusterOptions } from '../../server/backends/redis/redis-connections.js';
import { loadConfig } from '../../server/config/load.js';

describe('Redis Cluster connection options', () => {
  it('gives every node (listed and discovered) the credentials and TLS, and root nodes no URL that would turn TLS off', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_USERNAME: 'gw', REDIS_PASSWORD: 'pw-0123456789', REDIS_TLS: 'true' });
    const options = clusterOptions(config, { name: 'sub' }) as unknown as {
      rootNodes: Array<Record<string, unknown>>;
      defaults: { username?: string; password?: string; name?: string; socket: { tls?: boolean } };
    };
    expect(options.rootNodes).to.deep.equal([{ socket: { host: 'a', port: 7000 } }, { socket: { host: 'b', port: 7001 } }]);
    expect(options.defaults).to.deep.include({ username: 'gw', password: 'pw-0123456789', name: 'sub' });
    expect(options.defaults.socket.tls).to.equal(true);
  });

  it('sends no credentials and no TLS when none are configured', () => {
    const options = clusterOptions(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000' })) as unknown as { defaults: Record<string, unknown> & { socket: Record<string, unknown> } };
    expect(options.defaults).not.to.have.any.keys('username', 'password');
    expect(options.defaults.socket).not.to.have.key('tls');
  });
});
