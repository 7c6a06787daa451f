/**
 * Serves the React test app (test/e2e/react-app/app.ts, as compiled into dist/)
 * for the browser: bundled here with esbuild (React's development build, so
 * StrictMode double-mounts), on a node:http server on a free port, with
 * - GET /            a page loading /app.js (the gateway's URL and parser in the query);
 * - GET /app.js      the bundle;
 * - GET /token?user= a token for that user (rooms `react:*`), signed with the test
 *                    gateway's secret, the way an app's backend would hand one out;
 *                    held while the test holds that user (holdTokens), so a client
 *                    that lost its connection stays away until released.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { signToken } from '../../tools/processes/tokens.js';

export interface ReactAppServer {
  /** The origin (http://127.0.0.1:port): set the gateway's CORS_ORIGINS to it. */
  origin: string;
  /** The page's URL for a gateway. */
  pageUrl(gatewayUrl: string, parser: string): string;
  /** Holds /token answers for `user` until the returned function is called. */
  holdTokens(user: string): () => void;
  close(): Promise<void>;
}

const APP_ENTRY = fileURLToPath(new URL('../e2e/react-app/app.js', import.meta.url));

/** The app as one browser script (React's development build: StrictMode's double mount is a development behaviour). */
export async function bundleReactApp(): Promise<string> {
  const result = await build({
    entryPoints: [APP_ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: ['es2022'],
    write: false,
    sourcemap: 'inline',
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'warning',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no bundle');
  return output.text;
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>roomcast react test</title><body><script src="/app.js"></script></body>';

/** Bundles the app and serves it; `secret` signs the tokens (the test gateway's JWT_SECRET). */
export async function startReactApp(secret: string): Promise<ReactAppServer> {
  const bundle = await bundleReactApp();
  const held = new Map<string, Promise<void>>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else if (url.pathname === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else if (url.pathname === '/token') {
      const user = url.searchParams.get('user') ?? 'anonymous';
      void (async () => {
        await held.get(user);
        const token = await signToken(secret, { sub: user, rooms: ['react:*'] });
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token);
      })();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    pageUrl: (gatewayUrl, parser) => `${origin}/?gateway=${encodeURIComponent(gatewayUrl)}&parser=${encodeURIComponent(parser)}`,
    holdTokens(user) {
      let release: () => void = () => undefined;
      held.set(user, new Promise<void>((resolve) => (release = resolve)));
      return () => {
        held.delete(user);
        release();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
