/** The NGINX config generator: what it routes where, its limits, its CLI, and the real `nginx -t` verdict. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseCliOptions } from '../../nginx/cli-options.js';
import { fitToFileLimit } from '../../nginx/file-limit.js';
import {
  DEFAULT_HANDSHAKE_BURST,
  DEFAULT_HANDSHAKE_RATE_PER_S,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_WORKER_CONNECTIONS,
  renderNginxConfig,
  sequentialNodes,
  type NginxConfigOptions,
} from '../../nginx/generate-config.js';
import { checkNginxConfig } from '../../tools/processes/nginx.js';

const EXAMPLE = fileURLToPath(new URL('../../../nginx/nginx.conf.example', import.meta.url));

const three: NginxConfigOptions = { nodes: sequentialNodes(3, 3001), listen: 8080 };

/** The body of the first block opened by `header` (e.g. `upstream roomcast_all`), without nested blocks. */
function block(config: string, header: string): string {
  const start = config.indexOf(`${header} {`);
  expect(start, `no block "${header}"`).to.be.at.least(0);
  const end = config.indexOf('}', start);
  return config.slice(start, end);
}

/** Directive lines (comments and blank lines dropped), trimmed. */
function directives(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

describe('nginx config generator', () => {
  it('maps each node id prefix of the session id to that node, and anything else to the balanced upstream', () => {
    const map = directives(block(renderNginxConfig(three), 'map $arg_sid $roomcast_upstream'));
    expect(map.slice(1)).to.deep.equal([
      'default roomcast_all;',
      '~^node1\\. roomcast_node_node1;',
      '~^node2\\. roomcast_node_node2;',
      '~^node3\\. roomcast_node_node3;',
    ]);
  });

  it('has one single-server upstream per node and a least_conn upstream of all nodes', () => {
    const config = renderNginxConfig(three);
    for (const [index, port] of [3001, 3002, 3003].entries()) {
      const servers = directives(block(config, `upstream roomcast_node_node${index + 1}`)).filter((line) => line.startsWith('server '));
      expect(servers).to.deep.equal([`server 127.0.0.1:${port};`]);
    }
    const all = directives(block(config, 'upstream roomcast_all'));
    expect(all).to.include('least_conn;');
    expect(all.some((line) => line.startsWith('zone roomcast_all '))).to.equal(true);
    expect(all.filter((line) => line.startsWith('server '))).to.have.length(3);
    // The load-balancing method must come before keepalive, or NGINX ignores it.
    expect(all.indexOf('least_conn;')).to.be.below(all.findIndex((line) => line.startsWith('keepalive ')));
  });

  it('node ids that are prefixes of each other do not collide: node1 never takes node10', () => {
    const config = renderNginxConfig({ nodes: sequentialNodes(10, 4000), listen: 8080 });
    const entries = directives(block(config, 'map $arg_sid $roomcast_upstream')).filter((line) => line.startsWith('~'));
    const route = (sid: string): string | undefined =>
      entries.map((line) => line.split(' ')).find(([pattern]) => new RegExp((pattern ?? '').slice(1)).test(sid))?.[1]?.replace(';', '');
    expect(route('node1.abc')).to.equal('roomcast_node_node1');
    expect(route('node10.abc')).to.equal('roomcast_node_node10');
    expect(route('node1x.abc')).to.equal(undefined);
  });

  it('proxies WebSockets: HTTP/1.1, Upgrade and Connection from a map, long timeouts, no buffering, forwarded headers', () => {
    const config = renderNginxConfig(three);
    expect(directives(block(config, 'map $http_upgrade $connection_upgrade')).slice(1)).to.deep.equal(['default upgrade;', "''      '';"]);
    const server = directives(config.slice(config.indexOf('server {')));
    for (const line of [
      'proxy_http_version 1.1;',
      'proxy_set_header Upgrade $http_upgrade;',
      'proxy_set_header Connection $connection_upgrade;',
      'proxy_set_header Host $http_host;',
      // The address NGINX saw, never a list the client began ($proxy_add_x_forwarded_for would keep a forged one).
      'proxy_set_header X-Forwarded-For $remote_addr;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_read_timeout 3600s;',
      'proxy_send_timeout 3600s;',
      'proxy_buffering off;',
      'listen 8080;',
    ]) {
      expect(server).to.include(line);
    }
  });

  it('passes /healthz to any node and everything else by session', () => {
    const config = renderNginxConfig(three);
    expect(directives(block(config, 'location = /healthz'))).to.include('proxy_pass http://roomcast_all;');
    expect(directives(block(config, 'location /'))).to.include('proxy_pass http://$roomcast_upstream;');
  });

  it('passes /sse to any node with buffering off and a long read timeout', () => {
    const sse = directives(block(renderNginxConfig(three), 'location ~* ^/sse/*$'));
    // Its own balancer: long streams counted with the sessions would skew where new sessions land.
    expect(sse).to.include.members(['proxy_pass http://roomcast_sse;', 'proxy_buffering off;', 'proxy_cache off;', 'gzip off;', 'proxy_read_timeout 3600s;']);
  });

  it('defaults to limits for 100K proxied clients, and takes lower ones', () => {
    const defaults = directives(renderNginxConfig(three));
    expect(DEFAULT_WORKER_CONNECTIONS).to.be.at.least(2 * 100_000);
    expect(defaults).to.include('worker_processes auto;');
    expect(defaults).to.include(`worker_connections ${DEFAULT_WORKER_CONNECTIONS};`);
    const rlimit = Number(/^worker_rlimit_nofile (\d+);$/.exec(defaults.find((line) => line.startsWith('worker_rlimit_nofile')) ?? '')?.[1]);
    expect(rlimit).to.be.above(DEFAULT_WORKER_CONNECTIONS);
    const lowered = directives(renderNginxConfig({ ...three, workerConnections: 4096, workerRlimitNofile: 8192, workerProcesses: 2 }));
    expect(lowered).to.include.members(['worker_connections 4096;', 'worker_rlimit_nofile 8192;', 'worker_processes 2;']);
  });

  it('puts pid, logs and temp paths in the prefix dir, and leaves them to NGINX without one', () => {
    const prefixed = directives(renderNginxConfig({ ...three, prefixDir: '/tmp/rc/' }));
    expect(prefixed).to.include.members(['pid /tmp/rc/nginx.pid;', 'error_log /tmp/rc/error.log warn;', 'access_log /tmp/rc/access.log roomcast;', 'proxy_temp_path /tmp/rc/proxy_temp;', 'client_body_temp_path /tmp/rc/client_body_temp;']);
    const plain = renderNginxConfig(three);
    expect(plain).not.to.match(/^\s*(pid|error_log|proxy_temp_path)\s/m);
    // The access log is always set, in a format without query strings (NGINX's default logs ?token=).
    expect(directives(plain)).to.include('access_log /var/log/nginx/access.log roomcast;');
  });

  it('keeps /metrics, /readyz and /dev/token off the public listener, in any spelling the nodes\' router accepts', () => {
    const config = renderNginxConfig(three);
    const internal = directives(block(config, 'location ~* ^/(?:metrics|readyz)(?:/.*)?$'));
    expect(internal).to.include('return 404;');
    expect(directives(block(config, 'location ~* ^/dev(?:/.*)?$'))).to.include('return 404;');
    const pattern = /^\/(?:metrics|readyz)(?:\/.*)?$/i;
    for (const path of ['/metrics', '/Metrics', '/METRICS/', '/metrics/x', '/readyz', '/ReadyZ/']) expect(pattern.test(path), path).to.equal(true);
    for (const path of ['/metricsx', '/status', '/healthz', '/socket.io/']) expect(pattern.test(path), path).to.equal(false);
    // Only a development cluster proxies /dev/token, which only a development node has.
    const development = renderNginxConfig({ ...three, devToken: true });
    expect(development).not.to.include('location ~* ^/dev');
    expect(development).to.include('location ~* ^/(?:metrics|readyz)(?:/.*)?$');
  });

  it('logs without query strings or Referer: every access_log uses a format of $uri, never $request, $request_uri or $args', () => {
    for (const options of [three, { ...three, prefixDir: '/tmp/rc' }, { ...three, accessLog: '/var/log/rc.log' }]) {
      const config = renderNginxConfig(options);
      const formats = [...config.matchAll(/^\s*log_format\s+(\S+)\s+([\s\S]*?);$/gm)].map((m) => ({ name: m[1], text: m[2] ?? '' }));
      expect(formats.map((f) => f.name)).to.deep.equal(['roomcast']);
      expect(formats[0]?.text).to.include('$uri');
      expect(formats[0]?.text).not.to.match(/\$(?:request\b|request_uri|args|query_string|arg_|http_referer|is_args)/);
      const logs = directives(config).filter((line) => line.startsWith('access_log '));
      expect(logs.length).to.be.greaterThan(0);
      for (const line of logs) expect(line, line).to.match(/ roomcast;$|^access_log off;$/);
    }
  });

  it('limits new sessions and open connections per client address on /socket.io/ and /sse, not on the API', () => {
    const config = renderNginxConfig(three);
    const all = directives(config);
    expect(all).to.include(`limit_req_zone $roomcast_new_session zone=roomcast_new_sessions:10m rate=${DEFAULT_HANDSHAKE_RATE_PER_S}r/s;`);
    expect(all).to.include('limit_conn_zone $binary_remote_addr zone=roomcast_conns_per_address:10m;');
    expect(all).to.include.members(['limit_req_status 429;', 'limit_conn_status 429;']);
    // The rate counts requests without sid (handshakes, SSE streams) only: the key is empty otherwise.
    expect(directives(block(config, 'map $arg_sid $roomcast_new_session')).slice(1)).to.deep.equal(["default '';", "''      $binary_remote_addr;"]);
    const limits = [`limit_req zone=roomcast_new_sessions burst=${DEFAULT_HANDSHAKE_BURST} nodelay;`, `limit_conn roomcast_conns_per_address ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS};`];
    expect(directives(block(config, 'location /socket.io/'))).to.include.members(limits);
    expect(directives(block(config, 'location ~* ^/sse/*$'))).to.include.members(limits);
    expect(directives(block(config, 'location /')).some((line) => line.startsWith('limit_'))).to.equal(false);

    const custom = directives(renderNginxConfig({ ...three, handshakeRatePerSecond: 5, handshakeBurst: 7, maxConnectionsPerAddress: 9 }));
    expect(custom).to.include.members(['limit_req zone=roomcast_new_sessions burst=7 nodelay;', 'limit_conn roomcast_conns_per_address 9;']);
    expect(custom.some((line) => line.endsWith('rate=5r/s;'))).to.equal(true);
    const off = renderNginxConfig({ ...three, handshakeRatePerSecond: 0, maxConnectionsPerAddress: 0 });
    expect(off).not.to.match(/^\s*limit_(req|conn)(_zone)?\s/m);
  });

  it('believes X-Forwarded-For only from the load balancers it is told of', () => {
    expect(renderNginxConfig(three)).not.to.match(/set_real_ip_from|real_ip_header/);
    const behind = directives(renderNginxConfig({ ...three, realIpFrom: ['10.0.0.0/8', 'fd00::/8'] }));
    expect(behind).to.include.members(['set_real_ip_from 10.0.0.0/8;', 'set_real_ip_from fd00::/8;', 'real_ip_header X-Forwarded-For;', 'real_ip_recursive on;']);
  });

  it('refuses options that would produce a broken or unsafe config', () => {
    const bad: Array<Partial<NginxConfigOptions>> = [
      { nodes: [] },
      { nodes: [{ id: 'node.1', host: '127.0.0.1', port: 3001 }] },
      { nodes: [{ id: 'a;b', host: '127.0.0.1', port: 3001 }] },
      { nodes: [...sequentialNodes(1, 3001), ...sequentialNodes(1, 3002)] },
      { nodes: [{ id: 'n', host: '127.0.0.1', port: 70_000 }] },
      { nodes: [{ id: 'n', host: 'x y', port: 3001 }] },
      { listen: 'not a port' },
      { prefixDir: 'relative/dir' },
      { prefixDir: '/tmp/a b' },
      { workerConnections: 0 },
      { clientMaxBodySize: '1 TB' },
      { handshakeRatePerSecond: -1 },
      { handshakeBurst: 1.5 },
      { maxConnectionsPerAddress: -5 },
      { maxConnectionsPerAddress: 65_536 },
      { realIpFrom: ['10.0.0.0/8; deny all'] },
    ];
    for (const options of bad) {
      expect(() => renderNginxConfig({ ...three, ...options }), JSON.stringify(options)).to.throw(RangeError);
    }
  });

  it('names nodes <prefix>1..N on consecutive ports, as the cluster script starts them', () => {
    expect(sequentialNodes(2, 5000, '10.0.0.5', 'gw-')).to.deep.equal([
      { id: 'gw-1', host: '10.0.0.5', port: 5000 },
      { id: 'gw-2', host: '10.0.0.5', port: 5001 },
    ]);
  });

  it('nginx/nginx.conf.example is what the generator prints with its defaults', () => {
    const command = parseCliOptions([]);
    if (command.help) throw new Error('unexpected help');
    expect(readFileSync(EXAMPLE, 'utf8')).to.equal(renderNginxConfig(command.options));
  });

  describe('command line', () => {
    it('turns the documented flags into options', () => {
      const command = parseCliOptions(['--nodes', '2', '--first-port', '4001', '--listen', '127.0.0.1:9090', '--node-prefix', 'edge', '--host', '10.1.2.3', '--prefix-dir', '/tmp/x', '--worker-connections', '1024', '--worker-processes', '4']);
      if (command.help) throw new Error('unexpected help');
      expect(command.options).to.deep.include({
        nodes: [
          { id: 'edge1', host: '10.1.2.3', port: 4001 },
          { id: 'edge2', host: '10.1.2.3', port: 4002 },
        ],
        listen: '127.0.0.1:9090',
        prefixDir: '/tmp/x',
        workerConnections: 1024,
        workerProcesses: 4,
      });
      expect(command.out).to.equal(undefined);
      const limits = parseCliOptions(['--handshake-rate', '5', '--handshake-burst', '50', '--max-conns-per-address', '0', '--real-ip-from', '10.0.0.0/8, 172.16.0.0/12', '--dev-token']);
      if (limits.help) throw new Error('unexpected help');
      expect(limits.options).to.deep.include({ handshakeRatePerSecond: 5, handshakeBurst: 50, maxConnectionsPerAddress: 0, realIpFrom: ['10.0.0.0/8', '172.16.0.0/12'], devToken: true });
      const defaults = parseCliOptions([]);
      if (defaults.help) throw new Error('unexpected help');
      expect(defaults.options).not.to.have.any.keys('devToken', 'handshakeRatePerSecond', 'maxConnectionsPerAddress');
    });

    it('refuses unknown flags and malformed numbers', () => {
      expect(() => parseCliOptions(['--nodez', '3'])).to.throw();
      expect(() => parseCliOptions(['--nodes', 'three'])).to.throw(/--nodes/);
      expect(() => parseCliOptions(['--nodes', '0'])).to.throw(RangeError);
    });
  });

  describe('file limits', () => {
    it('keeps the production defaults when the machine allows them', () => {
      expect(fitToFileLimit(Infinity)).to.deep.equal({ workerConnections: DEFAULT_WORKER_CONNECTIONS, workerRlimitNofile: DEFAULT_WORKER_CONNECTIONS + 1024 });
    });

    it('cuts them to a hard limit NGINX cannot raise unprivileged, leaving room for files', () => {
      expect(fitToFileLimit(20_000)).to.deep.equal({ workerConnections: 18_976, workerRlimitNofile: 20_000 });
      expect(fitToFileLimit(20_000, { workerConnections: 4096 })).to.deep.equal({ workerConnections: 4096, workerRlimitNofile: 5120 });
      expect(() => fitToFileLimit(512)).to.throw(RangeError);
    });
  });

  describe('nginx -t (the real parser)', function () {
    this.timeout(20_000);

    it('accepts the production defaults for 3 nodes, without warnings', async () => {
      const { ok, output } = await checkNginxConfig(three);
      expect(ok, output).to.equal(true);
      expect(output).to.contain('syntax is ok');
      expect(output).not.to.match(/\[(warn|alert|emerg)\]/);
    });

    it('accepts one node, many nodes, host:port listen and every option', async () => {
      for (const options of [
        { nodes: sequentialNodes(1, 3001), listen: 8080 },
        { nodes: sequentialNodes(16, 3001, '127.0.0.1', 'roomcast-node_'), listen: '127.0.0.1:8080', workerProcesses: 2, workerConnections: 1024, workerRlimitNofile: 4096, clientMaxBodySize: '256k', accessLog: 'off' },
        { nodes: sequentialNodes(2, 3001), listen: 8080, handshakeRatePerSecond: 3, handshakeBurst: 0, maxConnectionsPerAddress: 2, realIpFrom: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], devToken: true },
        { nodes: sequentialNodes(2, 3001), listen: 8080, handshakeRatePerSecond: 0, maxConnectionsPerAddress: 0 },
      ] satisfies Array<Omit<NginxConfigOptions, 'prefixDir'>>) {
        const { ok, output } = await checkNginxConfig(options);
        expect(ok, output).to.equal(true);
        expect(output).not.to.match(/\[(warn|alert|emerg)\]/);
      }
    });
  });
});
