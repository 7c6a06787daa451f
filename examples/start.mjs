/**
 * `npm run example`: the whole chat example on this machine, one command.
 * Builds the chat app, then starts one gateway node (port 3000) and the example
 * backend (port 4000) with the settings that tie them together, and stops both
 * on Ctrl-C. Open http://localhost:4000 in two browser windows.
 *
 * The secrets below are for this demo only; a deployment sets its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const gatewayPort = Number(process.env.GATEWAY_PORT ?? 3000);
const backendPort = Number(process.env.BACKEND_PORT ?? 4000);
const backend = `http://127.0.0.1:${backendPort}`;
let stopping = false;
const children = [];
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const shared = {
  JWT_SECRET: 'example-jwt-secret-change-me-0123456789',
  WEBHOOK_SECRET: 'example-webhook-secret-change-me-012345',
  API_KEY: 'example-api-key-0123456789',
};

const built = spawnSync('npm', ['run', 'build', '-w', 'examples/chat'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

children.push(
  start('gateway', ['dist/server/main.js'], {
    PORT: String(gatewayPort),
    JWT_SECRET: shared.JWT_SECRET,
    API_KEYS: shared.API_KEY,
    WEBHOOK_URL: `${backend}/roomcast/webhooks`,
    WEBHOOK_SECRET: shared.WEBHOOK_SECRET,
    PUBLISH_PROXY_URL: `${backend}/roomcast/proxy`,
    CORS_ORIGINS: `http://localhost:${backendPort},http://127.0.0.1:${backendPort}`,
  }),
  start('backend', ['examples/backend/server.mjs'], {
    PORT: String(backendPort),
    ROOMCAST_URL: `http://127.0.0.1:${gatewayPort}`,
    ROOMCAST_PUBLIC_URL: `http://localhost:${gatewayPort}`,
    ROOMCAST_API_KEY: shared.API_KEY,
    JWT_SECRET: shared.JWT_SECRET,
    WEBHOOK_SECRET: shared.WEBHOOK_SECRET,
  }),
);
await waitUntilAnswering(`http://127.0.0.1:${gatewayPort}/readyz`);
await waitUntilAnswering(`${backend}/config.json`);
console.log(`\nchat example ready: open http://localhost:${backendPort} in two windows (Ctrl-C stops it)\n`);

async function waitUntilAnswering(url) {
  for (let attempt = 0; attempt < 300 && !stopping; attempt += 1) {
    if (await fetch(url).then((response) => response.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!stopping) {
    console.error(`${url} did not answer within 30 s; stopping the example`);
    stop(1);
  }
}

function start(name, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${name} stopped (${signal ?? code}); stopping the example`);
    stop(1);
  });
  return child;
}

function stop(code) {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 2000).unref();
  Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : null))).then(() => process.exit(code));
}
