/**
 * The process entry point: environment -> Config, the logger, signals.
 * SIGTERM/SIGINT drain the gateway (DRAIN_TIMEOUT_MS), close it and exit 0;
 * a second signal exits at once.
 */
import { ConfigError } from './config/config-error.js';
import { loadConfig } from './config/load.js';
import { startGateway } from './gateway.js';
import { createLogger } from './ops/logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`roomcast: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Libraries (Express among them) read NODE_ENV themselves and only know the exact "production":
  // make them agree with the gateway's reading (trimmed, case-insensitive).
  if (config.production) process.env.NODE_ENV = 'production';
  const logger = createLogger(config);
  if (config.jwt.key.kind === 'secret' && config.jwt.key.development) {
    logger.warn(
      { host: config.host },
      '*** DEVELOPMENT MODE: tokens are signed with a built-in secret and POST /dev/token mints them for anyone. ' +
        'It listens on 127.0.0.1 unless HOST is set. Set JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL before exposing this gateway. ***',
    );
  }
  const gateway = await startGateway({ config, logger }).catch((error: unknown) => {
    logger.fatal({ err: error }, 'gateway failed to start');
    process.exit(1);
  });
  logger.info(`Roomcast ready: ${gateway.url} (demo page at ${gateway.url}/)`);

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down: draining');
    // Whatever happens inside, the process ends shortly after the drain window.
    setTimeout(() => {
      logger.error('shutdown did not finish in time: exiting');
      process.exit(1);
    }, config.drainTimeoutMs + 10_000).unref();
    gateway
      .drain()
      .then(() => gateway.close())
      .then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

void main();
