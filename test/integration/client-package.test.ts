/**
 * @roomcast/client as an app gets it: `npm pack` of the client/ workspace (its
 * prepack builds the ES module and CommonJS builds), installed from the tarball into
 * a fresh app, its one dependency (socket.io-client) from the npm cache or registry.
 * One pack and install serve every test here:
 * - the tarball holds the SDK and the zod-free part of shared/ only, and installing
 *   it brings socket.io-client and nothing of the gateway;
 * - an ES module app and a CommonJS app connect to a real gateway, join a room and
 *   receive a publication; the ./msgpack entry needs its optional peer, and with it
 *   an app works against a PARSER=msgpack gateway;
 * - TypeScript apps type-check against the installed declarations under every
 *   moduleResolution an app may use (node10, node16, nodenext, bundler; ESM and CJS);
 * - an app importing RoomcastClient, bundled by esbuild for browsers (minified,
 *   tree-shaken), stays within the DESIGN budget of 25 KB gzip, socket.io-client
 *   included; and /roomcast.js, as a gateway serves it, within 40 KB gzip, with its
 *   source map served beside it.
 * Sizes are gzip at level 9 (zlib), in KB of 1000 bytes (the stricter reading of the
 * budgets); each test's title reports its figures.
 */
import { expect } from 'chai';
import { build } from 'esbuild';
import { readdir, readFile, symlink, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { installedPackageNames, ok, packAndInstall, ROOT, run, startNode, type InstalledPackage } from '../support/package-install.js';
import { waitFor } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

/** DESIGN ("GET /roomcast.js"): what an app bundling the package tree-shaken gets, and the served browser file. */
const APP_BUNDLE_BUDGET = 25_000;
const BROWSER_FILE_BUDGET = 40_000;

/** Nothing of the gateway (nor the optional peers) may come with the SDK. */
const NOT_INSTALLED = ['express', 'helmet', 'zod', 'redis', '@socket.io/redis-adapter', 'socket.io', 'socket.io-adapter', 'jose', 'pino', 'prom-client', 'socket.io-msgpack-parser', 'react'];

/** The part of shared/ the SDK compiles in: the modules without zod. */
const SHARED_IN_PACKAGE = ['constants', 'errors', 'events', 'rooms', 'wire-types'];

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`;
const gzipped = (code: string | Uint8Array): number => gzipSync(code, { level: 9 }).length;

/** An app's code (after its imports and `options`): joins ROOM, prints `joined`, then the first message it receives, and closes. */
const APP_BODY = `
const client = new RoomcastClient(process.env.ROOMCAST_URL, { token: process.env.TOKEN, transports: ['websocket'], ...options });
client
  .join(process.env.ROOM, (message) => {
    console.log(JSON.stringify({ received: message }));
    client.close();
  })
  .then((joined) => console.log(JSON.stringify({ joined: joined.room, isError: new RoomcastError({ code: 'INTERNAL', message: 'm', retryable: true }) instanceof Error })))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
`;
const ESM_APP = `import { RoomcastClient, RoomcastError } from '@roomcast/client';\nconst options = {};\n${APP_BODY}`;
const CJS_APP = `const { RoomcastClient, RoomcastError } = require('@roomcast/client');\nconst options = {};\n${APP_BODY}`;
const MSGPACK_APP = `import { RoomcastClient, RoomcastError } from '@roomcast/client';\nimport msgpackParser from '@roomcast/client/msgpack';\nconst options = { parser: msgpackParser };\n${APP_BODY}`;

/**
 * Type-checked against the installed declarations, the same code under every
 * resolution: each @ts-expect-error fails the check if the types were lost (any) or
 * an entry did not resolve.
 */
const TYPED_APP = `
import { RoomcastClient, RoomcastError, type Message, type RoomcastClientOptions } from '@roomcast/client';
import msgpackParser from '@roomcast/client/msgpack';
import * as hooks from '@roomcast/client/react';

const options: RoomcastClientOptions = { token: () => 'token', parser: msgpackParser, autoConnect: false };
const client = new RoomcastClient('http://127.0.0.1:3000', options);

export async function use(): Promise<number> {
  const joined = await client.join('room:1', (message: Message) => void message.offset);
  // @ts-expect-error: the parser is 'json' or a parser object, not a name
  void new RoomcastClient('http://127.0.0.1:3000', { token: 't', parser: 'msgpack' });
  // @ts-expect-error: an offset is a number
  const offset: string = joined.offset;
  // @ts-expect-error: the react entry has no such export
  void hooks.noSuchHook;
  return joined.missed.length + offset.length;
}
export const failed = (error: unknown): boolean => error instanceof RoomcastError && error.retryable;
`;

interface Consumer {
  name: string;
  /** skipLibCheck false: the declarations themselves are checked (both builds', from the .mts and the .cts; once is enough, @types/react is slow). */
  compilerOptions: Record<string, unknown>;
  /** The files (named by their extension: .ts, .mts ESM, .cts CommonJS) holding TYPED_APP. */
  files: string[];
}

const CONSUMERS: Consumer[] = [
  { name: 'node10', compilerOptions: { module: 'commonjs', moduleResolution: 'node' }, files: ['node10.ts'] },
  { name: 'node16', compilerOptions: { module: 'node16', moduleResolution: 'node16' }, files: ['node16-esm.mts', 'node16-cjs.cts'] },
  { name: 'nodenext', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false }, files: ['nodenext-esm.mts', 'nodenext-cjs.cts'] },
  { name: 'bundler', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' }, files: ['bundler.ts'] },
];

describe('@roomcast/client installed from npm pack', function () {
  this.timeout(180_000);
  let gw: TestGateway;
  let installed: InstalledPackage;
  let app: string;

  before(async () => {
    [gw, installed] = await Promise.all([startGateway({ PARSER: 'json' }), packAndInstall('client', { name: 'web-app' })]);
    app = installed.app;
  });
  after(async () => {
    await gw?.close();
    await installed?.close();
  });

  describe('what it installs', () => {
    it('packs the SDK built as ES modules and CommonJS with declarations, the zod-free part of shared/, the README: nothing of the gateway', function () {
      this.test!.title += ` (${installed.files.length} files, ${kb(installed.packedBytes)} packed, ${kb(installed.unpackedBytes)} unpacked)`;
      const { files } = installed;
      expect(files).to.include.members([
        'package.json',
        'README.md',
        'dist/cjs/package.json',
        ...['esm', 'cjs'].flatMap((build) => ['client/index', 'client/msgpack', 'client/react/index'].flatMap((entry) => [`dist/${build}/${entry}.js`, `dist/${build}/${entry}.d.ts`])),
      ]);
      expect(files.filter((path) => !/^(package\.json|README\.md|dist\/cjs\/package\.json|dist\/(esm|cjs)\/(client|shared)\/.+\.(js|d\.ts))$/.test(path))).to.deep.equal([]);
      for (const build of ['esm', 'cjs']) {
        const shared = files.filter((path) => path.startsWith(`dist/${build}/shared/`) && path.endsWith('.js')).map((path) => path.slice(`dist/${build}/shared/`.length, -'.js'.length));
        expect(shared.sort(), build).to.deep.equal(SHARED_IN_PACKAGE);
      }
    });

    it('installs socket.io-client and its dependencies only: no gateway package, no zod, no optional peer', async () => {
      const names = await installedPackageNames(app);
      const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dependencies?: Record<string, string> }> };
      const closure = new Set<string>();
      const visit = (name: string): void => {
        if (closure.has(name)) return;
        closure.add(name);
        for (const dependency of Object.keys(lock.packages[`node_modules/${name}`]?.dependencies ?? {})) visit(dependency);
      };
      visit('socket.io-client');
      expect(names).to.deep.equal(['@roomcast/client', ...closure].sort());
      expect(names.filter((name) => NOT_INSTALLED.includes(name))).to.deep.equal([]);
    });

    it('carries no zod, not even in a declaration', async () => {
      const dist = join(app, 'node_modules', '@roomcast', 'client', 'dist');
      const paths = (await readdir(dist, { recursive: true })).filter((path) => /\.(js|d\.ts)$/.test(path));
      expect(paths.length).to.be.greaterThan(40);
      for (const path of paths) expect(await readFile(join(dist, path), 'utf8'), path).to.not.match(/['"]zod['"]/);
    });
  });

  describe('apps using it against a real gateway', () => {
    /** Runs the app `file` against `gateway`: it joins a room, a publication made over HTTP reaches it, and it ends on its own. */
    async function receivesPublication(file: string, code: string, gateway: TestGateway): Promise<void> {
      const room = `pkg:${file.replace('.', '-')}`;
      await writeFile(join(app, file), code);
      const token = await signToken(gateway.secret, { sub: 'pkg-app', rooms: ['pkg:*'] });
      const child = startNode([file], app, { ROOMCAST_URL: gateway.url, TOKEN: token, ROOM: room });
      try {
        await waitFor(() => child.lines.length > 0 || child.stderr() !== '', 20_000, `${file} joined`);
        expect(child.stderr(), file).to.equal('');
        expect(JSON.parse(child.lines[0] as string)).to.deep.equal({ joined: room, isError: true });
        const published = await httpPublish(gateway.url, { room, event: 'from-backend', data: { via: file } });
        expect(published.status).to.equal(200);
        await waitFor(() => child.lines.length > 1, 10_000, `${file} received the publication`);
        expect(JSON.parse(child.lines[1] as string).received).to.deep.include({ room, event: 'from-backend', data: { via: file }, offset: 1 });
        // The app closed its client and has nothing else to do: it ends on its own.
        expect(await child.exited).to.equal(0);
      } finally {
        child.kill();
      }
    }

    it('an ES module app (import) connects with a token, joins a room and receives a publication', () => receivesPublication('app.mjs', ESM_APP, gw));

    it('a CommonJS app (require) connects with a token, joins a room and receives a publication', () => receivesPublication('app.cjs', CJS_APP, gw));

    it('./msgpack without its optional peer fails naming socket.io-msgpack-parser; with it installed, an app on a PARSER=msgpack gateway receives a publication', async () => {
      const missing = await run(process.execPath, ['--input-type=module', '-e', "await import('@roomcast/client/msgpack')"], app);
      expect(missing.code).to.not.equal(0);
      expect(missing.stderr).to.contain("'socket.io-msgpack-parser'");
      const peer = JSON.parse(await readFile(join(app, 'node_modules', '@roomcast', 'client', 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
      await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `socket.io-msgpack-parser@${peer.peerDependencies['socket.io-msgpack-parser']}`], app);
      const packed = await startGateway({ PARSER: 'msgpack' });
      try {
        await receivesPublication('app-msgpack.mjs', MSGPACK_APP, packed);
      } finally {
        await packed.close();
      }
    });
  });

  describe('types', () => {
    before(async () => {
      // The ./react entry's declarations import react's: the root's @types/react, as an app would install it.
      await mkdir(join(app, 'node_modules', '@types'), { recursive: true });
      await symlink(join(ROOT, 'node_modules', '@types', 'react'), join(app, 'node_modules', '@types', 'react'), 'dir');
    });

    for (const consumer of CONSUMERS) {
      it(`type-check an app under moduleResolution ${consumer.name} (${consumer.files.join(', ')}), importing ., ./msgpack and ./react: real types, not any`, async () => {
        const dir = join(app, `types-${consumer.name}`);
        await mkdir(dir);
        for (const file of consumer.files) await writeFile(join(dir, file), TYPED_APP);
        const compilerOptions = { target: 'ES2022', lib: ['ES2023', 'DOM'], strict: true, noEmit: true, skipLibCheck: true, types: [], ...consumer.compilerOptions };
        await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: consumer.files }));
        await ok(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
      });
    }
  });

  describe('size', () => {
    it('an app importing RoomcastClient, bundled for browsers (esbuild: ESM, minified, tree-shaken), is within 25 KB gzip with socket.io-client', async function () {
      await writeFile(join(app, 'bundle-app.mjs'), `import { RoomcastClient } from '@roomcast/client';\nwindow.client = new RoomcastClient(location.origin, { token: 't' });\n`);
      const result = await build({
        absWorkingDir: app,
        entryPoints: ['bundle-app.mjs'],
        bundle: true,
        minify: true,
        treeShaking: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      const code = result.outputFiles[0]?.contents ?? new Uint8Array();
      const inputs = Object.keys(result.metafile.inputs);
      this.test!.title += ` (${kb(code.length)} minified, ${kb(gzipped(code))} gzip)`;
      expect(inputs.filter((path) => /node_modules\/(zod|socket\.io-msgpack-parser|notepack\.io)\//.test(path))).to.deep.equal([]);
      expect(inputs.some((path) => path.includes('node_modules/@roomcast/client/dist/esm/client/roomcast-client.js'))).to.equal(true);
      expect(inputs.some((path) => path.includes('node_modules/socket.io-client/'))).to.equal(true);
      expect(gzipped(code)).to.be.at.most(APP_BUNDLE_BUDGET);
    });

    it('/roomcast.js, as the gateway serves it, is within 40 KB gzip, defines the global Roomcast (msgpack parser included), and its source map is served and names the client sources', async function () {
      const response = await fetch(`${gw.url}/roomcast.js`);
      expect(response.status).to.equal(200);
      const code = await response.text();
      this.test!.title += ` (${kb(Buffer.byteLength(code))}, ${kb(gzipped(code))} gzip)`;
      expect(gzipped(code)).to.be.at.most(BROWSER_FILE_BUDGET);

      const sandbox: { Roomcast?: Record<string, unknown> } = {};
      runInNewContext(code, sandbox);
      expect(sandbox.Roomcast?.RoomcastClient).to.be.a('function');
      expect((sandbox.Roomcast?.msgpackParser as { Encoder?: unknown } | undefined)?.Encoder).to.be.a('function');

      const mapName = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code)?.[1];
      expect(mapName).to.equal('roomcast.js.map');
      const mapResponse = await fetch(`${gw.url}/${mapName}`);
      expect(mapResponse.status).to.equal(200);
      const map = (await mapResponse.json()) as { version: number; sources: string[]; sourcesContent?: string[]; mappings: string };
      expect(map.version).to.equal(3);
      expect(map.mappings.length).to.be.greaterThan(1000);
      expect(map.sources).to.include.members(['../../client/roomcast-client.ts', '../../client/room-stream.ts', '../../client/msgpack.ts', '../../shared/errors.ts']);
      const index = map.sources.indexOf('../../client/roomcast-client.ts');
      expect(map.sourcesContent?.[index]).to.equal(await readFile(join(ROOT, 'client', 'roomcast-client.ts'), 'utf8'));
    });
  });
});
