/**
 * `npm run test:msgpack`: the protocol-level integration tests again, against
 * gateways started with PARSER=msgpack and with msgpack clients
 * (ROOMCAST_TEST_PARSER=msgpack, read by test/support/parser.ts). Run after the
 * build. Cluster, chaos, NGINX and bench tests are left out: the parser changes
 * nothing there that these do not cover. hostile-input.test.ts is left out too:
 * its raw frames are Socket.IO's JSON text encoding by construction (msgpack input
 * has its own cases in msgpack-input.test.ts, which the main suite runs).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MSGPACK_TEST_FILES = [
  'protocol',
  'publish',
  'rooms',
  'replay',
  'limits',
  'bounded-reads',
  'auth',
  'client',
  'client-sdk',
  'signal',
  // The session event and the rooms the server joins at connect, recovered by the SDK.
  'server-subscriptions',
].map((name) => join('dist', 'test', 'integration', `${name}.test.js`));

const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const child = spawn(process.execPath, [mocha, '--no-config', '--timeout', '20000', ...MSGPACK_TEST_FILES, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ROOMCAST_TEST_PARSER: 'msgpack' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
