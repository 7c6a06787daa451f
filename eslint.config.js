// Lint: typescript-eslint's recommended type-aware rules, plus the layering of the
// design (docs: /DESIGN "Layout"): shared/ imports nothing from server/ or client/ and
// no Node API; client/ nothing from server/; inside server/ dependencies point one way:
//   ops/ auth/ config/ errors.ts (bottom, beside shared/)  <-  core/  <-  transports/, http/
//   backends/ implement core's interfaces;  gateway.ts (composition root) and main.ts wire.
// Folder rules use import-x/no-restricted-paths, which compares RESOLVED file paths (so
// '../../backends/x.js', 'server/backends/x.js' and re-exports are all caught, whatever
// the spelling); package rules use @typescript-eslint/no-restricted-imports. Import
// cycles are forbidden in shared/, client/ and server/ (import-x/no-cycle; `import type`
// edges are ignored since they vanish at run time, the folder rules still apply to them).
// client/ (the SDK) and web/ (the demo and status pages built on it) run in browsers:
// no Node API, nothing from server/, and the SDK nothing from the pages.
// The SDK is what apps install and bundle: of shared/ it imports only the zod-free modules
// (clientShared, which import only one another), never zod; socket.io-msgpack-parser only
// in its ./msgpack entry and react only in its ./react entry (both optional peers).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];
const root = import.meta.dirname;

// ---- server/ layering: folders (resolved paths) ----
const S = 'server';
const core = `${S}/core`;
const socketio = `${S}/transports/socketio`;
const sse = `${S}/transports/sse`;
const transports = `${S}/transports`;
const http = `${S}/http`;
const backends = `${S}/backends`;
// Calls to the app's backend (webhook deliveries, proxies): they implement core/ interfaces, like backends/.
const integration = `${S}/integration`;
const gateway = `${S}/gateway.ts`;
const main = `${S}/main.ts`;
const bottom = [`${S}/ops`, `${S}/auth`, `${S}/config`, `${S}/errors.ts`];

// ---- the SDK's part of shared/: no zod (DESIGN: the zod schemas serve the server, the client keeps types and light guards) ----
const clientShared = ['constants.ts', 'errors.ts', 'events.ts', 'rooms.ts', 'wire-types.ts'];

const serverZones = [
  {
    target: core,
    from: [transports, http, backends, gateway, main],
    message:
      'server/core/ depends on nothing but shared/, server/errors.ts, auth/, config/, ops/ and core/ itself: transports, http and backends depend on core, not the reverse (declare an interface in core/ and let gateway.ts wire the implementation).',
  },
  {
    target: socketio,
    from: [sse, http],
    message: 'server/transports/socketio/ must not import transports/sse/ or http/: transports and http are siblings over core/ (move what they share into core/ or ops/).',
  },
  {
    target: sse,
    from: [socketio, http],
    message: 'server/transports/sse/ must not import transports/socketio/ or http/: transports and http are siblings over core/ (move what they share into core/ or ops/).',
  },
  {
    target: http,
    from: [transports],
    message: 'server/http/ must not import server/transports/: transports and http are siblings over core/ (move what they share into core/ or ops/).',
  },
  {
    target: [transports, http],
    from: [backends],
    message: 'server/transports/ and server/http/ reach stores and the adapter through core/ interfaces, never server/backends/ (gateway.ts injects the implementation).',
  },
  {
    target: [transports, http, backends],
    from: [gateway, main],
    message: 'Only main.ts may import gateway.ts (composition root); nothing imports main.ts. Pass what you need in from gateway.ts instead.',
  },
  {
    target: core,
    from: [integration],
    message: 'server/core/ declares the interfaces of webhooks and proxies; server/integration/ implements them and gateway.ts wires them.',
  },
  {
    target: integration,
    from: [transports, http, backends, gateway, main],
    message: 'server/integration/ (webhooks, proxies) implements core/ interfaces: it must not import transports/, http/, backends/ or the composition root.',
  },
  {
    target: [transports, http],
    from: [integration],
    message: 'server/transports/ and server/http/ reach webhooks and proxies through core/ interfaces (gateway.ts injects them).',
  },
  {
    target: backends,
    from: [transports, http],
    message: 'server/backends/ implement core/ interfaces: they must not import transports/ or http/.',
  },
  {
    target: bottom,
    from: [core, transports, http, backends, gateway, main],
    message:
      'server/ops/, auth/, config/ and errors.ts are the bottom layer (beside shared/): they must not import core/, transports/, http/, backends/, gateway.ts or main.ts.',
  },
  {
    target: [core, transports, http, backends, ...bottom, gateway],
    from: [main],
    message: 'Nothing imports server/main.ts (process entry: env, signals).',
  },
  {
    target: 'shared',
    from: ['server', 'client', 'web'],
    message: 'shared/ must not depend on server/, client/ or web/.',
  },
  {
    target: 'client',
    from: ['server', 'web'],
    message: 'client/ (the SDK) must not depend on server/ or on the pages in web/.',
  },
  {
    target: 'client',
    from: 'shared',
    except: clientShared.map((file) => `./${file}`),
    message: `client/ (@roomcast/client, bundled by apps) imports only the zod-free part of shared/ (${clientShared.join(', ')}): never index.ts, schemas.ts, api.ts, proxies.ts or anything else that pulls zod in. Need a payload type? Declare it in wire-types.ts (schemas.ts checks its schema against it).`,
  },
  {
    target: clientShared.map((file) => `shared/${file}`),
    from: 'shared',
    except: clientShared.map((file) => `./${file}`),
    message: `The zod-free part of shared/ (${clientShared.join(', ')}), which client/ imports, imports only itself: the zod schemas (schemas.ts, api.ts, proxies.ts) serve the server.`,
  },
  {
    target: 'server-api',
    from: ['server', 'client', 'web'],
    message: 'server-api/ (@roomcast/server-api, what a backend installs) depends only on shared/: it speaks to the gateway over HTTP, never through its code.',
  },
  {
    target: 'web',
    from: ['server'],
    message: 'web/ (the demo and status pages) must not depend on server/.',
  },
];

