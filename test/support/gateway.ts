/**
 * Starts a real gateway in this process on a free port, configured through the
 * same environment parsing as production, and closes it after the test.
 */
import { DEVELOPMENT_JWT_SECRET, isDevelopment, loadConfig } from '../../server/config/load.js';
import { startGateway as startGatewayNode, type Gateway } from '../../server/gateway.js';
import { createLogger } from '../../server/ops/logger.js';
import { TEST_PARSER } from './parser.js';
import { TEST_API_KEY, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

export { TEST_PARSER, TEST_SDK_PARSER } from './parser.js';

export interface TestGateway {
  url: string;
  port: number;
  apiKey: string;
  secret: string;
  gateway: Gateway;
  close(): Promise<void>;
}

/** Collects the gateway's log lines when given as `logs`. */
export interface LogCapture {
  lines: string[];
  write(line: string): void;
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line) };
}

export async function startGateway(env: Record<string, string> = {}, logs?: LogCapture): Promise<TestGateway> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_JWT_SECRET,
    API_KEYS: TEST_API_KEY,
    // Every test client comes from 127.0.0.1: the per-address limits are lifted for the tests of other features
    // (the attack tests set them, and send from other 127.0.0.x addresses).
    MAX_CONNECTIONS_PER_IP: '0',
    ACCEPT_RATE_PER_IP_PER_S: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    NODE_ID: 'test-node',
    // ROOMCAST_TEST_PARSER=msgpack: the protocol tests run against a msgpack gateway (see parser.ts).
    PARSER: TEST_PARSER,
    ...env,
  });
  const gateway = await startGatewayNode({ config, logger: createLogger(config, logs) });
  return { url: gateway.url, port: gateway.port, apiKey: TEST_API_KEY, secret: TEST_JWT_SECRET, gateway, close: () => gateway.close() };
}

/**
 * A gateway in development mode, as `npm start` runs it on a laptop: no JWT setting (JWT_SECRET empty counts as
 * unset), so tokens are signed with the built-in secret and POST /dev/token mints them. `secret` is that secret.
 */
export async function startDevGateway(env: Record<string, string> = {}, logs?: LogCapture): Promise<TestGateway> {
  const settings = { JWT_SECRET: '', ...env };
  if (!isDevelopment(settings)) throw new Error('startDevGateway: a JWT_* setting is given, which is not development mode');
  return { ...(await startGateway(settings, logs)), secret: DEVELOPMENT_JWT_SECRET };
}

/** POST /api/v1/publish with the test API key (or the given headers). */
export async function httpPublish(
  url: string,
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TEST_API_KEY}` },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/api/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
