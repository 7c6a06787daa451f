/**
 * A real NGINX in front of test gateways: runs from a temp dir (pid, logs and
 * temp paths inside it, so no root paths are touched), in the foreground, in its
 * own process group so that stopping it takes its workers along.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fitToFileLimit, hardFileLimit } from '../../nginx/file-limit.js';
import { renderNginxConfig, type NginxConfigOptions } from '../../nginx/generate-config.js';
import { freePort } from './free-port.js';
import { spawnServer, waitUntil, type Exit } from './server-process.js';

/**
 * Generator options; `listen` defaults to a free port, `prefixDir` is the helper's temp dir.
 * The per-address limits default to far above the production ones (every test client comes
 * from 127.0.0.1); tests of the limits themselves give them.
 */
export type StartNginxOptions = Omit<NginxConfigOptions, 'listen' | 'prefixDir'> & { listen?: number };

export interface NginxProcess {
  url: string;
  port: number;
  pid: number;
  dir: string;
  config: string;
  /** Settles when the master process exits. */
  exited: Promise<Exit>;
  /** error.log so far (the helper writes it inside `dir`). */
  errorLog(): Promise<string>;
  /** SIGTERM (fast shutdown) to the process group; SIGKILL after a timeout. Removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts NGINX with `config`: the text of an nginx.conf (its paths relative to
 * the temp dir it runs in, listening on `port`), or generator options.
 */
export async function startNginx(config: string | StartNginxOptions, settings: { port?: number; readyTimeoutMs?: number } = {}): Promise<NginxProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-nginx-'));
  // Workers of a root master run as `nobody`; they must be able to reach the temp paths in here.
  await chmod(dir, 0o755);
  const errorLogPath = join(dir, 'error.log');
  const configPath = join(dir, 'nginx.conf');
  try {
    let text: string;
    let port: number;
    if (typeof config === 'string') {
      text = config;
      port = settings.port ?? listenPortOf(config);
    } else {
      port = config.listen ?? settings.port ?? (await freePort());
      text = renderNginxConfig({ ...TEST_ADDRESS_LIMITS, ...config, ...fitLimits(config), listen: `127.0.0.1:${port}`, prefixDir: dir });
    }
    await writeFile(configPath, text);

    // Foreground, and a pid file we know: NGINX writes it only once it holds its listening sockets,
    // so a port that accepts because some other process listens there does not pass for ready.
    const pidPath = pidPathOf(text, dir);
    const globals = [/^\s*daemon\s/m.test(text) ? '' : 'daemon off;', pidPath === null ? `pid ${join(dir, 'nginx.pid')};` : ''].join(' ').trim();
    const pidFile = pidPath ?? join(dir, 'nginx.pid');
    const server = spawnServer('nginx', ['-p', dir, '-e', errorLogPath, '-c', configPath, ...(globals === '' ? [] : ['-g', globals])], { cwd: dir, group: true });
    const errorLog = (): Promise<string> => readFile(errorLogPath, 'utf8').catch(() => '');
    const ready = async (): Promise<boolean> => (await readFile(pidFile, 'utf8').catch(() => '')).trim() === String(server.pid) && (await accepts('127.0.0.1', port));
    try {
      await waitUntil(server, `nginx on 127.0.0.1:${port}`, ready, settings.readyTimeoutMs ?? 10_000);
    } catch (error) {
      await server.stop('SIGKILL');
      throw new Error(`${(error as Error).message}\nerror.log:\n${await errorLog()}`, { cause: error });
    }
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      pid: server.pid,
      dir,
      config: text,
      exited: server.exited,
      errorLog,
      stop: async () => {
        await server.stop('SIGTERM', 5_000);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Per-address limits for tests of other features: present (so every test runs through them), never reached. */
export const TEST_ADDRESS_LIMITS = { handshakeRatePerSecond: 100_000, handshakeBurst: 100_000, maxConnectionsPerAddress: 65_535 } as const;

/** Limits NGINX accepts unprivileged on this machine, unless the caller set them. */
function fitLimits(options: StartNginxOptions): Pick<NginxConfigOptions, 'workerConnections' | 'workerRlimitNofile' | 'workerProcesses'> {
  const wanted = {
    // Tests need a few hundred connections, not the production 200K.
    workerConnections: options.workerConnections ?? 4_096,
    ...(options.workerRlimitNofile === undefined ? {} : { workerRlimitNofile: options.workerRlimitNofile }),
  };
  // Two workers even on one CPU, so that tests cover connections spread over workers.
  return { ...fitToFileLimit(hardFileLimit(), wanted), workerProcesses: options.workerProcesses ?? 2 };
}

/** The `pid` directive's file (relative paths are relative to the prefix dir), or null when the config has none. */
function pidPathOf(config: string, dir: string): string | null {
  const match = /^\s*pid\s+([^\s;]+)\s*;/m.exec(config);
  if (match?.[1] === undefined) return null;
  return isAbsolute(match[1]) ? match[1] : join(dir, match[1]);
}

function listenPortOf(config: string): number {
  const match = /^\s*listen\s+(?:[^\s;]*:)?(\d+)[\s;]/m.exec(config);
  if (match === null) throw new Error('startNginx: no `listen` port in the config; pass settings.port');
  return Number(match[1]);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * `nginx -t` on the config rendered from `options` with a temp prefix dir: the
 * real parser's verdict (syntax, directive contexts, upstream references).
 */
export async function checkNginxConfig(options: Omit<NginxConfigOptions, 'prefixDir'>): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'roomcast-nginx-t-'));
  try {
    const configPath = join(dir, 'nginx.conf');
    await writeFile(configPath, renderNginxConfig({ ...options, prefixDir: dir }));
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile('nginx', ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', configPath], { encoding: 'utf8', timeout: 10_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, output: `${stdout}${stderr}` });
      });
    });
    return { ok: result.code === 0, output: result.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