// ---- server/ layering: packages ----
// Regexes, anchored on the package name: a gitignore-style group such as 'redis/*' would also
// match a relative path like '../backends/redis/x.js'.
const socketIoServer = String.raw`^(socket\.io|socket\.io-adapter|@socket\.io/[^/]+)(/.*)?$`;
const redisPkgs = String.raw`^(redis|@redis/[^/]+)(/.*)?$`;
const expressPkgs = String.raw`^(express|helmet)(/.*)?$`;

/** The rules of a folder whose code runs in browsers; `notFrom` lists the folders it must not import. */
function browserCode(dir, notFrom) {
  return {
    files: [`${dir}/**/*.ts`],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: `${dir}/ runs in browsers: no Node API.` })),
          patterns: notFrom.map((other) => ({ group: [`**/${other}/**`, `../${other}`], message: `${dir}/ must not depend on ${other}/.` })),
        },
      ],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename'],
    },
  };
}

// ---- @roomcast/client: packages ----
const noZod = {
  regex: String.raw`^zod(/.*)?$`,
  message: 'The SDK and the part of shared/ it imports carry no zod (apps bundle them): plain types in shared/wire-types.ts, small hand guards (isErrorPayload) at run time.',
};
const msgpackInItsEntry = {
  regex: String.raw`^socket\.io-msgpack-parser(/.*)?$`,
  message: 'socket.io-msgpack-parser is an optional peer of @roomcast/client: only its ./msgpack entry (client/msgpack.ts) imports it.',
};
const reactInItsEntry = {
  regex: String.raw`^react(-dom)?(/.*)?$`,
  message: 'react is an optional peer of @roomcast/client: only its ./react entry (client/react/) imports it.',
};

/** The packages `files` (but not `ignores`) must not import: each pattern a regex and its message. */
function sdkImports(files, patterns, ignores = []) {
  return { files, ignores, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  // dist/: the root build; */dist/: a workspace's own build (client/dist).
  { ignores: ['dist/**', '*/dist/**', 'examples/*/dist/**', 'node_modules/**', '.ci/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['server/**/*.ts', 'shared/**/*.ts', 'client/**/*.ts', 'web/**/*.ts', 'server-api/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // import-x only follows files of these extensions (no-cycle silently sees nothing in .ts without them).
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${root}/tsconfig.json`, alwaysTryTypes: true })],
    },
    rules: {
      'no-console': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: serverZones }],
    },
  },
  {
    files: ['server/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: socketIoServer, message: 'server/core/ is transport-free: no Socket.IO (that belongs in server/transports/socketio/).' },
            { regex: expressPkgs, message: 'server/core/ is transport-free: no Express or helmet (that belongs in server/http/).' },
            { regex: redisPkgs, message: 'server/core/ declares store interfaces; Redis belongs in server/backends/redis/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['server/transports/**/*.ts', 'server/http/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: redisPkgs, message: 'Transports and http reach stores through core/ interfaces: no Redis client here (see server/backends/redis/).' }] },
      ],
    },
  },
  {
    files: ['server/backends/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'socket.io', allowTypeImports: true, message: 'server/backends/ builds the adapter (@socket.io/redis-adapter, socket.io-adapter) but not the Socket.IO server: `import type` only.' }],
          patterns: [{ regex: expressPkgs, message: 'server/backends/ has no HTTP layer: no Express or helmet.' }],
        },
      ],
    },
  },
  {
    files: ['shared/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'shared/ runs in browsers too: no Node API.' })),
          patterns: [
            { group: ['**/server/**', '../server', '**/client/**', '../client', '**/web/**', '../web'], message: 'shared/ must not depend on server/, client/ or web/.' },
            { group: ['node:*'], message: 'shared/ runs in browsers too: no Node API.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'],
    },
  },
  browserCode('client', ['server', 'web']),
  sdkImports(['client/**/*.ts', ...clientShared.map((file) => `shared/${file}`)], [noZod, msgpackInItsEntry, reactInItsEntry], ['client/msgpack.ts', 'client/react/**']),
  sdkImports(['client/msgpack.ts'], [noZod, reactInItsEntry]),
  sdkImports(['client/react/**/*.ts'], [noZod, msgpackInItsEntry]),
  browserCode('web', ['server']),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
