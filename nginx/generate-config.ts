/**
 * Renders a complete nginx.conf for N Roomcast gateway nodes. A pure function of
 * its options (no file system, no environment), so the CLI, the cluster script
 * and the tests all produce the same text from the same inputs.
 *
 * Stickiness: every node names its Engine.IO sessions `<NODE_ID>.<random>`, so
 * `$arg_sid` tells which node owns a session. A `map` sends each known prefix to
 * a one-server upstream for that node, and the id-less first request of a session
 * (and every other route) to a balanced upstream of all nodes. See nginx/README.md.
 *
 * The listener is public, so it also keeps the nodes' internal routes off it
 * (/metrics and /readyz answer 404; /dev/token too unless asked for), logs
 * without query strings (SSE and WebSocket-only clients carry `?token=`), bounds
 * new sessions and open connections per client address, and sends the nodes the
 * client address it saw, never one the client wrote.
 */

/** One gateway process as NGINX sees it. `id` is the NODE_ID it runs with. */
export interface GatewayNode {
  id: string;
  host: string;
  port: number;
}

export interface NginxConfigOptions {
  nodes: readonly GatewayNode[];
  /** Port, or `host:port`, NGINX listens on. */
  listen: number | string;
  /**
   * Absolute directory for the pid file, logs and temp paths, so NGINX runs
   * unprivileged from there. Unset: NGINX's compiled-in paths (/run, /var/log/nginx, /var/lib/nginx).
   */
  prefixDir?: string;
  /** `auto` (one per CPU) unless given. */
  workerProcesses?: number | 'auto';
  /** Per worker; the default holds every connection of {@link DEFAULT_MAX_CLIENTS} clients in one worker. */
  workerConnections?: number;
  /** Open files per worker; defaults to worker_connections plus room for logs and listeners. */
  workerRlimitNofile?: number;
  /** Largest request body; NGINX's own default (1m) is far above the gateway's limits. */
  clientMaxBodySize?: string;
  /** `user` directive, only meaningful when the master runs as root. Unset: not emitted. */
  user?: string;
  /** Access log path or `off`. Unset: `<prefixDir>/access.log`, or NGINX's default without a prefix dir. */
  accessLog?: string;
  /** The command line that produced the config, recorded in its header comment. */
  generatedBy?: string;
  /**
   * New sessions per second one client address may open: Engine.IO handshakes (a /socket.io/
   * request without `sid`, WebSocket-only connections included) and SSE streams (limit_req).
   * 0: no limit. Default {@link DEFAULT_HANDSHAKE_RATE_PER_S}.
   */
  handshakeRatePerSecond?: number;
  /** New sessions one address may open at once above that rate before it gets 429 (limit_req burst). Default {@link DEFAULT_HANDSHAKE_BURST}. */
  handshakeBurst?: number;
  /**
   * Connections one client address may hold open at once on /socket.io/ and /sse (WebSockets, SSE
   * streams, polling requests in progress; limit_conn). 0: no limit. Default {@link DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Addresses or CIDRs of load balancers in front of NGINX whose X-Forwarded-For is believed
   * (the realip module): the client address, for the limits, the log and the nodes, is then the
   * one they report. Unset: the peer's address, and a client's own X-Forwarded-For is dropped.
   */
  realIpFrom?: readonly string[];
  /** Proxy POST /dev/token, which only a node in development mode has. Default false: 404 here. */
  devToken?: boolean;
}

/** Clients the default limits are sized for. */
export const DEFAULT_MAX_CLIENTS = 100_000;
/**
 * Each proxied client holds two connections (client side and upstream side).
 * Sized so that one worker alone can hold all of them: with EPOLLEXCLUSIVE the
 * kernel does not spread accepted connections evenly over the workers, and
 * `auto` may mean a single worker on a small machine.
 */
export const DEFAULT_WORKER_CONNECTIONS = 2 * DEFAULT_MAX_CLIENTS + 4_800;
/** Files a worker opens besides its connections: log files, listening sockets, temp files. */
export const RLIMIT_RESERVE = 1_024;
/**
 * New sessions per second per client address. A NAT's worth of users reconnecting after a
 * node drains (spread over 60% of DRAIN_TIMEOUT_MS) stays under it; a script opening
 * sessions in a loop does not. Refused handshakes get 429 and the SDK retries with backoff.
 */
