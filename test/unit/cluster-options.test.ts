/** What `npm run cluster` starts, from its flags and environment. */
import { expect } from 'chai';
import { parseClusterArgs } from '../../scripts/cluster-options.js';

describe('cluster script options', () => {
  it('defaults to 3 nodes, a started redis-server and free ports', () => {
    const command = parseClusterArgs([], {});
    expect(command).to.deep.include({ help: false, nodes: 3, listen: undefined, firstPort: undefined, redis: { kind: 'start-single' } });
  });

  it('passes gateway settings on, and nothing else of the environment', () => {
    const command = parseClusterArgs(['--nodes', '2', '--redis', 'none'], { JWT_SECRET: 's'.repeat(40), API_KEYS: 'k'.repeat(20), PATH: '/bin', HOME: '/root', PORT: '1' });
    if (command.help) throw new Error('unexpected help');
    expect(command).to.deep.include({ nodes: 2, redis: { kind: 'none' } });
    expect(command.nodeEnv).to.deep.equal({ LOG_LEVEL: 'info', JWT_SECRET: 's'.repeat(40), API_KEYS: 'k'.repeat(20) });
  });

  it('uses a Redis given in the environment instead of starting one', () => {
    expect(parseClusterArgs([], { REDIS_URL: 'redis://10.0.0.1:6379' })).to.deep.include({ redis: { kind: 'given', env: { REDIS_URL: 'redis://10.0.0.1:6379' } } });
    expect(parseClusterArgs(['--redis', 'none'], { REDIS_CLUSTER_NODES: 'a:1,b:2' })).to.deep.include({ redis: { kind: 'given', env: { REDIS_CLUSTER_NODES: 'a:1,b:2' } } });
    expect(parseClusterArgs([], { REDIS_CLUSTER_NODES: 'a:1', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' })).to.deep.include({
      redis: { kind: 'given', env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' } },
    });
    expect(() => parseClusterArgs([], { REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:1' })).to.throw(/not both/);
  });

  it('refuses bad flags', () => {
    expect(() => parseClusterArgs(['--redis', 'maybe'], {})).to.throw(/--redis/);
    expect(() => parseClusterArgs(['--nodes', '0'], {})).to.throw(/--nodes/);
    expect(() => parseClusterArgs(['--listen', '99999'], {})).to.throw(/--listen/);
    expect(() => parseClusterArgs(['--first-port', '65535', '--nodes', '3'], {})).to.throw(/--first-port/);
    expect(() => parseClusterArgs(['--nodez', '3'], {})).to.throw();
  });
});
