/**
 * @roomcast/server-api as a backend gets it: `npm pack` of the workspace (its
 * prepack builds it), installed from the tarball into a fresh app directory, and
 * used from there: imported as ESM, its token connecting a real gateway, a
 * publication through its client received by a member, a delivery signed with
 * shared signBody verified, its types checked by tsc, and the installed `roomcast`
 * binary run.
 */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signBody, type WebhookDelivery } from '../../shared/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { ok, packAndInstall, ROOT, run, type InstalledPackage } from '../support/package-install.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';

const SECRET = 'package-webhook-secret-0123456789-abcdef';

/** The app's own code, importing the installed package by its name. */
const APP = `
import { RoomcastApi, RoomcastApiError, mintToken, verifyWebhook, RoomcastSignatureError } from '@roomcast/server-api';
const [command] = process.argv.slice(2);
const env = process.env;
if (command === 'mint') {
  console.log(await mintToken({ secret: env.JWT_SECRET, sub: 'pkg-user', rooms: ['pkg:*'], ttl: 300 }));
} else if (command === 'publish') {
  const api = new RoomcastApi({ url: env.ROOMCAST_URL, apiKey: env.ROOMCAST_API_KEY });
  console.log(JSON.stringify(await api.publish({ room: 'pkg:1', event: 'from-app', data: { via: 'package' } })));
  try {
    await api.publish({ room: 'pkg:1', event: 'bad event name!', data: 1 });
  } catch (error) {
    console.log(JSON.stringify({ refused: error instanceof RoomcastApiError, code: error.code, status: error.status }));
  }
} else if (command === 'verify') {
  const delivery = await verifyWebhook({ secret: env.WEBHOOK_SECRET, body: env.BODY, signature: env.SIGNATURE });
  let reason = null;
  try {
    await verifyWebhook({ secret: env.WEBHOOK_SECRET, body: env.BODY + ' ', signature: env.SIGNATURE });
  } catch (error) {
    reason = error instanceof RoomcastSignatureError ? error.reason : String(error);
  }
  console.log(JSON.stringify({ delivery, tampered: reason }));
}
`;

/** Type-checked against the installed declarations: each @ts-expect-error fails the check if the types were lost (any). */
const APP_TS = `
import { RoomcastApi, RoomcastApiError, mintToken, roomcastWebhook, roomcastProxy, type WebhookEvent, type PublishOutcome } from '@roomcast/server-api';
import { createServer } from 'node:http';

const api = new RoomcastApi({ url: 'http://127.0.0.1:3000', apiKey: 'k' });
export async function use(): Promise<number> {
  const outcome: PublishOutcome = await api.publish({ room: 'a', event: 'e', data: { n: 1 } });
  // @ts-expect-error: exactly one of room and rooms
  await api.publish({ room: 'a', rooms: ['b'], event: 'e', data: 1 });
  // @ts-expect-error: ttl is required
  await mintToken({ secret: 's', sub: 'u' });
  for await (const room of api.allRooms({ prefix: 'chat:' })) void room.members;
  try {
    await api.presenceCounts({ room: 'a' });
  } catch (error) {
    if (error instanceof RoomcastApiError && error.code === 'RATE_LIMITED') return error.status;
  }
  return outcome.results.length;
}
export function describe(event: WebhookEvent): string {
  switch (event.type) {
    case 'member.left':
      return event.reason;
    case 'publication':
      return String(event.offset);
    default:
      // @ts-expect-error: only member events carry a user
      return event.user;
  }
}
createServer(roomcastWebhook({ secret: 's', onDelivery: async (delivery) => void delivery.events.length }));
createServer(roomcastProxy({ secret: 's', publish: (request) => ({ result: 'allow', data: { text: String(request.data) } }) }));
`;