export const DEFAULT_HANDSHAKE_RATE_PER_S = 20;
/** Sessions one address may open at once beyond the rate: a page load, an office reconnecting after a blip. */
export const DEFAULT_HANDSHAKE_BURST = 200;
/** Open connections per client address: room for a large NAT, far below what fills a node. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1_000;
/** Shared-memory zones of the per-address limits: 10 MB holds some 160K addresses. */
const LIMIT_ZONE_SIZE = '10m';
/** The access log format: method, path without its query string ($uri, never $request or $args), no Referer. */
export const ACCESS_LOG_FORMAT = 'roomcast';

export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Host names and IPv4 addresses; NGINX would need brackets for IPv6, which the nodes do not use. */
const HOST_PATTERN = /^[A-Za-z0-9.-]+$/;
const SIZE_PATTERN = /^\d+[kKmMgG]?$/;
/** Paths are written unquoted, so keep them free of anything NGINX's parser treats specially. */
const PATH_PATTERN = /^\/[A-Za-z0-9._/+-]*$/;
/** An IPv4 or IPv6 address, with an optional prefix length. */
const CIDR_PATTERN = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:\/\d{1,3})?)$/;

/** Keep-alive to the nodes must end before Node's own idle timeout (5 s) closes the socket under NGINX. */
const UPSTREAM_KEEPALIVE_TIMEOUT = '4s';

/** Nodes `<prefix>1..<prefix>N` on `host:firstPort+0..N-1`, the layout `npm run cluster` starts. */
export function sequentialNodes(count: number, firstPort: number, host = '127.0.0.1', nodePrefix = 'node'): GatewayNode[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`node count must be a positive integer, got ${count}`);
  return Array.from({ length: count }, (_, index) => ({ id: `${nodePrefix}${index + 1}`, host, port: firstPort + index }));
}

export function upstreamNameForNode(nodeId: string): string {
  return `roomcast_node_${nodeId}`;
}

export const BALANCED_UPSTREAM = 'roomcast_all';
/** SSE streams have their own balancer: long streams counted with the sessions would skew where new sessions land. */
export const SSE_UPSTREAM = 'roomcast_sse';

