/**
 * Bundles the browser SDK (client/) and the demo page (web/demo/) into
 * dist/public, which the gateway serves at `/`: roomcast.js (IIFE, global
 * `Roomcast`), demo.js and index.html; and the status page (web/status/) into
 * dist/status (app.js, index.html), served at `/status`.
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
  minify: false,
  sourcemap: true,
  logLevel: 'warning',
  plugins: [sharedHasNoSideEffects],
};

await mkdir(outdir, { recursive: true });
await mkdir(statusDir, { recursive: true });
await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, 'client', 'index.ts')],
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
