/** `npm run nginx:config -- --nodes 3 ...`: prints (or with --out writes) an nginx.conf for N gateway nodes. */
import { writeFileSync } from 'node:fs';
import { renderNginxConfig } from './generate-config.js';
import { parseCliOptions, USAGE } from './cli-options.js';

function main(argv: readonly string[]): number {
  let command;
  let config;
  try {
    command = parseCliOptions(argv);
    if (command.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    config = renderNginxConfig(command.options);
  } catch (error) {
    process.stderr.write(`nginx:config: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (command.out === undefined) process.stdout.write(config);
  else {
    writeFileSync(command.out, config);
    process.stderr.write(`nginx:config: wrote ${command.out}\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