export function renderNginxConfig(options: NginxConfigOptions): string {
  validate(options);
  const workerConnections = options.workerConnections ?? DEFAULT_WORKER_CONNECTIONS;
  const rlimit = options.workerRlimitNofile ?? workerConnections + RLIMIT_RESERVE;
  const prefix = options.prefixDir?.replace(/\/+$/, '');
  // Always set, with our format: NGINX's default format logs the whole request line, ?token= included.
  const accessLog = options.accessLog ?? (prefix === undefined ? '/var/log/nginx/access.log' : `${prefix}/access.log`);
  const rate = options.handshakeRatePerSecond ?? DEFAULT_HANDSHAKE_RATE_PER_S;
  const burst = options.handshakeBurst ?? DEFAULT_HANDSHAKE_BURST;
  const maxConns = options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  /** limit_req / limit_conn lines for the locations that open sessions. */
  const sessionLimits = [
    // NGINX refuses burst=0: without a burst every request over the rate is refused at once.
    ...(rate === 0 ? [] : [burst === 0 ? 'limit_req zone=roomcast_new_sessions;' : `limit_req zone=roomcast_new_sessions burst=${burst} nodelay;`]),
    ...(maxConns === 0 ? [] : [`limit_conn roomcast_conns_per_address ${maxConns};`]),
  ];

  const lines: string[] = [
    '# Roomcast: N gateway nodes behind NGINX, sticky per Engine.IO session.',
    `# Generated by ${options.generatedBy ?? 'nginx/generate-config.ts'}; regenerate rather than edit. See nginx/README.md.`,
    '',
    ...(options.user === undefined ? [] : [`user ${options.user};`]),
    `worker_processes ${options.workerProcesses ?? 'auto'};`,
    '# Every connection is a file descriptor: at least worker_connections, plus logs and listeners.',
    `worker_rlimit_nofile ${rlimit};`,
    '# A reload must not keep old workers alive for as long as their WebSockets last.',
    'worker_shutdown_timeout 30s;',
    ...(prefix === undefined ? [] : [`pid ${prefix}/nginx.pid;`, `error_log ${prefix}/error.log warn;`]),
    '',
    'events {',
    '    # Two per proxied client: the client connection and the one to its gateway node.',
    `    worker_connections ${workerConnections};`,
    '    multi_accept on;',
    '}',
    '',
    'http {',
    '    server_tokens off;',
    '',
    '    # No query strings ($uri, never $request, $request_uri or $args): SSE and WebSocket-only',
    '    # clients carry their token in `?token=`. No Referer either: a page URL may carry secrets.',
    `    log_format ${ACCESS_LOG_FORMAT} '$remote_addr [$time_local] "$request_method $uri $server_protocol" '`,
    `    ${' '.repeat(ACCESS_LOG_FORMAT.length + 12)}'$status $body_bytes_sent $request_time "$http_user_agent"';`,
    accessLog === 'off' ? '    access_log off;' : `    access_log ${accessLog} ${ACCESS_LOG_FORMAT};`,
    ...(prefix === undefined
      ? []
      : [
          '    # Temp paths in the prefix dir (NGINX creates them there): the compiled-in ones need root.',
          `    client_body_temp_path ${prefix}/client_body_temp;`,
          `    proxy_temp_path ${prefix}/proxy_temp;`,
          `    fastcgi_temp_path ${prefix}/fastcgi_temp;`,
          `    uwsgi_temp_path ${prefix}/uwsgi_temp;`,
          `    scgi_temp_path ${prefix}/scgi_temp;`,
        ]),
    '',
    '    # WebSocket upgrades pass `Connection: upgrade`; every other request sends no',
    '    # Connection header, so HTTP/1.1 keep-alive to the nodes stays on.',
    '    map $http_upgrade $connection_upgrade {',
    '        default upgrade;',
    "        ''      '';",
    '    }',
    '',
    ...(options.realIpFrom === undefined || options.realIpFrom.length === 0
      ? []
      : [
          '    # Load balancers in front: the client address is the one they put in X-Forwarded-For.',
          ...options.realIpFrom.map((cidr) => `    set_real_ip_from ${cidr};`),
          '    real_ip_header X-Forwarded-For;',
          '    real_ip_recursive on;',
          '',
        ]),
    ...(rate === 0 && maxConns === 0
      ? []
      : [
          '    # Per client address: new sessions (a /socket.io/ request without sid is a handshake; every',
          '    # /sse request is a new stream) and open connections. An empty key is not counted, so the',
          '    # requests of sessions already open (polling, the WebSocket upgrade) pass freely.',
          '    map $arg_sid $roomcast_new_session {',
          '        default \'\';',
          '        \'\'      $binary_remote_addr;',
          '    }',
          ...(rate === 0 ? [] : [`    limit_req_zone $roomcast_new_session zone=roomcast_new_sessions:${LIMIT_ZONE_SIZE} rate=${rate}r/s;`]),
          ...(maxConns === 0 ? [] : [`    limit_conn_zone $binary_remote_addr zone=roomcast_conns_per_address:${LIMIT_ZONE_SIZE};`]),
          '    # 429 like the gateway\'s own ACCEPT_RATE_PER_S; refusals show in the access log (without',
          '    # query strings), not in the error log, which would record the whole request line, ?token= included.',
          '    limit_req_status 429;',
          '    limit_conn_status 429;',
          '    limit_req_log_level info;',
          '    limit_conn_log_level info;',
          '',
        ]),
    '    # The sticky key: session ids are `<NODE_ID>.<random>`, so a session\'s polling',
    '    # requests and its WebSocket upgrade go to the node that created it. Requests',
    '    # without a known sid (the handshake, WebSocket-only clients, the HTTP API) are balanced.',
    '    map $arg_sid $roomcast_upstream {',
    `        default ${BALANCED_UPSTREAM};`,
    ...options.nodes.map((node) => `        ~^${node.id}\\. ${upstreamNameForNode(node.id)};`),
    '    }',
    '',
    '    # Every node; least_conn counts long-lived WebSockets, and the zone makes all',
    '    # workers share those counts. max_fails=0: a draining node answers 503, which',
    '    # proxy_next_upstream retries elsewhere; counting it as a failure would mark',
    '    # every node down in turn during a rolling restart ("no live upstreams").',
    `    upstream ${BALANCED_UPSTREAM} {`,
    '        least_conn;',
    `        zone ${BALANCED_UPSTREAM} 64k;`,
    ...options.nodes.map((node) => `        server ${node.host}:${node.port} max_fails=0;`),
    '        keepalive 64;',
    `        keepalive_timeout ${UPSTREAM_KEEPALIVE_TIMEOUT};`,
    '    }',
    '',
    '    # The same nodes for SSE streams, balanced on their own (see SSE_UPSTREAM).',
    `    upstream ${SSE_UPSTREAM} {`,
    '        least_conn;',
    `        zone ${SSE_UPSTREAM} 64k;`,
    ...options.nodes.map((node) => `        server ${node.host}:${node.port} max_fails=0;`),
    '        keepalive 16;',
    `        keepalive_timeout ${UPSTREAM_KEEPALIVE_TIMEOUT};`,
    '    }',
    ...options.nodes.flatMap((node) => [
      '',
      `    upstream ${upstreamNameForNode(node.id)} {`,
      `        server ${node.host}:${node.port};`,
      '        keepalive 16;',
      `        keepalive_timeout ${UPSTREAM_KEEPALIVE_TIMEOUT};`,
      '    }',
    ]),
    '',
    '    server {',
    `        listen ${options.listen};`,
    `        client_max_body_size ${options.clientMaxBodySize ?? '1m'};`,
    '',
    '        proxy_http_version 1.1;',
    '        proxy_set_header Upgrade $http_upgrade;',
    '        proxy_set_header Connection $connection_upgrade;',
    '        # $http_host keeps the port: the gateway compares it with the Origin of browser handshakes.',
    '        proxy_set_header Host $http_host;',
    '        # The client address NGINX saw (realip\'s, with trusted load balancers in front), never a list the',
    '        # client began itself: the nodes believe this header from their proxy for per-address limits and logs.',
    '        proxy_set_header X-Forwarded-For $remote_addr;',
    '        proxy_set_header X-Forwarded-Proto $scheme;',
    '        proxy_set_header X-Real-IP $remote_addr;',
    '        proxy_connect_timeout 5s;',
    '        # A long-polling GET is held for up to the ping interval and a WebSocket for',
    '        # hours; the gateway\'s heartbeat, not NGINX, decides when a peer is gone.',
    '        proxy_read_timeout 3600s;',
    '        proxy_send_timeout 3600s;',
    '        # Polling responses and SSE events must reach the client as soon as they are written.',
    '        proxy_buffering off;',
    '        # A draining, full or unreachable node refuses a new session with 503 (or not at all):',
    '        # the handshake (a GET without sid, so idempotent) is retried on another node.',
    '        proxy_next_upstream error timeout http_503;',
    '        proxy_next_upstream_tries 3;',
    '',
    '        # Liveness of the gateway tier: any node answers.',
    '        location = /healthz {',
    `            proxy_pass http://${BALANCED_UPSTREAM};`,
    '        }',
    '',
    '        # The nodes\' internal routes stay off this public listener: Prometheus scrapes each node\'s',
    '        # /metrics and health checks read its /readyz directly. Case-insensitive and with any',
    '        # trailing part, as the nodes\' router matches /Metrics and /metrics/ too.',
    '        location ~* ^/(?:metrics|readyz)(?:/.*)?$ {',
    '            return 404;',
    '        }',
    ...(options.devToken === true
      ? []
      : [
          '',
          '        # POST /dev/token mints tokens for anyone; only a development node has it, and never through here.',
          '        location ~* ^/dev(?:/.*)?$ {',
          '            return 404;',
          '        }',
        ]),
    '',
    '        # Server-Sent Events: one long response per stream, on any node (a stream needs no',
    '        # stickiness; it resumes anywhere with Last-Event-ID). Each event must leave at once:',
    '        # no buffering or caching, no gzip, and a read timeout far above the keep-alive',
    '        # comments (SSE_KEEPALIVE_MS) so an idle room does not cut the stream. Matched like the',
    '        # nodes\' router matches it (/SSE, /sse/), so no spelling escapes the limits.',
    '        location ~* ^/sse/*$ {',
    ...sessionLimits.map((line) => `            ${line}`),
    `            proxy_pass http://${SSE_UPSTREAM};`,
    '            proxy_buffering off;',
    '            proxy_cache off;',
    '            gzip off;',
    '            proxy_read_timeout 3600s;',
    '        }',
    '',
    '        # Socket.IO (Engine.IO matches this path exactly): by session, with the per-address limits.',
    '        location /socket.io/ {',
    ...sessionLimits.map((line) => `            ${line}`),
    '            proxy_pass http://$roomcast_upstream;',
    '        }',
    '',
    `        # Everything else (/api/, /status, the demo${options.devToken === true ? ', /dev/token' : ''}): by session.`,
    '        # Upstream names need no resolver, so a variable proxy_pass is fine here.',
    '        location / {',
    '            proxy_pass http://$roomcast_upstream;',
    '        }',
    '    }',
    '}',
    '',
  ];
  return lines.join('\n');
}

