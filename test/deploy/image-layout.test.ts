/**
 * The runtime image holds every file the gateway reads at run time. Without a
 * Docker engine: the Dockerfile's runtime-stage COPY lines are parsed and
 * compared with what the compiled server reaches (its import graph from
 * dist/server/main.js, and every `new URL('...', import.meta.url)` it resolves:
 * the demo page and bundle, the status page, package.json); then that layout
 * is assembled in a temp dir from the COPY lines alone and the gateway is run
 * there as the image runs it, with ADMIN_TOKEN: /status, / and /roomcast.js
 * must answer, with no warning about missing files. A layout without the status
 * page (the image before this test) makes the gateway say so at start.
 */
import { cp, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { expect } from 'chai';
import { freePort } from '../../tools/processes/free-port.js';
import { startNode, type Child } from '../../tools/processes/processes.js';
import { TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { copyLines, DEPLOY, dockerStages, read, ROOT, type CopyLine } from './deploy-reader.js';

const ADMIN_TOKEN = 'image-layout-admin-token-0123456789';
const dockerfile = read(join(DEPLOY, 'Dockerfile'));
const stages = dockerStages(dockerfile);
const runtime = stages[stages.length - 1];
const build = stages[0];

/** Where a file of the build stage (or the build context) ends up in the runtime image, or null. */
function imagePathOf(repoPath: string, copies: readonly CopyLine[], buildWorkdir: string): string | null {
  for (const copy of copies) {
    for (const source of copy.sources) {
      // Build stage: `COPY . .` then `npm run build` in its WORKDIR, so /app/<x> is the repository's <x> after a build.
      const sourceInRepo = copy.from === null ? posix.normalize(source) : posix.relative(buildWorkdir, source);
      if (sourceInRepo.startsWith('..')) continue;
      const intoDirectory = copy.destination.endsWith('/') || copy.sources.length > 1;
      const base = sourceInRepo === '.' ? '' : sourceInRepo;
      if (repoPath === base || repoPath.startsWith(`${base}/`) || base === '') {
        const rest = base === '' ? repoPath : repoPath.slice(base.length).replace(/^\//, '');
        const target = intoDirectory ? posix.join(copy.destination, posix.basename(base), rest) : posix.join(copy.destination, rest);
        return target;
      }
    }
  }
  return null;
}

interface RuntimeReads {
  /** Compiled modules reached from dist/server/main.js (repository-relative). */
  modules: string[];
  /** Paths those modules read relative to themselves (`new URL('...', import.meta.url)`) that exist after a build. */
  files: string[];
  /** Packages imported by those modules. */
  packages: string[];
}

/** What the compiled server reads at run time, by following its imports from dist/server/main.js. */
function runtimeReads(): RuntimeReads {
  const modules = new Set<string>();
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(ROOT, 'dist', 'server', 'main.js')];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    const key = relative(ROOT, file);
    if (modules.has(key)) continue;
    modules.add(key);
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)].map(
      (m) => (m[1] ?? m[2] ?? m[3]) as string,
    );
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string));
      }
    }
    // Files read relative to the module: `new URL('../../public/', import.meta.url)`, and the candidates of a
    // loop like metrics.ts's over ['../../../package.json', ...]. Any relative path literal that exists counts.
    if (/import\.meta\.url/.test(text)) {
      for (const m of text.matchAll(/['"](\.\.?\/[^'"\s]*)['"]/g)) {
        const target = resolve(dirname(file), m[1] as string);
        if (existsSync(target) && !(m[1] as string).endsWith('.js')) files.add(relative(ROOT, target));
      }
    }
  }
  return { modules: [...modules].sort(), files: [...files].sort(), packages: [...packages].sort() };
}

/** Every file under a path (the path itself when it is a file), repository-relative. */
function expand(repoPath: string): string[] {
  const full = join(ROOT, repoPath);
  if (!statSync(full).isDirectory()) return [repoPath];
  return readdirRecursive(full).map((path) => relative(ROOT, path));
}

function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? readdirRecursive(join(dir, entry.name)) : [join(dir, entry.name)]));
}

/**
 * The runtime image's /app, built from the COPY lines only (`skip`: repository paths left out, to
 * play an older Dockerfile), with the production dependencies linked in (npm ci --omit=dev).
 */
async function assembleImage(skip: readonly string[] = []): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'roomcast-image-'));
  const workdir = (runtime as (typeof stages)[number]).workdir;
  for (const copy of copyLines(runtime as (typeof stages)[number])) {
    for (const source of copy.sources) {
      const repoPath = copy.from === null ? posix.normalize(source) : posix.relative((build as (typeof stages)[number]).workdir, source);
      if (skip.includes(repoPath)) continue;
      const intoDirectory = copy.destination.endsWith('/') || copy.sources.length > 1;
      const target = intoDirectory ? posix.join(copy.destination, posix.basename(repoPath)) : copy.destination;
      await cp(join(ROOT, repoPath), join(root, target), { recursive: true });
    }
  }
  await symlink(await realpath(join(ROOT, 'node_modules')), join(root, workdir, 'node_modules'), 'dir');
  return join(root, workdir);
}

