/**
 * Builds @roomcast/client into dist/ (npm run build; npm pack runs it as prepack):
 * dist/esm (ES modules, tsconfig.json) and dist/cjs (CommonJS, tsconfig.cjs.json,
 * with its own {"type": "commonjs"} package.json), each with its .d.ts files.
 * dist/ is emptied first, so nothing stale is ever packed.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function compile(project) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', join(here, project)], { cwd: here, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p ${project} exited with ${code}`))));
  });
}

await rm(join(here, 'dist'), { recursive: true, force: true });
await Promise.all([compile('tsconfig.json'), compile('tsconfig.cjs.json')]);
await mkdir(join(here, 'dist', 'cjs'), { recursive: true });
await writeFile(join(here, 'dist', 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