function validate(options: NginxConfigOptions): void {
  if (options.nodes.length === 0) throw new RangeError('at least one gateway node is required');
  const ids = new Set<string>();
  for (const node of options.nodes) {
    // The id is written into a regex and an upstream name unescaped; the gateway restricts NODE_ID the same way.
    if (!NODE_ID_PATTERN.test(node.id)) throw new RangeError(`node id "${node.id}" must be 1-64 characters of letters, digits, _ and -`);
    if (ids.has(node.id)) throw new RangeError(`node id "${node.id}" appears twice`);
    ids.add(node.id);
    if (!HOST_PATTERN.test(node.host)) throw new RangeError(`node host "${node.host}" is not a host name or IPv4 address`);
    checkPort(node.port, `port of node ${node.id}`);
  }
  checkListen(options.listen);
  if (options.prefixDir !== undefined) checkPath(options.prefixDir, 'prefix dir');
  if (options.accessLog !== undefined && options.accessLog !== 'off') checkPath(options.accessLog, 'access log');
  if (options.workerProcesses !== undefined && options.workerProcesses !== 'auto') checkPositive(options.workerProcesses, 'worker processes');
  if (options.workerConnections !== undefined) checkPositive(options.workerConnections, 'worker connections');
  if (options.workerRlimitNofile !== undefined) checkPositive(options.workerRlimitNofile, 'worker rlimit nofile');
  if (options.clientMaxBodySize !== undefined && !SIZE_PATTERN.test(options.clientMaxBodySize)) {
    throw new RangeError(`client max body size "${options.clientMaxBodySize}" must be a number with an optional k, m or g`);
  }
  if (options.user !== undefined && !/^[A-Za-z0-9_-]+( [A-Za-z0-9_-]+)?$/.test(options.user)) throw new RangeError(`user "${options.user}" is not a user (and group) name`);
  if (options.handshakeRatePerSecond !== undefined) checkNonNegative(options.handshakeRatePerSecond, 'handshake rate per second');
  if (options.handshakeBurst !== undefined) checkNonNegative(options.handshakeBurst, 'handshake burst');
  if (options.maxConnectionsPerAddress !== undefined) {
    checkNonNegative(options.maxConnectionsPerAddress, 'max connections per address');
    // NGINX's own ceiling for limit_conn.
    if (options.maxConnectionsPerAddress > 65_535) throw new RangeError(`max connections per address must be at most 65535 (0: no limit), got ${options.maxConnectionsPerAddress}`);
  }
  for (const cidr of options.realIpFrom ?? []) {
    if (!CIDR_PATTERN.test(cidr)) throw new RangeError(`real IP source "${cidr}" must be an IPv4 or IPv6 address or CIDR`);
  }
}

function checkNonNegative(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what} must be a whole number (0: no limit), got ${value}`);
}

function checkListen(listen: number | string): void {
  if (typeof listen === 'number') return checkPort(listen, 'listen port');
  const match = /^(?:([A-Za-z0-9.-]+):)?(\d+)$/.exec(listen);
  if (match === null) throw new RangeError(`listen "${listen}" must be a port or host:port`);
  checkPort(Number(match[2]), 'listen port');
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new RangeError(`${what} must be an integer from 1 to 65535, got ${port}`);
}

function checkPositive(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
}

function checkPath(path: string, what: string): void {
  if (!PATH_PATTERN.test(path)) throw new RangeError(`${what} "${path}" must be an absolute path of letters, digits and ._/+-`);
}
