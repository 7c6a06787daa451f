/**
 * The layering lint rules of eslint.config.js bite: for each rule group a snippet placed (virtually) in the
 * folder it constrains, importing what that folder must not, gets an error of that rule; allowed imports get none;
 * and a real two-file import cycle inside server/ is reported by import-x/no-cycle.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const PATHS = 'import-x/no-restricted-paths';
const PACKAGES = '@typescript-eslint/no-restricted-imports';
const BASE = 'no-restricted-imports';
const CYCLE = 'import-x/no-cycle';
const LAYERING_RULES = new Set([PATHS, PACKAGES, BASE, CYCLE]);

/** The project's config, with only the layering rules and no type-aware parsing (the probe files are not in tsconfig). */
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => LAYERING_RULES.has(ruleId),
});

/** A specifier, relative to `fromFile`, of some existing module under `dir` (files move; the folder is what matters). */
function moduleIn(fromFile: string, dir: string): string {
  const walk = (abs: string): string | undefined => {
    for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(abs, entry.name);
      if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) return full;
      if (entry.isDirectory() && !entry.name.startsWith('.')) {
        const found = walk(full);
        if (found) return found;
      }
    }
    return undefined;
  };
  const absDir = path.join(ROOT, dir);
  const target = dir.endsWith('.ts') ? absDir : walk(absDir);
  if (!target) throw new Error(`no module under ${dir}`);
  let specifier = path.relative(path.dirname(path.join(ROOT, fromFile)), target).split(path.sep).join('/').replace(/\.ts$/, '.js');
  if (!specifier.startsWith('.')) specifier = `./${specifier}`;
  return specifier;
}

/** Lints `code` as if it were the file `file` (relative to the repo root); returns the layering rule ids reported. */
async function ruleIds(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  if (!result) throw new Error('no lint result');
  const fatal = result.messages.filter((m) => m.fatal);
  expect(fatal, 'parse errors').to.deep.equal([]);
  return result.messages.map((m) => m.ruleId ?? '');
}

/** `import * as x from '<module under dir>'` as seen from `file`. */
const importFrom = (file: string, dir: string) => `import * as m from '${moduleIn(file, dir)}';\nexport const used = m;\n`;

