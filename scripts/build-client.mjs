/**
 * Bundles the browser SDK (client/) and the demo page (web/demo/) into
 * dist/public, which the gateway serves at `/`: roomcast.js (IIFE, global
 * `Roomcast`: the whole SDK with its MessagePack parser as Roomcast.msgpackParser),
 * demo.js and index.html; and the status page (web/status/) into dist/status
 * (app.js, index.html), served at `/status`. Every script is minified, with its
 * source map beside it (served too). DESIGN budget: roomcast.js <= 40 KB gzip
 * (test/integration/client-package.test.ts checks it).
 * Run after tsc (npm run build); esbuild does its own TypeScript transform.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'public');
/** The status page lives apart from dist/public: the gateway serves it only when ADMIN_TOKEN is set. */
const statusDir = join(root, 'dist', 'status');

/**
 * shared/ holds only declarations (constants, schemas, pure functions), but a
 * bundler cannot know that: without this, every zod schema of the protocol (and
 * zod itself, most of the bundle) would ship to browsers although the SDK uses
 * none of them at runtime.
 */
const sharedHasNoSideEffects = {
  name: 'shared-has-no-side-effects',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /(^|\/)shared\/[\w-]+\.js$/ }, async (args) => {
      if (args.pluginData?.resolving) return undefined;
      const resolved = await pluginBuild.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, sideEffects: false };
    });
  },
};

const common = {
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
  plugins: [sharedHasNoSideEffects],
};

await mkdir(outdir, { recursive: true });
await mkdir(statusDir, { recursive: true });
await Promise.all([
  build({
    ...common,
    // The package's main entry plus its ./msgpack entry (an optional peer for apps that
    // bundle the package; one file with everything for a page that loads /roomcast.js).
    stdin: {
      contents: "export * from './index.ts';\nexport { msgpackParser } from './msgpack.ts';\n",
      resolveDir: join(root, 'client'),
      sourcefile: 'roomcast-global.ts',
      loader: 'ts',
    },
    outfile: join(outdir, 'roomcast.js'),
    globalName: 'Roomcast',
  }),
  build({
    ...common,
    entryPoints: [join(root, 'web', 'demo', 'demo.ts')],
    outfile: join(outdir, 'demo.js'),
  }),
  copyFile(join(root, 'web', 'demo', 'index.html'), join(outdir, 'index.html')),
  build({
    ...common,
    entryPoints: [join(root, 'web', 'status', 'status.ts')],
    outfile: join(statusDir, 'app.js'),
  }),
  copyFile(join(root, 'web', 'status', 'index.html'), join(statusDir, 'index.html')),
]);
