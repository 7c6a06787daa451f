/** The one structured logger of a node: pino JSON, or pretty lines for development. */
import { pino, type DestinationStream, type Logger } from 'pino';
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

/** `destination` replaces stdout (tests capture lines with it); pretty mode needs stdout. */
export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty' | 'nodeId'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { node: config.nodeId },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (destination !== undefined) return pino(options, destination);
  return pino({ ...options, ...(config.logPretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}) });
}