/** The image's ENV lines, as `node` in the container sees them. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of (runtime as (typeof stages)[number]).instructions) {
    if (keyword !== 'ENV') continue;
    for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return env;
}

async function runImage(app: string, env: Record<string, string>): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  // The stage's own CMD (a HEALTHCHECK's CMD is part of its HEALTHCHECK instruction).
  const cmd = JSON.parse((runtime as (typeof stages)[number]).instructions.filter((i) => i.keyword === 'CMD').pop()?.args ?? '[]') as string[];
  expect(cmd[0]).to.equal('node');
  const child = startNode(join(app, cmd[1] as string), { ...imageEnv(), ...env, HOST: '127.0.0.1', PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url };
    if (child.process.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway in the assembled image did not start: ${child.output().stderr}${child.output().stdout}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the runtime image layout (deploy/Dockerfile)', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(resolve(dir, '..'), { recursive: true, force: true });
  });

  it('COPYs every file the server reads at run time: its modules, the demo and bundle, the status page, package.json', () => {
    expect(runtime?.workdir).to.equal('/app');
    const copies = copyLines(runtime as (typeof stages)[number]);
    const reads = runtimeReads();
    // The reads this test must see, or the walk itself is broken.
    expect(reads.modules).to.include.members(['dist/server/main.js', 'dist/server/http/app.js']);
    expect(reads.modules.some((m) => m.startsWith('dist/shared/'))).to.equal(true);
    expect(reads.files).to.include.members(['dist/public', 'dist/status', 'package.json']);

    const missing: string[] = [];
    for (const path of [...reads.modules, ...reads.files.flatMap(expand)]) {
      const inImage = imagePathOf(path, copies, (build as (typeof stages)[number]).workdir);
      if (inImage !== `/app/${path}`) missing.push(`${path} (${inImage ?? 'not copied'})`);
    }
    expect(missing, 'files the server reads that the runtime image lacks').to.deep.equal([]);
    for (const file of ['dist/public/index.html', 'dist/public/roomcast.js', 'dist/status/index.html', 'dist/status/app.js']) {
      expect(imagePathOf(file, copies, '/app'), file).to.equal(`/app/${file}`);
    }

    // `npm ci --omit=dev` installs dependencies only: a package the server imports must be one.
    const pkg = JSON.parse(read(join(ROOT, 'package.json'))) as { dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
    const installed = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    expect(reads.packages.filter((name) => !installed.has(name)), 'imported at run time but not a production dependency').to.deep.equal([]);
  });

  it('assembled from the COPY lines alone, the gateway serves /status (ADMIN_TOKEN), the demo and the bundle, and warns of nothing missing', async () => {
    const app = await assembleImage();
    dirs.push(app);
    const { child, url } = await runImage(app, { JWT_SECRET: TEST_JWT_SECRET, ADMIN_TOKEN, LOG_LEVEL: 'warn' });
    try {
      const status = await fetch(`${url}/status`);
      expect(status.status).to.equal(200);
      expect(await status.text()).to.match(/<html/i);
      expect((await fetch(`${url}/status/app.js`)).status).to.equal(200);
      expect((await fetch(`${url}/`)).status).to.equal(200);
      expect((await fetch(`${url}/roomcast.js`)).status).to.equal(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const version = (JSON.parse(read(join(ROOT, 'package.json'))) as { version: string }).version;
      expect(metrics, 'roomcast_build_info carries the package version (package.json is in the image)').to.include(`version="${version}"`);
    } finally {
      child.kill('SIGTERM');
      await child.exited(15_000);
    }
    expect(child.output().stdout + child.output().stderr).not.to.match(/missing/);
  });

  it('a layout without the status page (the image before dist/status was copied): the gateway warns at start, and /status answers 404', async () => {
    const app = await assembleImage(['dist/status']);
    dirs.push(app);
    expect(existsSync(join(app, 'dist', 'status'))).to.equal(false);
    const { child, url } = await runImage(app, { JWT_SECRET: TEST_JWT_SECRET, ADMIN_TOKEN, LOG_LEVEL: 'warn' });
    try {
      expect((await fetch(`${url}/status`)).status).to.equal(404);
    } finally {
      child.kill('SIGTERM');
      await child.exited(15_000);
    }
    const log = child.output().stdout + child.output().stderr;
    expect(log).to.match(/ADMIN_TOKEN is set but the status page files are missing/);
    expect(log).not.to.include(ADMIN_TOKEN);
  });
});
