/** The one structured logger of a node: pino JSON, or pretty lines for development. */
import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';

export type { Logger };

/** Paths that may carry credentials; pino replaces them so no token reaches a log line. */
const REDACTED_PATHS = [
  'token',
  '*.token',
  'auth.token',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'authorization',
  'apiKey',
];

export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty' | 'nodeId'>): Logger {
  return pino({
    level: config.logLevel,
    base: { node: config.nodeId },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(config.logPretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