describe('layering lint rules', function () {
  this.timeout(60_000);

  describe('server/core/', () => {
    const file = 'server/core/__layering-probe.ts';

    it('rejects Socket.IO, Express, helmet and Redis', async () => {
      for (const pkg of ['socket.io', 'socket.io-adapter', '@socket.io/redis-adapter', 'express', 'helmet', 'redis']) {
        expect(await ruleIds(file, `import * as m from '${pkg}';\nexport const used = m;\n`), pkg).to.deep.equal([PACKAGES]);
      }
    });

    it('rejects transports/, http/, backends/, gateway.ts and main.ts', async () => {
      for (const dir of ['server/transports/socketio', 'server/transports/sse', 'server/http', 'server/backends', 'server/gateway.ts', 'server/main.ts']) {
        expect(await ruleIds(file, importFrom(file, dir)), dir).to.include(PATHS);
      }
    });

    it('allows shared/, errors.ts, auth/, config/, ops/ and core/', async () => {
      for (const dir of ['shared', 'server/errors.ts', 'server/auth', 'server/config', 'server/ops', 'server/core']) {
        expect(await ruleIds(file, importFrom(file, dir)), dir).to.deep.equal([]);
      }
    });
  });

  describe('server/transports/ and server/http/', () => {
    it('reject server/backends/ and the Redis client', async () => {
      for (const file of ['server/transports/socketio/__probe.ts', 'server/transports/sse/__probe.ts', 'server/http/__probe.ts']) {
        expect(await ruleIds(file, importFrom(file, 'server/backends')), file).to.deep.equal([PATHS]);
        expect(await ruleIds(file, `import * as m from 'redis';\nexport const used = m;\n`), file).to.deep.equal([PACKAGES]);
      }
    });

    it('reject one another', async () => {
      const pairs = [
        ['server/transports/socketio/__probe.ts', 'server/transports/sse'],
        ['server/transports/socketio/__probe.ts', 'server/http'],
        ['server/transports/sse/__probe.ts', 'server/transports/socketio'],
        ['server/transports/sse/__probe.ts', 'server/http'],
        ['server/http/__probe.ts', 'server/transports/socketio'],
        ['server/http/__probe.ts', 'server/transports/sse'],
      ] as const;
      for (const [file, dir] of pairs) expect(await ruleIds(file, importFrom(file, dir)), `${file} -> ${dir}`).to.deep.equal([PATHS]);
    });

    it('reject gateway.ts and main.ts, allow core/', async () => {
      for (const file of ['server/transports/socketio/handlers/__probe.ts', 'server/http/__probe.ts']) {
        expect(await ruleIds(file, importFrom(file, 'server/gateway.ts')), file).to.include(PATHS);
        expect(await ruleIds(file, importFrom(file, 'server/main.ts')), file).to.include(PATHS);
        expect(await ruleIds(file, importFrom(file, 'server/core')), file).to.deep.equal([]);
      }
    });
  });

  describe('server/backends/', () => {
    const file = 'server/backends/redis/__probe.ts';

    it('rejects transports/, http/, gateway.ts and main.ts', async () => {
      for (const dir of ['server/transports/socketio', 'server/transports/sse', 'server/http', 'server/gateway.ts', 'server/main.ts']) {
        expect(await ruleIds(file, importFrom(file, dir)), dir).to.include(PATHS);
      }
    });

    it('builds the adapter (redis-adapter, socket.io-adapter, socket.io types) but imports no Socket.IO server value, no Express', async () => {
      const allowed = [
        `import { createAdapter } from '@socket.io/redis-adapter';\nexport const used = createAdapter;\n`,
        `import { Adapter } from 'socket.io-adapter';\nexport const used = Adapter;\n`,
        `import type { ServerOptions } from 'socket.io';\nexport type Used = ServerOptions;\n`,
      ];
      for (const code of allowed) expect(await ruleIds(file, code), code).to.deep.equal([]);
      expect(await ruleIds(file, `import { Server } from 'socket.io';\nexport const used = Server;\n`)).to.deep.equal([PACKAGES]);
      expect(await ruleIds(file, `import express from 'express';\nexport const used = express;\n`)).to.deep.equal([PACKAGES]);
    });
  });

  describe('bottom layer: server/ops/, auth/, config/, errors.ts', () => {
    it('rejects core/, transports/, http/, backends/, gateway.ts and main.ts', async () => {
      for (const file of ['server/ops/__probe.ts', 'server/auth/__probe.ts', 'server/config/__probe.ts', 'server/errors.ts']) {
        for (const dir of ['server/core', 'server/transports/socketio', 'server/transports/sse', 'server/http', 'server/backends', 'server/gateway.ts', 'server/main.ts']) {
          expect(await ruleIds(file, importFrom(file, dir)), `${file} -> ${dir}`).to.include(PATHS);
        }
      }
    });

    it('allows shared/ and one another', async () => {
      const file = 'server/ops/__probe.ts';
      for (const dir of ['shared', 'server/config', 'server/auth', 'server/errors.ts']) {
        expect(await ruleIds(file, importFrom(file, dir)), dir).to.deep.equal([]);
      }
    });
  });

  describe('shared/ and client/', () => {
    it('shared/ imports nothing from server/ or client/, no Node API', async () => {
      const file = 'shared/__probe.ts';
      expect(await ruleIds(file, importFrom(file, 'server/errors.ts'))).to.include.members([BASE, PATHS]);
      expect(await ruleIds(file, importFrom(file, 'client'))).to.include.members([BASE, PATHS]);
      expect(await ruleIds(file, `import { readFileSync } from 'node:fs';\nexport const used = readFileSync;\n`)).to.include(BASE);
    });

    it('client/ imports nothing from server/', async () => {
      const file = 'client/__probe.ts';
      expect(await ruleIds(file, importFrom(file, 'server/core'))).to.include.members([BASE, PATHS]);
    });

    // The SDK is bundled by apps: of shared/ only the modules without zod, and no zod itself.
    const zodFree = ['shared/constants.ts', 'shared/errors.ts', 'shared/events.ts', 'shared/rooms.ts', 'shared/wire-types.ts'];
    const withZod = ['shared/index.ts', 'shared/schemas.ts', 'shared/api.ts', 'shared/proxies.ts', 'shared/webhooks.ts'];

    it('client/ imports only the zod-free part of shared/, no zod', async () => {
      for (const file of ['client/__probe.ts', 'client/react/__probe.ts']) {
        for (const dir of zodFree) expect(await ruleIds(file, importFrom(file, dir)), `${file} -> ${dir}`).to.deep.equal([]);
        for (const dir of withZod) expect(await ruleIds(file, importFrom(file, dir)), `${file} -> ${dir}`).to.deep.equal([PATHS]);
        expect(await ruleIds(file, `import { z } from 'zod';\nexport const used = z;\n`), file).to.deep.equal([PACKAGES]);
      }
    });

    it('the zod-free part of shared/ imports only itself, no zod', async () => {
      for (const file of zodFree) {
        expect(await ruleIds(file, importFrom(file, 'shared/constants.ts')), file).to.deep.equal([]);
        // (from constants.ts and rooms.ts, which schemas.ts imports, it is a cycle as well)
        expect(await ruleIds(file, importFrom(file, 'shared/schemas.ts')), file).to.include(PATHS);
        expect(await ruleIds(file, `import { z } from 'zod';\nexport const used = z;\n`), file).to.deep.equal([PACKAGES]);
      }
      expect(await ruleIds('shared/__probe.ts', importFrom('shared/__probe.ts', 'shared/schemas.ts'))).to.deep.equal([]);
    });

    it('socket.io-msgpack-parser only in client/msgpack.ts, react only in client/react/', async () => {
      const msgpack = `import parser from 'socket.io-msgpack-parser';\nexport const used = parser;\n`;
      const react = `import { useState } from 'react';\nexport const used = useState;\n`;
      expect(await ruleIds('client/__probe.ts', msgpack)).to.deep.equal([PACKAGES]);
      expect(await ruleIds('client/__probe.ts', react)).to.deep.equal([PACKAGES]);
      expect(await ruleIds('client/msgpack.ts', msgpack)).to.deep.equal([]);
      expect(await ruleIds('client/msgpack.ts', react)).to.deep.equal([PACKAGES]);
      expect(await ruleIds('client/react/__probe.ts', react)).to.deep.equal([]);
      expect(await ruleIds('client/react/__probe.ts', msgpack)).to.deep.equal([PACKAGES]);
    });
  });

  describe('import cycles', () => {
    // Real files: no-cycle follows the import graph on disk. A dot folder: tsc's globs skip it.
    const dir = path.join(ROOT, 'server', `.layering-cycle-probe-${process.pid}`);
    before(() => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'a.ts'), `import { b } from './b.js';\nexport const a = (): number => b() + 1;\n`);
      writeFileSync(path.join(dir, 'b.ts'), `import { a } from './a.js';\nexport const b = (): number => (typeof a === 'function' ? 1 : 0);\n`);
      writeFileSync(path.join(dir, 'c.ts'), `import type { D } from './d.js';\nexport const c = 1;\nexport type C = D;\n`);
      writeFileSync(path.join(dir, 'd.ts'), `import { c } from './c.js';\nexport type D = number;\nexport const d = c;\n`);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('reports a cycle in server/ (both ends)', async () => {
      const results = await eslint.lintFiles([path.join(dir, 'a.ts'), path.join(dir, 'b.ts')]);
      for (const result of results) expect(result.messages.map((m) => m.ruleId), result.filePath).to.deep.equal([CYCLE]);
    });

    it('ignores a cycle closed by an `import type` (erased at run time)', async () => {
      const results = await eslint.lintFiles([path.join(dir, 'c.ts'), path.join(dir, 'd.ts')]);
      for (const result of results) expect(result.messages.map((m) => m.ruleId), result.filePath).to.deep.equal([]);
    });
  });
});
