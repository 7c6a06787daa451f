/**
 * The list of the gateway's settings (server/config/settings.ts) is what loadConfig
 * reads and what the README documents, and `npm run cluster` passes each one on
 * to its nodes except those it sets per node and the Redis ones.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../server/config/load.js';
import { GATEWAY_SETTINGS, PER_NODE_SETTINGS, REDIS_SETTINGS } from '../../server/config/settings.js';
import { parseClusterArgs, PASSED_SETTINGS } from '../../scripts/cluster-options.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** The names loadConfig looks up in `env`, whatever it finds. */
function namesRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  loadConfig(recording);
  return read;
}

describe('the gateway settings list', () => {
  it('is exactly what loadConfig reads (development, Redis Cluster with credentials, webhooks and proxies)', () => {
    const read = new Set<string>([
      ...namesRead({ LOG_LEVEL: 'silent' }),
      ...namesRead({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_USERNAME: 'u', REDIS_PASSWORD: 'p', REDIS_TLS: 'true', JWT_SECRET: 's'.repeat(40) }),
      ...namesRead({ WEBHOOK_URL: 'http://127.0.0.1:9/hook', WEBHOOK_SECRET: 'w'.repeat(32), CONNECT_PROXY_URL: 'http://127.0.0.1:9/c', ADMIN_TOKEN: 'a'.repeat(16) }),
    ]);
    expect([...read].sort()).to.deep.equal([...GATEWAY_SETTINGS].sort());
  });

  it('is the README\'s settings table, in its order', () => {
    const text = readFileSync(README, 'utf8');
    const start = text.indexOf('| variable | default | meaning |');
    expect(start).to.be.greaterThan(0);
    const rows = text.slice(start).split('\n').slice(2);
    const names = rows.slice(0, rows.findIndex((row) => !row.startsWith('|'))).map((row) => /^\| `([A-Z_]+)` \|/.exec(row)?.[1]);
    expect(names).to.deep.equal([...GATEWAY_SETTINGS]);
  });

  it('npm run cluster passes every one on, but PORT, HOST, NODE_ID (per node) and the Redis ones (which choose the Redis)', () => {
    expect([...PASSED_SETTINGS, ...PER_NODE_SETTINGS, ...REDIS_SETTINGS].sort()).to.deep.equal([...GATEWAY_SETTINGS].sort());
    const env = Object.fromEntries(GATEWAY_SETTINGS.map((name) => [name, `value-of-${name}`]));
    delete env.REDIS_URL; // REDIS_URL and REDIS_CLUSTER_NODES are exclusive
    const command = parseClusterArgs([], { ...env, PATH: '/bin', HOME: '/root' });
    if (command.help) throw new Error('unexpected help');
    expect(Object.keys(command.nodeEnv).sort()).to.deep.equal([...PASSED_SETTINGS].sort());
    for (const name of PASSED_SETTINGS) expect(command.nodeEnv[name], name).to.equal(`value-of-${name}`);
    expect(command.redis).to.deep.equal({
      kind: 'given',
      env: { REDIS_CLUSTER_NODES: 'value-of-REDIS_CLUSTER_NODES', REDIS_USERNAME: 'value-of-REDIS_USERNAME', REDIS_PASSWORD: 'value-of-REDIS_PASSWORD', REDIS_TLS: 'value-of-REDIS_TLS' },
    });
  });
});