describe('@roomcast/server-api installed from npm pack', function () {
  this.timeout(300_000);
  let gw: TestGateway;
  let installed: InstalledPackage;
  let app: string;
  let files: string[];
  const sockets: TestSocket[] = [];
  let env: Record<string, string>;

  before(async () => {
    gw = await startGateway();
    env = { ROOMCAST_URL: gw.url, ROOMCAST_API_KEY: gw.apiKey, JWT_SECRET: gw.secret, WEBHOOK_SECRET: SECRET };
    installed = await packAndInstall('server-api', { name: 'backend-app', type: 'module' });
    ({ app, files } = installed);
    await writeFile(join(app, 'app.mjs'), APP);
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await gw.close();
    await installed?.close();
  });

  it('packs the built package and its shared/ part only, with the README and the roomcast binary', () => {
    expect(files).to.include.members(['package.json', 'README.md', 'dist/server-api/index.js', 'dist/server-api/index.d.ts', 'dist/server-api/cli/main.js', 'dist/shared/signature.js']);
    expect(files.filter((path) => !/^(package\.json|README\.md|dist\/(server-api|shared)\/.+\.(js|d\.ts))$/.test(path))).to.deep.equal([]);
  });

  it('from the app: mints a token that connects, and publishes through the client to a member', async () => {
    const token = (await ok('node', ['app.mjs', 'mint'], app, env)).trim();
    const socket = await connect(gw.url, token);
    sockets.push(socket);
    assertOk(await request(socket, 'room:join', { room: 'pkg:1' }));
    const received = collectMessages(socket);
    const lines = (await ok('node', ['app.mjs', 'publish'], app, env)).trim().split('\n');
    const outcome = JSON.parse(lines[0] as string) as { results: Array<{ room: string; offset: number }>; idempotencyKey: string };
    expect(outcome.results[0]).to.include({ room: 'pkg:1', offset: 1 });
    expect(outcome.idempotencyKey).to.match(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(lines[1] as string)).to.deep.equal({ refused: true, code: 'INVALID_PAYLOAD', status: 400 });
    await waitFor(() => received.length === 1, 5000, 'the publication made from the app');
    expect(received[0]).to.deep.include({ room: 'pkg:1', event: 'from-app', data: { via: 'package' }, offset: 1 });
  });

  it('from the app: verifies a delivery signed with shared signBody, and refuses it changed', async () => {
    const delivery: WebhookDelivery = {
      id: 'pkg-d1',
      createdAt: Date.now(),
      events: [{ id: 'pkg-e1', type: 'member.joined', ts: Date.now(), namespace: '/', room: 'pkg:1', user: 'u', connectionId: 'c', nodeId: 'n' }],
    };
    const body = JSON.stringify(delivery);
    const printed = JSON.parse(await ok('node', ['app.mjs', 'verify'], app, { ...env, BODY: body, SIGNATURE: await signBody(SECRET, body) })) as { delivery: unknown; tampered: string };
    expect(printed).to.deep.equal({ delivery, tampered: 'mismatch' });
  });

  /** The moduleResolution modes a backend's tsconfig may use; the package is ESM, so the app is an ES module in each. */
  const RESOLUTIONS = [
    { name: 'node10', module: 'commonjs', moduleResolution: 'node', file: 'app.ts' },
    { name: 'node16', module: 'node16', moduleResolution: 'node16', file: 'app.mts' },
    { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext', file: 'app.mts' },
    { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', file: 'app.ts' },
  ];
  for (const resolution of RESOLUTIONS) {
    it(`type-checks an app against the installed declarations under moduleResolution ${resolution.name} (real types, not any)`, async () => {
      const dir = join(app, `types-${resolution.name}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, resolution.file), APP_TS);
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: resolution.module,
            moduleResolution: resolution.moduleResolution,
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            lib: ['ES2023'],
            types: ['node'],
            typeRoots: [join(ROOT, 'node_modules/@types')],
          },
          files: [resolution.file],
        }),
      );
      await ok('node', [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir);
    });
  }

  it('runs the installed roomcast binary: a token and a publication', async () => {
    const bin = join(app, 'node_modules/.bin/roomcast');
    const token = (await ok(bin, ['token', '--sub', 'pkg-cli', '--rooms', 'pkg:*'], app, env)).trim();
    const socket = await connect(gw.url, token);
    sockets.push(socket);
    assertOk(await request(socket, 'room:join', { room: 'pkg:2' }));
    const received = collectMessages(socket);
    const published = JSON.parse(await ok(bin, ['publish', '--room', 'pkg:2', '--event', 'cli', '--data', '[1,2]'], app, env)) as { results: Array<{ offset: number }> };
    expect(published.results[0]?.offset).to.equal(1);
    await waitFor(() => received.length === 1, 5000, 'the binary\'s publication');
    expect(received[0]).to.deep.include({ event: 'cli', data: [1, 2] });
    const usage = await run(bin, ['publish'], app, env);
    expect(usage.code).to.equal(2);
  });
});
