/** Command-line flags of the config generator -> renderNginxConfig() options. Pure, so it is unit-tested. */
import { parseArgs } from 'node:util';
import {
  DEFAULT_HANDSHAKE_BURST,
  DEFAULT_HANDSHAKE_RATE_PER_S,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  sequentialNodes,
  type NginxConfigOptions,
} from './generate-config.js';

export const USAGE = `Usage: npm run nginx:config -- [options]

Prints an nginx.conf for N Roomcast gateway nodes on <host>:<first-port + i>,
named <node-prefix>1..N (their NODE_ID), sticky per Engine.IO session.

  --nodes N                   gateway nodes (default 3)
  --first-port PORT           port of the first node; the others follow (default 3001)
  --host HOST                 address of the nodes (default 127.0.0.1)
  --node-prefix PREFIX        node ids are PREFIX1..PREFIXN (default node)
  --listen [HOST:]PORT        where NGINX listens (default 8080)
  --prefix-dir DIR            absolute dir for pid, logs and temp files (unprivileged runs)
  --worker-processes N|auto   (default auto)
  --worker-connections N      per worker (default 204800: 100K proxied clients in one worker)
  --worker-rlimit-nofile N    open files per worker (default worker-connections + 1024)
  --client-max-body-size SIZE (default 1m)
  --access-log PATH|off       (default <prefix-dir>/access.log, else /var/log/nginx/access.log;
                              always in a format without query strings)
  --user USER [GROUP]         worker user when the master runs as root (default: not set)
  --handshake-rate N          new sessions (handshakes, SSE streams) per second per client
                              address; 0: no limit (default ${DEFAULT_HANDSHAKE_RATE_PER_S})
  --handshake-burst N         new sessions at once above that rate (default ${DEFAULT_HANDSHAKE_BURST})
  --max-conns-per-address N   open connections per client address on /socket.io/ and /sse;
                              0: no limit (default ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS})
  --real-ip-from CIDR[,CIDR]  load balancers in front whose X-Forwarded-For is believed
  --dev-token                 proxy POST /dev/token (development nodes only; default: 404)
  --out FILE                  write the config to FILE instead of stdout
  --help                      this text
`;

export type CliCommand = { help: true } | { help: false; options: NginxConfigOptions; out: string | undefined };

export function parseCliOptions(argv: readonly string[]): CliCommand {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      nodes: { type: 'string', default: '3' },
      'first-port': { type: 'string', default: '3001' },
      host: { type: 'string', default: '127.0.0.1' },
      'node-prefix': { type: 'string', default: 'node' },
      listen: { type: 'string', default: '8080' },
      'prefix-dir': { type: 'string' },
      'worker-processes': { type: 'string' },
      'worker-connections': { type: 'string' },
      'worker-rlimit-nofile': { type: 'string' },
      'client-max-body-size': { type: 'string' },
      'access-log': { type: 'string' },
      user: { type: 'string' },
      'handshake-rate': { type: 'string' },
      'handshake-burst': { type: 'string' },
      'max-conns-per-address': { type: 'string' },
      'real-ip-from': { type: 'string' },
      'dev-token': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return { help: true };

  const workerProcesses = values['worker-processes'];
  const options: NginxConfigOptions = {
    nodes: sequentialNodes(integer(values.nodes, '--nodes'), integer(values['first-port'], '--first-port'), values.host, values['node-prefix']),
    listen: /^\d+$/.test(values.listen) ? Number(values.listen) : values.listen,
    generatedBy: generatedBy(argv),
    ...(values['prefix-dir'] === undefined ? {} : { prefixDir: values['prefix-dir'] }),
    ...(workerProcesses === undefined ? {} : { workerProcesses: workerProcesses === 'auto' ? 'auto' : integer(workerProcesses, '--worker-processes') }),
    ...(values['worker-connections'] === undefined ? {} : { workerConnections: integer(values['worker-connections'], '--worker-connections') }),
    ...(values['worker-rlimit-nofile'] === undefined ? {} : { workerRlimitNofile: integer(values['worker-rlimit-nofile'], '--worker-rlimit-nofile') }),
    ...(values['client-max-body-size'] === undefined ? {} : { clientMaxBodySize: values['client-max-body-size'] }),
    ...(values['access-log'] === undefined ? {} : { accessLog: values['access-log'] }),
    ...(values.user === undefined ? {} : { user: values.user }),
    ...(values['handshake-rate'] === undefined ? {} : { handshakeRatePerSecond: integer(values['handshake-rate'], '--handshake-rate') }),
    ...(values['handshake-burst'] === undefined ? {} : { handshakeBurst: integer(values['handshake-burst'], '--handshake-burst') }),
    ...(values['max-conns-per-address'] === undefined ? {} : { maxConnectionsPerAddress: integer(values['max-conns-per-address'], '--max-conns-per-address') }),
    ...(values['real-ip-from'] === undefined ? {} : { realIpFrom: values['real-ip-from'].split(',').map((cidr) => cidr.trim()).filter((cidr) => cidr !== '') }),
    ...(values['dev-token'] ? { devToken: true } : {}),
  };
  return { help: false, options, out: values.out };
}

/** The command that reproduces this config, minus where it was written. */
function generatedBy(argv: readonly string[]): string {
  const flags = argv.filter((arg, index) => arg !== '--out' && argv[index - 1] !== '--out' && !arg.startsWith('--out='));
  return flags.length === 0 ? 'npm run nginx:config' : `npm run nginx:config -- ${flags.join(' ')}`;
}

function integer(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new RangeError(`${flag}: expected a whole number, got "${text}"`);
  return Number(text);
}
