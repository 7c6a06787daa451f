#!/usr/bin/env node
/**
 * The `roomcast` CLI: tokens, publications, history, rooms and a webhook listener
 * against a gateway, for trying a setup out and for scripts. Exit codes: 0 done,
 * 1 refused (by the gateway or a check), 2 a wrong command line.
 */
import { RoomcastApiError } from '../errors.js';
import { EXIT, UsageError, type CliIo } from './cli-io.js';
import { historyCommand, HISTORY_HELP } from './commands/history.js';
import { publishCommand, PUBLISH_HELP } from './commands/publish.js';
import { roomsCommand, ROOMS_HELP } from './commands/rooms.js';
import { tokenCommand, TOKEN_HELP } from './commands/token.js';
import { webhookCommand, WEBHOOK_HELP } from './commands/webhook-listen.js';

const HELP = `Usage: roomcast COMMAND [flags]    (roomcast COMMAND --help for its flags)

Commands:
  token            mint a connection token (JWT_SECRET)
  publish          publish into a room or rooms through the HTTP API
  history          read a room's history
  rooms            list the occupied rooms
  webhook listen   receive, verify and print webhook deliveries (WEBHOOK_SECRET)

The gateway: --url / ROOMCAST_URL, --api-key / ROOMCAST_API_KEY.
Exit codes: 0 done, 1 refused, 2 usage.`;

const USAGE: Record<string, string> = { token: TOKEN_HELP, publish: PUBLISH_HELP, history: HISTORY_HELP, rooms: ROOMS_HELP, webhook: WEBHOOK_HELP };

async function runCli(argv: string[], io: CliIo, stop: Promise<unknown>): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'token':
        return await tokenCommand(rest, io);
      case 'publish':
        return await publishCommand(rest, io);
      case 'history':
        return await historyCommand(rest, io);
      case 'rooms':
        return await roomsCommand(rest, io);
      case 'webhook':
        return await webhookCommand(rest, io, stop);
      case '--help':
      case '-h':
      case 'help':
        io.out(HELP);
        return EXIT.ok;
      default:
        io.err(command === undefined ? HELP : `roomcast: unknown command ${command}\n\n${HELP}`);
        return EXIT.usage;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`roomcast: ${error.message}\n\n${USAGE[command as string] ?? HELP}`);
      return EXIT.usage;
    }
    if (error instanceof RoomcastApiError) {
      io.err(`roomcast: ${error.code}: ${error.message}${error.unknown ? ` (outcome unknown: publish again with --idempotency-key ${error.idempotencyKeys[0] ?? ''})` : ''}`);
      return EXIT.refused;
    }
    io.err(`roomcast: ${(error as Error).message ?? String(error)}`);
    return EXIT.refused;
  }
}

const stop = new Promise((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
const io: CliIo = {
  env: process.env,
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};
process.exitCode = await runCli(process.argv.slice(2), io, stop);
// Pooled keep-alive connections and the signal listeners must not keep a finished command alive.
process.exit();
